"""On PostgreSQL the TUI's models follow pushed changes: no timer, a refresh per commit."""

from __future__ import annotations

import asyncio
from typing import Any

from swarmdeck.store.postgres import PostgresStore
from swarmdeck.tui.model import Models, PollResult
from swarmdeck.tui.refresh import ModelRefresher
from tests.helpers import raise_escalation


def no_timer(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a store that pushes its changes needs no poll timer")


async def test_models_follow_a_pushing_store_without_polling(pg_url: str) -> None:
    deck, manager = await PostgresStore.open(pg_url), await PostgresStore.open(pg_url)
    refresher = ModelRefresher(Models(deck))
    seen: list[PollResult] = []
    refresher.subscribe(seen.append)
    try:
        await refresher.refresh()
        refresher.start(no_timer, 0.15)
        loop = asyncio.get_running_loop()
        committed = loop.time()
        await manager.append([raise_escalation("E1")], origin="bots")
        while not any(r.inbox_changed for r in seen):
            assert loop.time() - committed < 1.0, "the inbox did not follow within a second"
            await asyncio.sleep(0.01)
        assert list(refresher.models.inbox.items) == ["E1"]
    finally:
        await refresher.stop()
        await deck.close()
        await manager.close()
