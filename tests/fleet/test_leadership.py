"""The lease loop: takeover after a leader dies, fencing with LeaseLost, release on shutdown.

Two supervisors on one database stand for two collectors on two hosts (each with its
own store connection and its own collector id); their leases are short here (ttl
0.6 s, renewed every 0.2 s) so a takeover takes a second, not ten.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import ClassVar

import pytest

from swarmdeck.adapters.base import Adapter, AdapterOptions, Batch
from swarmdeck.adapters.leadership import Leadership, collector_id
from swarmdeck.adapters.supervisor import Instance, Supervisor, _Pending
from swarmdeck.store.db import Store
from swarmdeck.store.errors import LeaseLost
from swarmdeck.store.events import Event
from swarmdeck.store.models import Delivery
from swarmdeck.store.opening import open_store
from tests.helpers import ev, raise_escalation

TTL, RENEW = 0.6, 0.2


class Source(Adapter):
    """Reads numbered lines from a shared list from its saved position, like a file tail.

    ``SOURCE`` grows while it runs; the position goes into the store with the events,
    so whoever leads next starts exactly where the last commit left off.
    """

    type_name = "source"
    SOURCE: ClassVar[list[int]] = []

    async def events(self) -> AsyncIterator[Event | Batch]:
        states = await self.context.store.get_states(self.name)
        position = int(states.get("offset", "0"))
        while True:
            lines = type(self).SOURCE[position : position + 20]
            if lines:
                position += len(lines)
                yield Batch(
                    events=[
                        ev("log", source="src", id=f"line-{n}", agent="a", data={"text": str(n)})
                        for n in lines
                    ],
                    position={"offset": str(position)},
                )
            await asyncio.sleep(0.01)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> float:
    """Poll until ``check`` holds; the seconds it took."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not await check():
        if loop.time() - start > timeout:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
    return loop.time() - start


def collector(store: Store) -> tuple[Supervisor, Leadership]:
    leadership = Leadership(store, collector_id(), ttl=TTL, renew=RENEW)
    sup = Supervisor(
        store,
        [Instance("feed", Source, AdapterOptions())],
        delivery_interval=0.02,
        batch_window=0.01,
        rng=random.Random(1),
        leadership=leadership,
    )
    return sup, leadership


