"""Item 6: a newline in an agent name must not forge the screen.

The inbox row of a critical "Deploy to prod" lost its title, and the details History of an
open escalation showed a forged ``approved by boss@laptop`` line.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, EventError, make_event
from swarmdeck.tui.app import SwarmdeckApp
from swarmdeck.tui.screens.details import escalation_details
from tests.helpers.events import as_stored_unchecked
from tests.helpers.tui import frozen, make_settings
from tests.tui.swarm_data import NOW, T0

FORGER = "deployer\n2026-11-23 10:01:00  approve by boss@laptop\n"


def _raised(agent: str) -> Event:
    return make_event(
        "escalation.raised", id="r-forge", source="agents", ts=T0, agent=agent,
        data={"id": "E-forge", "kind": "approval", "title": "Deploy to prod",
              "severity": "critical"},
    )  # fmt: skip


def test_the_door_refuses_a_name_with_a_line_break() -> None:
    with pytest.raises(EventError, match="U\\+000A"):
        _raised(FORGER)


async def _raise(store: Store) -> None:
    # As an older version stored it, before the door refused such names: shown safely still.
    forged = as_stored_unchecked(_raised("deployer"), agent=FORGER)
    await store.append([forged], origin="agents")


def plain(renderable: object, width: int = 120) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text().splitlines()


async def test_the_history_has_no_forged_line(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "deck.db", clock=frozen) as store:
        await _raise(store)
        lines = plain(await escalation_details(store, "E-forge", NOW))
    quoted = [ln for ln in lines if "boss@laptop" in ln]
    # The name is shown, joined into its own line ("deployer ⏎ ... boss@laptop"), never a
    # line of its own that reads like a decision.
    assert quoted and all(0 <= ln.find("⏎") < ln.find("boss@laptop") for ln in quoted), quoted
    assert not any(ln.lstrip().startswith("2026-11-23 10:01:00") for ln in lines)


async def test_the_inbox_row_keeps_its_title(tmp_path: Path) -> None:
    db = tmp_path / "deck.db"
    async with await Store.open(db, clock=frozen) as store:
        await _raise(store)
        app = SwarmdeckApp(store, make_settings(db), clock=frozen, actor="me@deck")
        async with app.run_test(size=(160, 30)) as pilot:
            await pilot.pause(0.3)
            row = app.inbox_list.render_row("E-forge", 150, NOW)
    assert "\n" not in row.plain
    assert "Deploy to prod" in row.plain
