"""PostgreSQL under the conditions a shared server meets: concurrency and lost connections.

The store contract (tests/store_contract) already runs on PostgreSQL; these are what
only a server has: several stores writing at once from their own pools, connections
killed under a running store (``pg_terminate_backend``), and notifications.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest

from swarmdeck.store.errors import AlreadyDecided, ForeignDatabase, StoreUnavailable
from swarmdeck.store.identity import check_writable
from swarmdeck.store.postgres import PostgresStore
from tests.helpers import ev, raise_escalation
from tests.helpers.events import as_stored_unchecked

Opener = Callable[[], Awaitable[PostgresStore]]


@pytest.fixture
async def open_pg(pg_url: str) -> AsyncIterator[Opener]:
    """``await open_pg()``: another store (its own pool) on this test's database."""
    opened: list[PostgresStore] = []

    async def opener() -> PostgresStore:
        store = await PostgresStore.open(pg_url)
        opened.append(store)
        return store

    try:
        yield opener
    finally:
        for store in opened:
            await store.close()


def terminate_others(url: str) -> int:
    """Kill every other connection to the database at ``url``; how many were killed."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


async def test_two_stores_appending_at_once_lose_and_double_nothing(open_pg: Opener) -> None:
    a, b = await open_pg(), await open_pg()
    shared = [ev("usage", agent=f"a{i % 7}", data={"tokens_in": 1}) for i in range(600)]
    own_a = [ev("log", agent="a0", data={"text": f"a{i}"}) for i in range(300)]
    own_b = [ev("log", agent="a1", data={"text": f"b{i}"}) for i in range(300)]

    async def feed(store: PostgresStore, mine: list[object]) -> int:
        accepted = 0
        for k in range(0, 600, 50):  # both deliver every shared event, in different batches
            batch = [*shared[k : k + 50], *mine[k // 2 : k // 2 + 25]]
            accepted += (await store.append(batch, origin="o")).accepted  # type: ignore[arg-type]
        return accepted

    got_a, got_b = await asyncio.gather(feed(a, own_a), feed(b, own_b))  # type: ignore[arg-type]
    assert got_a + got_b == 1200  # each event accepted by exactly one of them
    feed_rows = await a.events_since(0, limit=5000)
    assert len(feed_rows) == 1200
    assert len({(e.source, e.id) for e in feed_rows}) == 1200
    assert [e.seq for e in feed_rows] == sorted(e.seq for e in feed_rows)
    assert sum(x.tokens_in for x in await b.agents()) == 600  # folded once per event


async def test_concurrent_decides_have_exactly_one_winner(open_pg: Opener) -> None:
    stores = [await open_pg() for _ in range(4)]
    await stores[0].append([raise_escalation(f"E{i}") for i in range(10)], origin="bots")
    for i in range(10):
        results = await asyncio.gather(
            *(
                s.decide(f"E{i}", "reject", actor=f"m{n}", reason="no", host=f"h{n}")
                for n, s in enumerate(stores)
            ),
            return_exceptions=True,
        )
        wins = [r for r in results if not isinstance(r, BaseException)]
        losses = [r for r in results if isinstance(r, AlreadyDecided)]
        assert len(wins) == 1 and len(losses) == 3, results
        assert {(x.by, x.at) for x in losses} == {(wins[0].actor, wins[0].ts)}
    assert len(await stores[1].decisions()) == 10
    verdict = await stores[2].audit_verify()
    assert verdict.ok and verdict.records == 10, verdict.problems


async def test_the_audit_chain_never_forks_under_concurrency(open_pg: Opener) -> None:
    a, b = await open_pg(), await open_pg()
    await a.append([raise_escalation(f"E{i}") for i in range(20)], origin="bots")

    async def records(store: PostgresStore, who: str) -> None:
        for i in range(40):
            await store.audit(who, "guardrail.reveal", f"x{i}", {"i": i})

    async def decisions(store: PostgresStore) -> None:
        for i in range(20):
            await store.decide(f"E{i}", "approve", actor="policy:p")

    await asyncio.gather(records(a, "alice"), records(b, "bob"), decisions(b))
    verdict = await a.audit_verify()
    assert verdict.ok, verdict.problems
    assert verdict.records == 100
    chain = await b.audit_records()
    assert [r.seq for r in chain] == list(range(1, 101))


async def test_a_lost_connection_is_retried_without_loss_or_doubling(
    pg_url: str, open_pg: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    store = await open_pg()
    await store.append([raise_escalation(f"E{i}") for i in range(30)], origin="bots")
    events = [ev("usage", agent=f"a{i % 5}", data={"tokens_in": 1}) for i in range(6000)]
    stop = asyncio.Event()

    async def killer() -> int:
        # Every 0.25 s, all of the store's connections at once: a server restart or a cut
        # link, several times over the run, mid-batch, mid-commit, mid-decision.
        killed = 0
        while not stop.is_set():
            await asyncio.sleep(0.25)
            killed += await asyncio.to_thread(terminate_others, pg_url)
        return killed

    async def work() -> None:
        for k in range(0, len(events), 50):
            await store.append(events[k : k + 50], origin="o")
        for i in range(30):
            await store.decide(f"E{i}", "approve", actor="alice")
        await store.set_state("o", "offset", "6000")
        stop.set()

    killing = asyncio.create_task(killer())
    await asyncio.wait_for(work(), 120)
    assert await killing >= 2  # connections really were killed under it, more than once
    assert any("retrying" in r.getMessage() for r in caplog.records)
    usage = await store.events_since(0, limit=10_000, kinds=["usage"])
    assert len(usage) == 6000 and len({e.id for e in usage}) == 6000
    assert sum(a.tokens_in for a in await store.agents()) == 6000
    assert len(await store.decisions()) == 30  # a retried decide never doubles
    assert len(await store.due_deliveries(limit=100)) == 30
    verdict = await store.audit_verify()
    assert verdict.ok and verdict.records == 30, verdict.problems
    assert await store.get_state("o", "offset") == "6000"


async def test_notify_wakes_a_waiter_within_a_second_also_after_reconnecting(
    pg_url: str, open_pg: Opener
) -> None:
    waiter, writer = await open_pg(), await open_pg()
    loop = asyncio.get_running_loop()

    async def woken_after_commit() -> float:
        rev = await waiter.rev()
        waiting = asyncio.create_task(waiter.wait_for_change(rev, timeout=30))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        committed = loop.time()
        await writer.set_health("a", "jsonl", "running")
        assert await asyncio.wait_for(waiting, 5) > rev
        return loop.time() - committed

    assert await woken_after_commit() < 1.0
    assert waiter._listener.listening  # woken by NOTIFY, not by the fallback poll
    await asyncio.to_thread(terminate_others, pg_url)  # the LISTEN connection too
    await asyncio.sleep(0.5)
    assert await woken_after_commit() < 1.0


async def test_a_nul_character_does_not_block_its_batch(open_pg: Opener) -> None:
    """PostgreSQL refuses NUL in text; the event is kept with U+FFFD instead, and the
    rest of the batch with it."""
    store = await open_pg()
    # A NUL in a text passes the door; in a name only from rows an older version wrote.
    status = ev("agent.status", agent="a", data={"state": "working", "activity": "x\x00y"})
    result = await store.append(
        [as_stored_unchecked(status, agent="a\x00b"), ev("log", agent="c", data={"text": "fine"})],
        origin="o",
    )
    assert result.accepted == 2
    assert [(a.name, a.activity) for a in await store.agents()] == [
        ("a\ufffdb", "x\ufffdy"), ("c", ""),
    ]  # fmt: skip


async def test_a_write_takes_the_counter_lock_only_at_its_first_shared_row(
    open_pg: Opener,
) -> None:
    """What a write does first on its own session (an append's staging) queues nobody;
    from its first statement on a shared row on, other writers wait for its commit."""
    from swarmdeck.store.postgres.connection import locked_connection, tx_connection

    a, b = await open_pg(), await open_pg()
    staged, locked, go_on = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def body() -> None:
        await tx_connection(a).execute("CREATE TEMP TABLE IF NOT EXISTS mine (x int)")
        await tx_connection(a).execute("INSERT INTO mine VALUES (1)")
        staged.set()
        await go_on.wait()
        await locked_connection(a)
        locked.set()
        await asyncio.sleep(0.5)  # hold the counter while b tries to write
        await a._bump_rev()

    holder = asyncio.create_task(a._transact(body))
    await staged.wait()
    # a is mid-transaction but holds no shared lock: b's append goes straight through.
    first = await asyncio.wait_for(b.append([ev("log", data={"text": "x"})], origin="o"), 5)
    assert first.accepted == 1
    go_on.set()
    await locked.wait()
    second = asyncio.create_task(b.append([ev("log", data={"text": "y"})], origin="o"))
    await asyncio.sleep(0.2)
    assert not second.done()  # queued behind a's counter lock
    await holder
    done = await asyncio.wait_for(second, 5)
    # Commit order is rev order: a's bump came between b's two appends.
    assert done.rev == first.rev + 2


async def test_a_database_of_another_program_is_refused_untouched(pg_url: str) -> None:
    """Issue 9, item 8, on PostgreSQL: tables but no swarmdeck schema version."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")  # not migrated
        conn.execute("CREATE TABLE moz_places (id integer PRIMARY KEY, url text)")
    with pytest.raises(ForeignDatabase, match="not swarmdeck's \\(moz_places\\)"):
        await PostgresStore.open(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    assert tables == [("moz_places",)]  # nothing of ours was created beside it


async def test_a_role_that_may_only_read_is_refused_at_start(open_pg: Opener, pg_url: str) -> None:
    """check_writable, what the collector runs before it starts: one line, and the
    error says it is the server's state (splitting a batch would not help)."""
    await (await open_pg()).close()  # migrated
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "ALTER DATABASE " + conn.info.dbname + " SET default_transaction_read_only = on"
        )
    store = await open_pg()
    with pytest.raises(StoreUnavailable, match="read-only transaction"):
        await check_writable(store)
