"""The supervisor with a real store: restarts, batching, positions, delivery and backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import ClassVar

import pytest

from swarmdeck.adapters.base import Adapter, AdapterOptions, Batch, DeliveryError, Rejected
from swarmdeck.adapters.supervisor import Instance, Supervisor, backoff_delay
from swarmdeck.store.db import SqliteStore
from swarmdeck.store.events import Event
from swarmdeck.store.models import Delivery
from tests.helpers import ev, raise_escalation


class Ticker(Adapter):
    """Emits one log event every few milliseconds, forever."""

    type_name = "ticker"

    async def events(self) -> AsyncIterator[Event | Batch]:
        n = 0
        while True:
            n += 1
            yield ev(
                "log",
                source=self.name,
                id=f"{self.name}-{n}",
                agent=self.name,
                data={"text": f"tick {n}"},
            )
            await asyncio.sleep(0.005)


class Crasher(Adapter):
    """Emits two events, then crashes; every run starts again (ids repeat: idempotent)."""

    type_name = "crasher"
    runs: ClassVar[int] = 0

    async def events(self) -> AsyncIterator[Event | Batch]:
        type(self).runs += 1
        yield ev(
            "log",
            source="crasher",
            id=f"run{type(self).runs}-a",
            agent="crasher",
            data={"text": "a"},
        )
        yield ev(
            "log",
            source="crasher",
            id=f"run{type(self).runs}-b",
            agent="crasher",
            data={"text": "b"},
        )
        raise RuntimeError("upstream closed the connection")


class Positioned(Adapter):
    """Yields one batch with a position and a rejected line, then ends."""

    type_name = "positioned"

    async def events(self) -> AsyncIterator[Event | Batch]:
        yield Batch(
            events=[ev("log", agent="p", data={"text": "x"})],
            position={"offset": "120"},
            rejected=[Rejected(location="f.jsonl:3", raw=b"{oops", error="not valid JSON")],
        )


class Flaky(Adapter):
    """Two-way: raises an escalation, fails the first deliveries, then succeeds."""

    type_name = "flaky"
    two_way = True
    failures_left: ClassVar[int] = 2
    delivered: ClassVar[list[int]] = []

    async def events(self) -> AsyncIterator[Event | Batch]:
        yield raise_escalation("E-flaky")
        await asyncio.Event().wait()

    async def deliver(self, delivery: Delivery) -> None:
        if type(self).failures_left > 0:
            type(self).failures_left -= 1
            raise DeliveryError("HTTP 503 from agent")
        type(self).delivered.append(delivery.decision.id)


class Refuser(Adapter):
    type_name = "refuser"
    two_way = True

    async def events(self) -> AsyncIterator[Event | Batch]:
        yield raise_escalation("E-refused")
        await asyncio.Event().wait()

    async def deliver(self, delivery: Delivery) -> None:
        raise DeliveryError("agent rejected the payload (HTTP 400)", retryable=False)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll an async condition (the store is the source of truth) until it holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def run_supervisor(sup: Supervisor) -> asyncio.Task[None]:
    return asyncio.create_task(sup.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def fast(store: SqliteStore, instances: list[Instance], **kw: object) -> Supervisor:
    return Supervisor(
        store,
        instances,
        restart_backoff_base=0.05,
        restart_backoff_max=0.2,
        delivery_interval=0.02,
        delivery_backoff_base=0.05,
        delivery_backoff_max=0.1,
        rng=random.Random(1),
        **kw,  # type: ignore[arg-type]
    )


async def test_a_crashing_adapter_restarts_while_others_keep_flowing(store: SqliteStore) -> None:
    Crasher.runs = 0
    sup = fast(
        store,
        [
            Instance("ticker", Ticker, AdapterOptions()),
            Instance("crasher", Crasher, AdapterOptions()),
        ],
    )
    task = await run_supervisor(sup)

    async def crashed_three_times() -> bool:
        health = {h.name: h for h in await store.adapter_health()}
        return "crasher" in health and health["crasher"].restarts >= 3

    await until(crashed_three_times)
    ticks_before = (await store.agent("ticker")).events
    await until(lambda: _more_ticks(store, ticks_before))
    await stop(task)
    health = {h.name: h for h in await store.adapter_health()}
    assert health["crasher"].last_error == "RuntimeError: upstream closed the connection"
    assert health["ticker"].restarts == 0
    # Events yielded before each crash were kept: two per run.
    assert (await store.agent("crasher")).events >= 6
    assert health["ticker"].state == "stopped"  # marked on shutdown


async def _more_ticks(store: SqliteStore, before: int) -> bool:
    return (await store.agent("ticker")).events > before + 5


async def test_positions_and_rejects_are_stored_with_the_batch(store: SqliteStore) -> None:
    sup = fast(store, [Instance("tail", Positioned, AdapterOptions())])
    task = await run_supervisor(sup)

    async def done() -> bool:
        return bool(await store.dead_letters()) and await store.get_states("tail") != {}

    await until(done)
    await stop(task)
    assert await store.get_states("tail") == {"offset": "120"}
    [letter] = await store.dead_letters()
    assert (letter.origin, letter.location, letter.raw) == ("tail", "f.jsonl:3", "{oops")
    assert {h.name: h.state for h in await store.adapter_health()}["tail"] == "stopped"


async def test_delivery_retries_with_backoff_then_succeeds(store: SqliteStore) -> None:
    Flaky.failures_left, Flaky.delivered = 2, []
    sup = fast(store, [Instance("flaky", Flaky, AdapterOptions())])
    task = await run_supervisor(sup)
    await until(lambda: _has_escalation(store, "E-flaky"))
    decision = await store.decide("E-flaky", "approve", actor="me")

    async def delivered() -> bool:
        return (await store.escalation("E-flaky")).delivery == "delivered"

    await until(delivered)
    await stop(task)
    assert Flaky.delivered == [decision.id]
    row = await store._fetchone("SELECT attempts, last_error FROM outbox")
    assert row == (3, None)


async def test_non_retryable_delivery_fails_at_once(store: SqliteStore) -> None:
    sup = fast(store, [Instance("refuser", Refuser, AdapterOptions())])
    task = await run_supervisor(sup)
    await until(lambda: _has_escalation(store, "E-refused"))
    await store.decide("E-refused", "reject", actor="me", reason="no")

    async def failed() -> bool:
        return (await store.escalation("E-refused")).delivery == "failed"

    await until(failed)
    await stop(task)
    esc = await store.escalation("E-refused")
    assert esc.delivery_error == "agent rejected the payload (HTTP 400)"


async def test_decisions_wait_for_their_adapter(store: SqliteStore) -> None:
    """A decision for an adapter that is not running stays pending, not lost or failed."""
    await store.append([raise_escalation("E-away")], origin="absent")
    await store.decide("E-away", "approve", actor="me")
    sup = fast(store, [Instance("ticker", Ticker, AdapterOptions())])
    task = await run_supervisor(sup)
    await sup.wait_committed()
    await stop(task)
    assert (await store.escalation("E-away")).delivery == "pending"


async def test_writer_keeps_the_batch_while_the_store_is_locked(
    store: SqliteStore, db_path: object
) -> None:
    """Another process holding the write lock delays ingest; nothing is dropped."""
    import sqlite3

    blocker = sqlite3.connect(str(db_path), timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    await store._conn.execute("PRAGMA busy_timeout = 50")  # SQLite-specific: fail fast
    sup = fast(store, [Instance("ticker", Ticker, AdapterOptions())])
    task = await run_supervisor(sup)
    await asyncio.sleep(0.3)  # the writer is retrying against the lock meanwhile
    blocker.execute("COMMIT")
    blocker.close()
    await until(lambda: _more_ticks_from_zero(store))
    await stop(task)
    feed = await store.events_since(0, limit=100_000)
    ids = [int(e.id.split("-")[1]) for e in feed]
    assert ids == list(range(1, len(ids) + 1))  # contiguous: no tick lost while locked


async def _more_ticks_from_zero(store: SqliteStore) -> bool:
    try:
        return (await store.agent("ticker")).events > 20
    except Exception:
        return False


async def _has_escalation(store: SqliteStore, esc_id: str) -> bool:
    return any(e.id == esc_id for e in await store.escalations())


def test_backoff_grows_caps_and_jitters() -> None:
    rng = random.Random(3)
    delays = [backoff_delay(n, 1.0, 30.0, rng) for n in range(1, 10)]
    assert 0.5 <= delays[0] <= 1.0
    assert 4.0 <= delays[3] <= 8.0
    assert all(15.0 <= d <= 30.0 for d in delays[5:])
    assert len({round(d, 6) for d in delays}) == len(delays)  # jittered, not lockstep


def test_instance_names_must_be_unique(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="unique"):
        Supervisor(
            store,
            [Instance("a", Ticker, AdapterOptions()), Instance("a", Ticker, AdapterOptions())],
        )


async def test_shutdown_commits_what_the_writer_already_took(store: SqliteStore) -> None:
    """Events already taken off the queue (acknowledged to an HTTP client, say) are
    committed on shutdown, not dropped with the writer's batch."""
    sup = fast(store, [Instance("ticker", Ticker, AdapterOptions())], batch_window=30.0)
    task = await run_supervisor(sup)
    for _ in range(200):
        if sup._in_flight:
            break
        await asyncio.sleep(0.01)
    assert sup._in_flight  # the writer holds a batch, waiting for its window to close
    await stop(task)
    assert await store.last_seq() > 0
    assert (await store.agent("ticker")).events >= 1
