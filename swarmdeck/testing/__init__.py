"""Test kit for adapter authors: swarmdeck's adapter contract, and helpers to drive an adapter.

Three ways in, from the least to the most work:

* :class:`AdapterContract`: subclass it in your test suite, set ``adapter`` and
  ``options()``, and pytest runs every check on your adapter.
* The ``check_*`` functions of :mod:`swarmdeck.testing.checks`, with an
  :class:`AdapterCase`, to parametrise over several adapters or pick some checks.
* :func:`build` and :func:`drive` (:mod:`swarmdeck.testing.driving`), for your own
  tests: they run an adapter against a real store the way swarmdeck's supervisor does.

Needs pytest (``pip install 'swarmdeck[testing]'``). Never imports Textual.
"""

import pytest

# Show the values in a failed check's assertion, as in the caller's own tests.
pytest.register_assert_rewrite("swarmdeck.testing.checks", "swarmdeck.testing.driving")

from swarmdeck.testing.checks import (  # noqa: E402
    AdapterCase,
    check_cancel,
    check_capabilities,
    check_deliver,
    check_delivery_errors,
    check_events,
    check_metadata,
    check_options,
    check_restart,
)
from swarmdeck.testing.driving import (  # noqa: E402
    Driven,
    Health,
    apply,
    build,
    drive,
    has_escalation,
    make_context,
)
from swarmdeck.testing.suite import AdapterContract  # noqa: E402

__all__ = [
    "AdapterCase",
    "AdapterContract",
    "Driven",
    "Health",
    "apply",
    "build",
    "check_cancel",
    "check_capabilities",
    "check_deliver",
    "check_delivery_errors",
    "check_events",
    "check_metadata",
    "check_options",
    "check_restart",
    "drive",
    "has_escalation",
    "make_context",
]
