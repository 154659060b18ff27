"""The store against a real SQLite file: projections, idempotency, CAS, outbox, audit."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmdeck.store.actions import act_on_task
from swarmdeck.store.db import Store
from swarmdeck.store.errors import (
    AlreadyDecided,
    InvalidDecision,
    NotFound,
    SchemaTooNew,
    StoreError,
)
from swarmdeck.store.schema import SCHEMA_VERSION
from tests.helpers import ev, raise_escalation


async def test_file_permissions(db_path: Path) -> None:
    async with await Store.open(db_path):
        pass
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


async def test_projections_follow_the_events(store: Store) -> None:
    await store.append(
        [
            ev(
                "agent.seen",
                agent="coder-1",
                data={"name": "coder-1", "role": "coder", "model": "m"},
            ),
            ev(
                "workflow.defined",
                workflow="wf",
                data={
                    "name": "wf",
                    "nodes": [{"id": "T-0"}, {"id": "T-1"}, {"id": "gate", "gate": True}],
                    "edges": [["T-0", "T-1"], ["T-1", "gate"]],
                },
            ),
            ev(
                "task.created",
                task="T-1",
                workflow="wf",
                data={"title": "code it", "depends_on": ["T-0"]},
            ),
            ev("task.started", task="T-1", agent="coder-1", workflow="wf", offset=1),
            ev(
                "agent.status",
                agent="coder-1",
                data={"state": "working", "activity": "editing"},
                offset=2,
            ),
            ev(
                "usage",
                agent="coder-1",
                task="T-1",
                data={"tokens_in": 100, "tokens_out": 10, "cost_usd": 0.25},
                offset=3,
            ),
            ev(
                "usage",
                agent="coder-1",
                task="T-1",
                data={"tokens_in": 50, "tokens_out": 5, "cost_usd": 0.25},
                offset=4,
            ),
            ev(
                "task.failed",
                task="T-1",
                agent="coder-1",
                workflow="wf",
                data={"error": "tests red", "retryable": True},
                offset=5,
            ),
        ],
        origin="demo",
    )
    agent = await store.agent("coder-1")
    assert (agent.role, agent.model, agent.state, agent.activity, agent.task) == (
        "coder",
        "m",
        "working",
        "editing",
        "T-1",
    )
    assert (agent.tokens_in, agent.tokens_out, agent.cost_usd, agent.events) == (150, 15, 0.5, 6)
    task = await store.task("T-1")
    assert (task.state, task.error, task.retryable, task.failures, task.assignee) == (
        "failed",
        "tests red",
        True,
        1,
        "coder-1",
    )
    assert task.depends_on == ["T-0"]
    # A retry: started again clears the end time and moves the state on.
    await store.append([ev("task.started", task="T-1", agent="coder-1", offset=6)], origin="demo")
    task = await store.task("T-1")
    assert (task.state, task.ended_ts, task.failures) == ("running", None, 1)
    wf = await store.workflow("wf")
    assert [n.id for n in wf.nodes] == ["T-0", "T-1", "gate"]
    assert {n.id: n.state for n in wf.nodes} == {
        "T-0": "pending",
        "T-1": "running",
        "gate": "pending",
    }
    assert [n.gate for n in wf.nodes] == [False, False, True]
    assert ("T-0", "T-1") in wf.edges and ("T-1", "gate") in wf.edges


async def test_workflow_blocked_node_and_undefined_workflow(store: Store) -> None:
    await store.append(
        [
            ev("task.created", task="A", workflow="adhoc", data={"title": "a"}),
            ev(
                "task.created", task="B", workflow="adhoc", data={"title": "b", "depends_on": ["A"]}
            ),
            ev("task.started", task="B", workflow="adhoc", agent="x"),
            raise_escalation("E-B", task="B", agent="x"),
        ],
        origin="demo",
    )
    wf = await store.workflow("adhoc")
    assert {n.id: n.state for n in wf.nodes} == {"A": "pending", "B": "blocked"}
    assert wf.edges == [("A", "B")]
    summaries = await store.workflows()
    assert summaries[0].name == "adhoc"
    assert summaries[0].open_escalations == 1
    with pytest.raises(NotFound):
        await store.workflow("nope")


async def test_append_is_idempotent_and_counts_duplicates(store: Store) -> None:
    events = [ev("log", agent="a", data={"text": str(i)}) for i in range(5)]
    first = await store.append(events, origin="o")
    again = await store.append(events + events[:2], origin="o")
    assert (first.accepted, first.duplicates) == (5, 0)
    assert (again.accepted, again.duplicates) == (0, 7)
    assert (await store.agent("a")).events == 5
    assert again.rev == first.rev  # nothing changed, nothing to repaint


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=120),
    cut=st.integers(min_value=1, max_value=40),
)
def test_any_redelivery_pattern_stores_each_event_once(
    tmp_path_factory: pytest.TempPathFactory, picks: list[int], cut: int
) -> None:
    """Whatever the batching and however often events repeat, each is stored once."""
    pool = [
        ev("usage", agent=f"a{i % 3}", data={"tokens_in": 1, "tokens_out": 0, "cost_usd": 0})
        for i in range(31)
    ]

    async def scenario() -> None:
        path = tmp_path_factory.mktemp("prop") / "db.sqlite"
        async with await Store.open(path) as s:
            stream = [pool[i] for i in picks]
            accepted = 0
            for start in range(0, len(stream), cut):
                accepted += (await s.append(stream[start : start + cut], origin="o")).accepted
            unique = len(set(picks))
            assert accepted == unique
            assert len(await s.events_since(0, limit=1000)) == unique  # seq may have gaps
            total = sum(a.tokens_in for a in await s.agents())
            assert total == unique  # projections applied exactly once per event

    asyncio.run(scenario())


async def test_decide_is_compare_and_set_across_connections(db_path: Path) -> None:
    """Two managers (two connections to one file) decide at once: exactly one wins."""
    async with await Store.open(db_path) as a, await Store.open(db_path) as b:
        await a.append([raise_escalation(f"E{i}") for i in range(20)], origin="demo")
        for i in range(20):
            results = await asyncio.gather(
                a.decide(f"E{i}", "approve", actor="alice@host"),
                b.decide(f"E{i}", "reject", actor="bob@host", reason="not now"),
                return_exceptions=True,
            )
            wins = [r for r in results if not isinstance(r, BaseException)]
            losses = [r for r in results if isinstance(r, AlreadyDecided)]
            assert len(wins) == 1 and len(losses) == 1, results
            winner = wins[0]
            assert losses[0].by == winner.actor
            assert f"already decided by {winner.actor}" in str(losses[0])
            stored = await b.escalation(f"E{i}")
            assert (stored.state, stored.decided_by, stored.action) == (
                "decided",
                winner.actor,
                winner.action,
            )
        assert len(await a.decisions()) == 20
        verdict = await a.audit_verify()
        assert verdict.ok and verdict.records == 20


async def test_decision_rules(store: Store) -> None:
    await store.append([raise_escalation("E1")], origin="demo")
    with pytest.raises(InvalidDecision, match="reject needs a reason"):
        await store.decide("E1", "reject", actor="me")
    with pytest.raises(InvalidDecision, match="reroute needs a target"):
        await store.decide("E1", "reroute", actor="me", reason="busy")
    with pytest.raises(InvalidDecision, match="unknown action"):
        await store.decide("E1", "maybe", actor="me")
    with pytest.raises(NotFound):
        await store.decide("E404", "approve", actor="me")
    # Failed attempts leave the escalation open and write no audit record.
    assert (await store.escalation("E1")).state == "open"
    assert (await store.audit_verify()).records == 0


async def test_withdrawn_escalations_cannot_be_decided(store: Store) -> None:
    await store.append(
        [raise_escalation("E1"), ev("escalation.withdrawn", data={"id": "E1"})], origin="demo"
    )
    with pytest.raises(AlreadyDecided, match="is withdrawn"):
        await store.decide("E1", "approve", actor="me")


async def test_inbox_order_severity_then_age(store: Store) -> None:
    await store.append(
        [
            raise_escalation("low-old", severity="low", offset=1),
            raise_escalation("crit-new", severity="critical", offset=9),
            raise_escalation("high-old", severity="high", offset=2),
            raise_escalation("high-new", severity="high", offset=8),
        ],
        origin="demo",
    )
    await store.decide("low-old", "approve", actor="me")
    order = [e.id for e in await store.escalations()]
    assert order == ["crit-new", "high-old", "high-new", "low-old"]


async def test_outbox_delivery_states(store: Store) -> None:
    await store.append([raise_escalation("E1"), raise_escalation("E2")], origin="bots")
    await store.decide("E1", "approve", actor="me")
    await store.decide("E2", "reroute", actor="me", reason="busy", target="coder-2")
    due = await store.due_deliveries(adapters=["bots"])
    assert [d.escalation.id for d in due] == ["E1", "E2"]
    assert due[1].decision.target == "coder-2"
    assert await store.due_deliveries(adapters=["other"]) == []
    await store.delivery_succeeded(due[0].outbox_id)
    await store.delivery_failed(due[1].outbox_id, "HTTP 503", store.clock() + 3600)
    assert (await store.escalation("E1")).delivery == "delivered"
    e2 = await store.escalation("E2")
    assert (e2.delivery, e2.delivery_error) == ("retrying", "HTTP 503")
    assert await store.due_deliveries(adapters=["bots"]) == []  # not due before retry_at
    await store.delivery_failed(due[1].outbox_id, "gone", None)
    assert (await store.escalation("E2")).delivery == "failed"
    # The audit says what came of each decision; a retry in between is not an outcome.
    outcomes = [
        (r.action, r.subject, r.actor, r.detail["attempts"], r.detail["error"])
        for r in await store.audit_records()
        if r.action.startswith("decision.")
    ]
    assert outcomes == [
        ("decision.delivered", "E1", "adapter:bots", 1, None),
        ("decision.failed", "E2", "adapter:bots", 2, "gone"),
    ]
    assert (await store.audit_verify()).ok


async def test_act_on_task_without_escalation_raises_one_through_the_task_origin(
    store: Store,
) -> None:
    await store.append(
        [
            ev("task.created", task="T9", workflow="wf", data={"title": "deploy"}),
            ev("task.failed", task="T9", agent="bot", data={"error": "flaky"}),
        ],
        origin="ci-bots",
    )
    decision = await act_on_task(store, "T9", "retry", actor="me")
    esc = await store.escalation(decision.escalation)
    assert (esc.kind, esc.task, esc.origin, esc.state, esc.action) == (
        "failure",
        "T9",
        "ci-bots",
        "decided",
        "retry",
    )
    assert [d.adapter for d in await store.due_deliveries()] == ["ci-bots"]


async def test_audit_detects_edit_delete_and_reorder(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        await s.append([raise_escalation(f"E{i}") for i in range(4)], origin="demo")
        for i in range(4):
            await s.decide(f"E{i}", "approve", actor="me")
        assert (await s.audit_verify()).ok

    def tamper(sql: str) -> None:
        conn = sqlite3.connect(db_path)
        conn.execute(sql)
        conn.commit()
        conn.close()

    async def problems() -> list[str]:
        async with await Store.open(db_path) as s:
            return (await s.audit_verify()).problems

    tamper("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    assert any("record 2" in p and "edited" in p for p in await problems())
    tamper("UPDATE audit SET actor = 'me' WHERE seq = 2")
    assert await problems() == []
    tamper("DELETE FROM audit WHERE seq = 3")
    assert any("record 3 deleted" in p for p in await problems())


async def test_audit_detects_reorder_and_tail_deletion(db_path: Path) -> None:
    async with await Store.open(db_path) as s:
        await s.append([raise_escalation(f"E{i}") for i in range(3)], origin="demo")
        for i in range(3):
            await s.decide(f"E{i}", "approve", actor="me")
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE audit SET seq = 99 WHERE seq = 1")
    conn.execute("UPDATE audit SET seq = 1 WHERE seq = 2")
    conn.execute("UPDATE audit SET seq = 2 WHERE seq = 99")
    conn.commit()
    async with await Store.open(db_path) as s:
        assert not (await s.audit_verify()).ok
    conn.execute("DELETE FROM audit WHERE seq >= 2")
    conn.execute("UPDATE audit SET seq = 1, prev = (SELECT prev FROM audit) WHERE 1")
    conn.commit()
    conn.close()
    async with await Store.open(db_path) as s:
        verdict = await s.audit_verify()
    assert not verdict.ok


async def test_dead_letters_keep_bounded_raw_input(store: Store) -> None:
    await store.dead_letter(origin="jsonl", location="f.jsonl:7", raw=b"x" * 100_000, error="bad")
    [letter] = await store.dead_letters()
    assert (letter.origin, letter.location, letter.error) == ("jsonl", "f.jsonl:7", "bad")
    assert len(letter.raw) == 16_384


async def test_adapter_state_is_saved_with_events_atomically(store: Store) -> None:
    result = await store.append_with_state(
        [ev("log", agent="a", data={"text": "x"})], origin="tail", state={"offset": "42"}
    )
    assert result.accepted == 1
    assert await store.get_states("tail") == {"offset": "42"}


async def test_change_feed_and_rev(store: Store) -> None:
    rev0 = await store.rev()
    r = await store.append(
        [ev("log", agent="a", data={"text": str(i)}) for i in range(3)], origin="o"
    )
    assert r.rev == rev0 + 1
    feed = await store.events_since(0)
    assert [e.seq for e in feed] == [1, 2, 3]
    assert [e.data["text"] for e in await store.events_since(2)] == ["2"]
    assert [a.name for a in await store.agents(since_rev=rev0)] == ["a"]
    assert await store.agents(since_rev=r.rev) == []


async def test_retention_keeps_projections(store: Store) -> None:
    await store.append(
        [ev("log", agent="a", data={"text": str(i)}, offset=i) for i in range(10)], origin="o"
    )
    cutoff = (await store.events_since(0))[5].ts
    deleted = await store.prune_events(cutoff)
    assert deleted == 5
    assert (await store.agent("a")).events == 10


async def test_refuses_newer_schema_and_non_databases(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this swarmdeck"):
        await Store.open(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="not a usable swarmdeck database"):
        await Store.open(junk)
    with pytest.raises(StoreError, match="is a directory"):
        await Store.open(tmp_path)
    with pytest.raises(StoreError, match="no database"):
        await Store.open(tmp_path / "absent.db", create=False)


async def test_two_processes_migrating_at_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    stores = await asyncio.gather(*(Store.open(path) for _ in range(4)))
    for s in stores:
        await s.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_reads_never_see_another_coroutines_open_transaction(store: Store) -> None:
    """The collector's coroutines share one connection: a read issued while another
    coroutine's transaction is open must wait for it, not read its uncommitted rows."""
    order: list[str] = []
    inside = asyncio.Event()

    async def writer() -> None:
        async with store.write() as db:
            await db.execute(
                "INSERT INTO events(source, eid, ts, kind) VALUES ('s', 'x', 0, 'log')"
            )
            inside.set()
            await asyncio.sleep(0.2)
            order.append("rolled back")
            raise RuntimeError("the batch fails after its rows were written")

    async def reader() -> None:
        await inside.wait()
        order.append(f"read {await store.last_seq()}")

    results = await asyncio.gather(writer(), reader(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert order == ["rolled back", "read 0"]


async def test_cancelling_a_write_that_waits_for_the_lock_leaves_no_transaction(
    db_path: Path,
) -> None:
    """A cancelled caller (a client hanging up) must not leave BEGIN IMMEDIATE holding the
    database's write lock for every other process."""
    async with await Store.open(db_path) as s:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.4, lambda: blocker.execute("COMMIT"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(s.append([raise_escalation("E1")], origin="o"), 0.1)
        assert not s.conn.in_transaction
        other = sqlite3.connect(db_path, timeout=1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the lock is free again
        other.execute("ROLLBACK")
        other.close()
        blocker.close()
        assert (await s.append([raise_escalation("E2")], origin="o")).accepted == 1


async def test_a_clashing_raise_never_rewrites_a_decided_or_foreign_escalation(
    store: Store,
) -> None:
    await store.append([raise_escalation("deploy", title="deploy v1")], origin="team-a")
    await store.decide("deploy", "approve", actor="dana@ops")
    hijack = ev(
        "escalation.raised", source="team-b", agent="x",
        data={"id": "deploy", "kind": "approval", "title": "DROP prod db", "severity": "critical"},
    )  # fmt: skip
    await store.append([hijack], origin="team-b")
    kept = await store.escalation("deploy")
    assert (kept.title, kept.severity, kept.decided_by) == ("deploy v1", "normal", "dana@ops")
    [letter] = await store.dead_letters()
    assert "escalation id 'deploy' is already in use" in letter.error
    assert "DROP prod db" in letter.raw
    # The source that raised an open escalation may still update it (a new severity).
    await store.append([raise_escalation("open-1")], origin="team-a")
    await store.append([raise_escalation("open-1", severity="high")], origin="team-a")
    assert (await store.escalation("open-1")).severity == "high"


async def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    from swarmdeck.store.schema import MIGRATIONS

    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO agents(name, first_seen, last_seen, origin, rev) "
                 "VALUES ('old-agent', 0, 0, 'demo', 1)")  # fmt: skip
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    async with await Store.open(path) as s:
        assert (await s.agent("old-agent")).origin == "demo"  # data kept
        plan = await s._fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE escalation = 'E' ORDER BY id DESC"
        )
        assert "outbox_escalation" in str(plan)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    conn.close()
