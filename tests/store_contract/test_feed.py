"""Contract: rev and the change feed tell a reader what changed; retention keeps projections."""

from __future__ import annotations

import asyncio

from swarmdeck.store.governance import set_escalation
from tests.helpers import ev, raise_escalation
from tests.store_contract.harness import StoreFactory


async def test_change_feed_and_rev(store_factory: StoreFactory) -> None:
    store = await store_factory()
    rev0 = await store.rev()
    r = await store.append(
        [ev("log", agent="a", data={"text": str(i)}) for i in range(3)], origin="o"
    )
    assert r.rev == await store.rev() > rev0
    feed = await store.events_since(0)
    assert [e.data["text"] for e in feed] == ["0", "1", "2"]
    assert [e.seq for e in feed] == sorted(e.seq for e in feed)
    assert [e.data["text"] for e in await store.events_since(feed[1].seq)] == ["2"]
    assert await store.last_seq() == feed[-1].seq
    assert [a.name for a in await store.agents(since_rev=rev0)] == ["a"]
    assert await store.agents(since_rev=r.rev) == []


async def test_the_feed_filters_by_kind_position_and_time(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("log", agent="a", data={"text": "early"}, offset=0),
            ev("task.failed", task="T1", agent="a", data={"error": "x"}, offset=10),
            ev("log", agent="a", data={"text": "late"}, offset=20),
            ev("task.failed", task="T2", agent="a", data={"error": "y"}, offset=30),
        ],
        origin="o",
    )
    every = await store.events_since(0)
    failures = await store.events_since(0, kinds=["task.failed"])
    assert [e.task for e in failures] == ["T1", "T2"]
    assert [
        e.task for e in await store.events_since(0, kinds=["task.failed"], upto=every[2].seq)
    ] == ["T1"]
    assert [e.data.get("text") for e in await store.events_since(0, since_ts=every[2].ts)] == [
        "late",
        None,
    ]
    assert await store.events_since(0, kinds=[]) == []
    assert len(await store.events_since(0, limit=2)) == 2


async def test_recent_events_of_an_agent_or_a_task_newest_first(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("log", agent="a", task="T1", data={"text": "1"}, offset=1),
            ev("log", agent="b", task="T2", data={"text": "2"}, offset=2),
            ev("log", agent="a", task="T2", data={"text": "3"}, offset=3),
        ],
        origin="o",
    )
    assert [e.data["text"] for e in await store.recent_events(agent="a")] == ["3", "1"]
    assert [e.data["text"] for e in await store.recent_events(task="T2")] == ["3", "2"]
    assert [e.data["text"] for e in await store.recent_events(limit=1)] == ["3"]


async def test_every_kind_of_change_moves_rev(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E1"), raise_escalation("E2")], origin="bots")
    seen = await store.rev()

    async def moved() -> bool:
        nonlocal seen
        now = await store.rev()
        grew, seen = now > seen, now
        return grew

    await store.decide("E1", "approve", actor="me")
    assert await moved()
    assert [e.id for e in await store.escalations(since_rev=seen - 1)] == ["E1"]
    [due] = await store.due_deliveries()
    await store.delivery_failed(due.outbox_id, "busy", store.clock() + 60)
    assert await moved()
    assert [e.id for e in await store.escalations(since_rev=seen - 1)] == ["E1"]
    await store.set_health("bots", "http", "running")
    assert await moved()
    assert await set_escalation(store, "E2", actor="policy:x", action="policy.escalate",
                                severity="high")  # fmt: skip
    assert await moved()
    assert [e.id for e in await store.escalations(since_rev=seen - 1)] == ["E2"]


async def test_data_version_moves_when_another_connection_commits(
    store_factory: StoreFactory,
) -> None:
    waiter, manager = await store_factory(), await store_factory()
    before = await waiter.data_version()
    await manager.append([raise_escalation("E1")], origin="o")
    assert await waiter.data_version() != before


async def test_retention_keeps_projections_and_the_newest_event(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append(
        [ev("log", agent="a", data={"text": str(i)}, offset=i) for i in range(10)], origin="o"
    )
    feed = await store.events_since(0)
    deleted = await store.prune_events(feed[5].ts)
    assert deleted == 5
    assert [e.data["text"] for e in await store.events_since(0)] == [str(i) for i in range(5, 10)]
    assert (await store.agent("a")).events == 10
    # Even a cut after everything keeps the newest event, so last_seq never moves back.
    assert await store.prune_events(feed[-1].ts + 3600) == 4
    assert await store.last_seq() == feed[-1].seq


async def test_wait_for_change_wakes_on_a_commit_elsewhere(store_factory: StoreFactory) -> None:
    waiter, writer = await store_factory(), await store_factory()
    start = await waiter.rev()
    assert await waiter.wait_for_change(start, timeout=0.05) == start  # times out, unchanged
    waiting = asyncio.create_task(waiter.wait_for_change(start, timeout=10))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    loop = asyncio.get_running_loop()
    committed = loop.time()
    await writer.append([raise_escalation("E1")], origin="o")
    rev = await asyncio.wait_for(waiting, 5)
    assert rev == await writer.rev() > start
    assert loop.time() - committed < 1.0
    # Already past: returns at once.
    assert await waiter.wait_for_change(start, timeout=10) == rev
