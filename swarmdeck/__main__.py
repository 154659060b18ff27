"""``python -m swarmdeck``: the same as the ``swarmdeck`` command."""

from swarmdeck.cli import main

main()
