"""The model refresh loop: listeners in order, overlapping ticks dropped, errors kept."""

from __future__ import annotations

import asyncio

from swarmdeck.store.db import Store
from swarmdeck.store.errors import StoreError
from swarmdeck.tui.model import Models, PollResult
from swarmdeck.tui.refresh import ModelRefresher
from tests.helpers.tui import frozen


class GatedModels(Models):
    """Models whose poll waits at a gate, so a test can hold a refresh in flight."""

    def __init__(self) -> None:
        super().__init__(None, clock=frozen)
        self.gate = asyncio.Event()
        self.polls = 0
        self.fail: Exception | None = None

    async def poll(self, *, force_workflow: bool = False) -> PollResult:
        self.polls += 1
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return PollResult(rev=self.polls, agents_changed=True)


def error(refresher: ModelRefresher) -> str | None:
    """Read afresh (each poll may change it)."""
    return refresher.error


async def test_listeners_hear_each_refresh_in_subscription_order() -> None:
    models = GatedModels()
    models.gate.set()
    refresher = ModelRefresher(models)
    heard: list[tuple[str, int]] = []
    refresher.subscribe(lambda r: heard.append(("first", r.rev)))
    refresher.subscribe(lambda r: heard.append(("second", r.rev)))
    result = await refresher.refresh()
    assert result is not None and result.agents_changed
    assert heard == [("first", 1), ("second", 1)]


async def test_a_tick_during_a_refresh_is_dropped_an_explicit_refresh_waits() -> None:
    models = GatedModels()
    refresher = ModelRefresher(models)
    results: list[int] = []
    refresher.subscribe(lambda r: results.append(r.rev))
    running = asyncio.create_task(refresher.tick())
    await asyncio.sleep(0)
    assert models.polls == 1
    await refresher.tick()  # the timer fires again while the first poll still runs
    assert models.polls == 1  # dropped: polls never pile up
    after = asyncio.create_task(refresher.refresh())  # a decision wants fresh data
    await asyncio.sleep(0)
    assert models.polls == 1  # it waits for the running poll ...
    models.gate.set()
    await running
    assert (await after) is not None
    assert models.polls == 2 and results == [1, 2]  # ... then reads again


async def test_a_store_error_is_kept_for_the_status_line_until_a_poll_succeeds() -> None:
    models = GatedModels()
    models.gate.set()
    refresher = ModelRefresher(models)
    heard: list[PollResult] = []
    refresher.subscribe(heard.append)
    models.fail = StoreError("database is locked")
    assert await refresher.refresh() is None
    assert error(refresher) == "database is locked"
    models.fail = OSError("disk I/O error")
    await refresher.tick()
    assert error(refresher) == "store: disk I/O error"
    assert not heard
    models.fail = None
    await refresher.tick()
    assert error(refresher) is None and len(heard) == 1


async def test_select_workflow_pins_the_choice_through_the_loop(swarm_store: Store) -> None:
    refresher = ModelRefresher(Models(swarm_store, clock=frozen))
    changed: list[bool] = []
    refresher.subscribe(lambda r: changed.append(r.graph_changed))
    await refresher.refresh(force_workflow=True)
    others = [
        w.name for w in refresher.models.workflows if w.name != refresher.models.workflow_name
    ]
    result = await refresher.select_workflow(others[0])
    assert result is not None and result.graph_changed and changed[-1]
    assert refresher.models.workflow_pinned
    assert refresher.models.graph is not None and refresher.models.graph.name == others[0]
