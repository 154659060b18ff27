"""The ``swarmdeck`` command: the TUI by default, and scriptable subcommands.

The entry point reads argv before it imports anything: ``swarmdeck hook <vendor>`` runs
on every tool call of every coding agent, so it takes its fast path
(:mod:`.hook_fast`, the standard library only) and never loads click, pydantic or the
store unless it has to. Everything else is the click group in :mod:`.root`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    from swarmdeck.cli.hook_fast import parse_hook_args

    hook = parse_hook_args(sys.argv[1:] if argv is None else list(argv))
    if hook is not None:
        from swarmdeck.cli.hook_fast import run

        run(hook)
    from swarmdeck.cli.root import main as root_main

    root_main(argv)


def __getattr__(name: str) -> object:
    """``swarmdeck.cli.cli`` and friends still name the click group (imported on use)."""
    if name in ("cli", "COMMANDS", "LazyGroup"):
        from swarmdeck.cli import root

        return getattr(root, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