async def stored_lines(store: Store) -> list[str]:
    return [e.id for e in await store.events_since(0, limit=100_000)]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, db_path: Path) -> str | Path:
    """A fresh database of each backend."""
    return db_path if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def pair(database: str | Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two connections to one database, as two collectors on two hosts have."""
    first = await open_store(database)
    second = await open_store(database)
    try:
        yield first, second
    finally:
        await second.close()
        await first.close()


async def test_one_leader_and_a_follower_that_takes_over_when_it_dies(
    pair: tuple[Store, Store],
) -> None:
    store, second = pair
    Source.SOURCE = list(range(200))
    a, lead_a = collector(store)
    b, lead_b = collector(second)
    tasks = [asyncio.create_task(x.run()) for x in (a, b, lead_a)]
    await until(lambda: _count(store, 200))
    await asyncio.sleep(RENEW * 2)  # b has tried, and was refused, a few times
    tasks.append(asyncio.create_task(lead_b.run()))
    await asyncio.sleep(RENEW * 2)
    assert lead_a.leads("feed") and not lead_b.leads("feed")
    assert "feed" in a.adapters and "feed" not in b.adapters
    [lease] = await store.leases()
    assert (lease.name, lease.holder) == ("feed", lead_a.holder)

    # The leader's host dies: no more renewals, nothing released.
    tasks[2].cancel()  # its own finally would release; stop the renewals the hard way:
    lead_a.store = _Unreachable()
    Source.SOURCE.extend(range(200, 400))
    took = await until(lambda: _has_lead(lead_b))
    assert took < TTL + RENEW + 0.5
    await until(lambda: _count(store, 400))
    assert lead_b.terms["feed"].epoch == lease.epoch + 1
    # The deposed one stopped its adapter when its term ran out.
    assert not lead_a.leads("feed") and "feed" not in a.adapters
    lines = await stored_lines(store)
    assert lines == [f"line-{n}" for n in range(400)]  # nothing lost, nothing twice
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _Unreachable:
    """A store a dead (or cut off) collector can no longer reach."""

    async def try_lead(self, name: str, holder: str, ttl: float) -> int | None:
        await asyncio.sleep(3600)
        return None

    async def release_lead(self, name: str, holder: str) -> None:
        await asyncio.sleep(3600)


async def _has_lead(leadership: Leadership) -> bool:
    return leadership.leads("feed")


async def _count(store: Store, n: int) -> bool:
    return len(await stored_lines(store)) >= n


async def test_a_write_under_a_lost_lease_is_refused_and_stops_the_adapter(
    pair: tuple[Store, Store],
) -> None:
    store, second = pair
    Source.SOURCE = list(range(50))
    # A collector that was paused (a stopped VM, a GC pause): its own clock has not yet
    # told it the term is over, so it goes on reading and writing.
    lead_a = Leadership(store, collector_id(), ttl=TTL, renew=RENEW, monotonic=lambda: 0.0)
    a = Supervisor(
        store, [Instance("feed", Source, AdapterOptions())], batch_window=0.01, leadership=lead_a
    )
    await lead_a.round()
    term = lead_a.terms["feed"]
    task = asyncio.create_task(a.run())
    await until(lambda: _count(store, 50))
    # Meanwhile its lease expired in the store and another collector took it.
    await asyncio.sleep(TTL)
    thief = await second.try_lead("feed", "thief:1:abc", 60.0)
    assert thief == term.epoch + 1
    with pytest.raises(LeaseLost):
        await store.append_with_state(
            [ev("log", source="src", id="late", agent="a", data={"text": "late"})],
            origin="feed",
            state={"offset": "999"},
            lease=term.lease,
        )
    assert await store.get_states("feed") == {"offset": "50"}
    assert "late" not in await stored_lines(store)

    # What the adapter reads next is refused at commit: dropped, and the adapter stopped.
    Source.SOURCE.extend(range(50, 60))
    await until(lambda: _not_running(a))
    assert not lead_a.leads("feed") and not term.active
    assert len(await stored_lines(store)) == 50
    assert await store.get_states("feed") == {"offset": "50"}  # the next leader starts here
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _not_running(sup: Supervisor) -> bool:
    return "feed" not in sup.adapters


async def test_the_commit_a_push_endpoint_uses_is_fenced_too(pair: tuple[Store, Store]) -> None:
    store, _ = pair
    lead = Leadership(store, collector_id(), ttl=TTL, renew=RENEW)
    sup = Supervisor(store, [], leadership=lead)
    await lead.round()
    lead.want("push")
    await lead.round()
    term = lead.terms["push"]
    commit = sup.commit_for(Instance("push", Source, AdapterOptions()), term)
    result = await commit(
        Batch(events=[ev("log", source="p", id="one", agent="x", data={"text": "1"})])
    )
    assert (result.accepted, result.duplicates) == (1, 0)
    assert (
        await commit(Batch(events=[ev("log", source="p", id="one", agent="x", data={"text": "1"})]))
    ).duplicates
    await store.release_lead("push", lead.holder)
    assert await store.try_lead("push", "other:2:def", 60.0) == term.epoch + 1
    with pytest.raises(LeaseLost):
        await commit(Batch(events=[ev("log", source="p", id="two", agent="x", data={"text": "2"})]))
    assert not lead.leads("push")  # the refusal ended the term at once
    with pytest.raises(LeaseLost):  # and the next call does not even try the store
        await commit(
            Batch(events=[ev("log", source="p", id="three", agent="x", data={"text": "3"})])
        )


async def test_shutdown_releases_the_leases_so_the_follower_takes_over_at_once(
    pair: tuple[Store, Store],
) -> None:
    store, second = pair
    Source.SOURCE = list(range(30))
    a, lead_a = collector(store)
    b, lead_b = collector(second)
    tasks = [asyncio.create_task(x.run()) for x in (a, lead_a)]
    await until(lambda: _count(store, 30))
    follower = [asyncio.create_task(x.run()) for x in (b, lead_b)]
    await asyncio.sleep(RENEW)
    assert not lead_b.leads("feed")
    for t in tasks:  # a clean stop: the supervisor flushes, then the leases go
        t.cancel()
    stopped = time.monotonic()
    await asyncio.gather(*tasks, return_exceptions=True)
    [lease] = await store.leases()
    released = lease.holder == lead_a.holder and lease.expires_ts <= time.time()
    assert released or lease.holder == lead_b.holder  # released, or already taken over
    Source.SOURCE.extend(range(30, 40))
    await until(lambda: _has_lead(lead_b))
    assert time.monotonic() - stopped <= RENEW + 0.3  # the next round, not a whole ttl
    await until(lambda: _count(store, 40))
    assert await stored_lines(store) == [f"line-{n}" for n in range(40)]
    for t in follower:
        t.cancel()
    await asyncio.gather(*follower, return_exceptions=True)


async def test_a_renewal_that_hangs_ends_the_term_before_the_lease_can_move(
    store: Store,
) -> None:
    clock = [100.0]
    lead = Leadership(store, "me:1:aaa", ["feed"], ttl=6.0, renew=2.0, monotonic=lambda: clock[0])
    await lead.round()
    term = lead.terms["feed"]
    assert term.active and term.valid_until == 106.0
    clock[0] = 105.9
    lead.expire()
    assert lead.leads("feed")
    clock[0] = 106.0  # the store's own expiry is at least this late
    lead.expire()
    assert term.ended.is_set() and not lead.leads("feed")


def test_renewal_must_be_shorter_than_the_lease() -> None:
    with pytest.raises(ValueError, match="shorter than ttl"):
        Leadership(_Unreachable(), "me", ttl=2.0, renew=2.0)


class BothLead:
    """A split brain: every collector is told it leads (what the claims must survive)."""

    async def try_lead(self, name: str, holder: str, ttl: float) -> int | None:
        return 1

    async def release_lead(self, name: str, holder: str) -> None:
        pass


class SlowDeliverer(Adapter):
    """Two-way; each delivery takes a while, so both collectors poll meanwhile."""

    type_name = "slow"
    two_way = True
    delivered: ClassVar[list[tuple[int, int]]] = []

    async def events(self) -> AsyncIterator[Event | Batch]:
        await asyncio.Event().wait()
        yield Batch()  # never reached: this adapter only delivers

    async def deliver(self, delivery: Delivery) -> None:
        await asyncio.sleep(0.3)
        type(self).delivered.append((id(self.context.store), delivery.decision.id))


async def test_a_decision_is_delivered_once_even_when_two_collectors_think_they_lead(
    pair: tuple[Store, Store],
) -> None:
    store, second = pair
    SlowDeliverer.delivered = []
    sups = [
        Supervisor(
            s,
            [Instance("agents", SlowDeliverer, AdapterOptions())],
            delivery_interval=0.01,
            leadership=Leadership(BothLead(), collector_id(), ttl=TTL, renew=RENEW),
        )
        for s in (store, second)
    ]
    tasks = [asyncio.create_task(sup.run()) for sup in sups]
    for sup in sups:
        tasks.append(asyncio.create_task(sup.leadership.run()))
    await until(lambda: _both_running(sups))
    await store.append([raise_escalation("E-once")], origin="agents")
    decision = await second.decide("E-once", "approve", actor="ana", host="laptop")

    async def delivered() -> bool:
        return (await store.escalation("E-once")).delivery == "delivered"

    await until(delivered)
    await asyncio.sleep(0.5)  # time for a second delivery, if a claim let one through
    assert [d for _, d in SlowDeliverer.delivered] == [decision.id]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _both_running(sups: list[Supervisor]) -> bool:
    return all(sup.states.get("agents") == "running" for sup in sups)


async def test_a_batch_read_in_a_term_that_ended_is_not_stored(pair: tuple[Store, Store]) -> None:
    store, _ = pair
    lead = Leadership(store, collector_id(), ["feed"], ttl=TTL, renew=RENEW)
    sup = Supervisor(store, [Instance("feed", Source, AdapterOptions())], leadership=lead)
    await lead.round()
    term = lead.terms["feed"]
    # The term ended here (renewals failed for a whole ttl) though the store still names
    # this collector: what it read then must not move the position under its next term.
    lead.end(term, "renewals failed")
    late = ev("log", source="src", id="late", agent="a", data={"text": "late"})
    await sup._commit({("feed", id(term)): _Pending(term, [late], {"offset": "9"})})
    assert await stored_lines(store) == []
    assert await store.get_states("feed") == {}
    await lead.round()  # leading again, same epoch: a new term, and it writes
    again = lead.terms["feed"]
    assert again is not term and again.epoch == term.epoch
    await sup._commit({("feed", id(again)): _Pending(again, [late], {"offset": "9"})})
    assert await stored_lines(store) == ["late"]
