"""The adapter contract as a pytest base class: subclass it once per adapter.

::

    from pathlib import Path
    from swarmdeck.adapters.registry import load_adapter
    from swarmdeck.testing import AdapterContract

    class TestLinesAdapter(AdapterContract):
        adapter = load_adapter("lines")  # through the entry point, as swarmdeck loads it

        def options(self, tmp_path: Path) -> dict[str, object]:
            (tmp_path / "agent.log").write_text("hello\\n")
            return {"path": str(tmp_path / "agent.log")}

Each ``test_*`` method runs one check of :mod:`swarmdeck.testing.checks` (their
docstrings say what is required and why). The tests are plain functions that run their
own event loop, so no asyncio plugin is needed; override one to adapt it (an ``async
def`` override needs pytest-asyncio or anyio).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Coroutine
from pathlib import Path
from typing import Any, ClassVar

from swarmdeck.adapters.base import Adapter
from swarmdeck.testing import checks
from swarmdeck.testing.checks import AdapterCase


class AdapterContract:
    """Base class of an adapter's contract tests.

    Set :attr:`adapter` and implement :meth:`options`; implement the optional hooks
    when they apply. The class name of a subclass must start with ``Test`` for pytest
    to collect it.
    """

    #: The adapter class under test. Load it with ``load_adapter(type_name)`` to test
    #: the installed entry point too (the metadata test requires it either way).
    adapter: ClassVar[type[Adapter]]
    #: Seconds to wait for the adapter to emit.
    timeout: ClassVar[float] = 10.0

    def options(self, tmp_path: Path) -> dict[str, Any]:
        """Prepare the adapter's input under ``tmp_path``; return its raw options."""
        raise NotImplementedError(f"{type(self).__name__} must implement options(tmp_path)")

    def stimulate(self, tmp_path: Path, adapter: Adapter) -> Awaitable[None] | None:
        """Optional: make the running adapter emit (e.g. post to the port it serves).

        Called once ``events()`` has started. Needed when the input :meth:`options`
        prepared is not enough; a two-way adapter must emit an ``escalation.raised``.
        """
        return None

    def delivered_count(self, tmp_path: Path, adapter: Adapter) -> int:
        """Optional: how many times decisions took effect on the agent's side.

        Implement it for a two-way adapter to prove a repeated delivery acts once.
        """
        raise NotImplementedError

    def add_input(self, tmp_path: Path) -> None:
        """Optional: add input while the adapter is stopped (append lines, say).

        Implement it for an adapter that saves positions, to prove that a restart
        picks up what arrived in between.
        """
        raise NotImplementedError

    def case(self) -> AdapterCase:
        """This class as an :class:`AdapterCase` (only the hooks it implements)."""
        mine = type(self)
        return AdapterCase(
            id=self.adapter.type_name,
            adapter=self.adapter,
            options=self.options,
            stimulate=self.stimulate if _overrides(mine, "stimulate") else None,
            delivered_count=self.delivered_count if _overrides(mine, "delivered_count") else None,
            add_input=self.add_input if _overrides(mine, "add_input") else None,
            timeout=self.timeout,
        )

    # ------------------------------------------------------------------ the tests

    def test_options_are_strict_and_documented(self, tmp_path: Path) -> None:
        checks.check_options(self.case(), tmp_path)

    def test_metadata_and_entry_point(self) -> None:
        checks.check_metadata(self.case())

    def test_capability_flags_match_methods(self) -> None:
        checks.check_capabilities(self.case())

    def test_events_are_valid_and_stored(self, tmp_path: Path) -> None:
        _run(checks.check_events(self.case(), tmp_path))

    def test_redelivery_is_harmless(self, tmp_path: Path) -> None:
        _run(checks.check_deliver(self.case(), tmp_path))

    def test_failed_delivery_raises_delivery_error(self, tmp_path: Path) -> None:
        _run(checks.check_delivery_errors(self.case(), tmp_path))

    def test_cancel_is_clean(self, tmp_path: Path) -> None:
        _run(checks.check_cancel(self.case(), tmp_path))

    def test_restart_resumes_from_saved_position(self, tmp_path: Path) -> None:
        _run(checks.check_restart(self.case(), tmp_path))


def _overrides(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(AdapterContract, name)


def _run(check: Coroutine[Any, Any, object]) -> None:
    asyncio.run(check)
