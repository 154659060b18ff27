"""A key acts on the row the manager sees: across polls, repaints, races, marks and filters.
marks must be explained, and agent ids never reach the terminal raw."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from swarmdeck.store.db import SqliteStore
from swarmdeck.store.events import make_event
from swarmdeck.tui.app import SwarmdeckApp
from swarmdeck.tui.screens.modals import ConfirmScreen
from tests.helpers.events import as_stored_unchecked
from tests.helpers.tui import frozen, make_settings
from tests.tui.swarm_data import make_db


def toasts(app: SwarmdeckApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@asynccontextmanager
async def deck(
    tmp_path: Path, **app_options: Any
) -> AsyncIterator[tuple[SqliteStore, SwarmdeckApp, Pilot[Any]]]:
    """The fixed swarm in a fresh database, and the app on it at 120x40."""
    db = tmp_path / "deck.db"
    await make_db(db)
    async with await SqliteStore.open(db, clock=frozen) as store:
        app = SwarmdeckApp(store, make_settings(db), clock=frozen, actor="me@deck", **app_options)
        async with app.run_test(size=(120, 40)) as pilot:
            yield store, app, pilot


async def cursor_on(app: SwarmdeckApp, pilot: Pilot[Any], key: str) -> None:
    app.inbox_list.focus()
    app.inbox_list.move_to(app.models.inbox.index[key])
    await pilot.pause()


async def test_decided_elsewhere_under_the_cursor_is_not_replaced_by_the_next_row(
    tmp_path: Path,
) -> None:
    """Manager B decides the item under A's cursor; A's `a` must not approve the row that
    slid into its place (default poll rate), and A learns who decided."""
    async with deck(tmp_path) as (store, app, pilot):
        await cursor_on(app, pilot, "esc-db")
        async with await SqliteStore.open(store.path, clock=frozen) as other:
            await other.decide("esc-db", "reject", actor="bob@other", reason="mine")
        await pilot.pause(0.5)  # several polls and repaints while A still reads
        assert app.inbox_list.current == "esc-db"
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("already decided by bob@other" in t for t in toasts(app))
        assert (await store.escalation("esc-db")).decided_by == "bob@other"
        assert (await store.escalation("esc-hostile")).state == "open"


async def test_own_decision_brings_the_next_item_under_the_cursor(tmp_path: Path) -> None:
    async with deck(tmp_path) as (_store, app, pilot):
        order = app.models.inbox.order
        following = order[order.index("esc-db") + 1]
        await cursor_on(app, pilot, "esc-db")
        await pilot.press("a")
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert app.inbox_list.current == following


async def test_a_key_between_poll_and_repaint_acts_on_the_row_shown(tmp_path: Path) -> None:
    async with deck(tmp_path, poll_interval=3600, refresh_rate=0.001) as (store, app, pilot):
        await cursor_on(app, pilot, "esc-db")
        raised = make_event(
            "escalation.raised", id="enew", source="demo", agent="coder-1",
            ts=datetime.fromtimestamp(frozen(), UTC),
            data={"id": "esc-new", "kind": "approval", "title": "NEW", "severity": "critical"},
        )  # fmt: skip
        await store.append([raised], origin="demo")
        await app.poll()  # the list re-sorts; the 10 Hz repaint has not run yet
        await pilot.press("a")
        await app.workers.wait_for_complete()
        assert (await store.escalation("esc-db")).action == "approve"
        assert (await store.escalation("esc-new")).state == "open"


async def test_marks_always_confirm_and_include_those_a_filter_hides(tmp_path: Path) -> None:
    async with deck(tmp_path) as (store, app, pilot):
        await cursor_on(app, pilot, "esc-db")
        await pilot.press("space", "space")
        marked = sorted(app.inbox_list.marked)
        assert len(marked) == 2
        await pilot.press("slash", *"budget", "enter")
        await pilot.pause(0.3)
        await pilot.press("a")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmScreen)  # both listed, the hidden one too
        await pilot.press("escape")
        await pilot.pause()
        for key in marked:
            assert (await store.escalation(key)).state == "open"


async def test_one_mark_still_asks_before_deciding(tmp_path: Path) -> None:
    async with deck(tmp_path) as (store, app, pilot):
        await cursor_on(app, pilot, "esc-db")
        await pilot.press("space")  # marks esc-db; the cursor moves on
        await pilot.press("a")
        await pilot.pause(0.3)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert (await store.escalation("esc-db")).state == "open"


async def test_palette_cleans_agent_ids(tmp_path: Path) -> None:
    from swarmdeck.tui.palette import SwarmdeckCommands

    async with deck(tmp_path) as (store, app, _pilot):
        raised = as_stored_unchecked(  # the door refuses the escape now; older rows have it
            make_event(
                "escalation.raised", id="ehostile", source="demo", agent="coder-1",
                ts=datetime.fromtimestamp(frozen(), UTC),
                data={"id": "esc-x", "kind": "approval", "title": "hostile"},
            ),
            data={"id": "esc-\x1b]2;PWNED\x07-[b]x[/b]"},
        )  # fmt: skip
        await store.append([raised], origin="demo")
        await app.models.poll()
        helps = [help_text for _, _, help_text in SwarmdeckCommands(app.screen)._commands()]
        assert not any("\x1b" in h or "\x07" in h for h in helps)
        assert any("[b]x[/b]" in h.replace("\\", "") for h in helps)


async def test_own_decision_advances_even_if_a_repaint_runs_before_the_poll(
    tmp_path: Path,
) -> None:
    """The 10 Hz repaint may run between the decision and the poll that merges it (the
    poll can wait behind a timer poll): the cursor must still move on, not follow the
    decided item to the bottom of the list."""
    async with deck(tmp_path, poll_interval=3600, refresh_rate=0.001) as (store, app, pilot):
        order = app.models.inbox.order
        following = order[order.index("esc-db") + 1]
        await cursor_on(app, pilot, "esc-db")
        await store.decide("esc-db", "approve", actor="me@deck")
        app.inbox_list.advance_past(["esc-db"])
        app.flush()  # a repaint before the merge
        await app.poll()
        app.flush()
        assert app.inbox_list.current == following
