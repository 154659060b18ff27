"""Contract: a decision is a compare-and-set across connections, recorded whole or not at all."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from swarmdeck.store.actions import act_on_task
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import Action
from tests.helpers import ev, raise_escalation
from tests.store_contract.harness import ManualClock, StoreFactory


async def test_decide_is_compare_and_set_across_connections(store_factory: StoreFactory) -> None:
    """Two managers (two connections to one database) decide at once: exactly one wins."""
    a, b = await store_factory(), await store_factory()
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
        assert (losses[0].by, losses[0].at) == (winner.actor, winner.ts)
        assert f"already decided by {winner.actor}" in str(losses[0])
        stored = await b.escalation(f"E{i}")
        assert (stored.state, stored.decided_by, stored.action) == (
            "decided",
            winner.actor,
            winner.action,
        )
    assert len(await a.decisions()) == 20
    assert len(await a.due_deliveries()) == 20  # one outbox row per winning decision
    verdict = await a.audit_verify()
    assert verdict.ok and verdict.records == 20


async def test_a_decision_is_recorded_with_its_outbox_row_and_audit(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory(clock=ManualClock(1_000.0))
    await store.append([raise_escalation("E1", task="T-7")], origin="bots")
    decision = await store.decide("E1", "reroute", actor="me", reason=" busy ", target=" coder-2 ")
    assert (decision.action, decision.reason, decision.target, decision.ts) == (
        "reroute", "busy", "coder-2", 1_000.0,
    )  # fmt: skip
    assert await store.decisions("E1") == [decision]
    entry = await store.outbox_entry(decision.id)
    assert entry is not None and (entry.adapter, entry.state, entry.attempts) == (
        "bots",
        "pending",
        0,
    )
    [record] = await store.audit_records()
    assert (record.actor, record.action, record.subject) == ("me", "decide.reroute", "E1")
    assert record.detail["deliver_to"] == "bots" and record.detail["task"] == "T-7"


async def test_decision_rules(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E1")], origin="demo")
    with pytest.raises(InvalidDecision, match="reject needs a reason"):
        await store.decide("E1", "reject", actor="me")
    with pytest.raises(InvalidDecision, match="reroute needs a target"):
        await store.decide("E1", "reroute", actor="me", reason="busy")
    with pytest.raises(InvalidDecision, match="answer needs the answer text"):
        await store.decide("E1", "answer", actor="me", answer="  ")
    with pytest.raises(InvalidDecision, match="unknown action 'maybe'"):
        # Untyped callers (JSON, plugins) are checked at run time too.
        await store.decide("E1", cast(Action, "maybe"), actor="me")
    with pytest.raises(NotFound):
        await store.decide("E404", "approve", actor="me")
    # Failed attempts leave the escalation open and write no audit record.
    assert (await store.escalation("E1")).state == "open"
    assert (await store.audit_verify()).records == 0
    assert await store.decisions() == []


async def test_withdrawn_escalations_cannot_be_decided(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [raise_escalation("E1"), ev("escalation.withdrawn", data={"id": "E1"})], origin="demo"
    )
    with pytest.raises(AlreadyDecided, match="is withdrawn") as lost:
        await store.decide("E1", "approve", actor="me")
    assert (lost.value.state, lost.value.by) == ("withdrawn", None)


async def test_inbox_order_open_first_then_severity_then_age(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            raise_escalation("low-old", severity="low", offset=1),
            raise_escalation("crit-new", severity="critical", offset=9),
            raise_escalation("high-old", severity="high", offset=2),
            raise_escalation("high-new", severity="high", offset=8),
            raise_escalation("normal", offset=3),
        ],
        origin="demo",
    )
    await store.decide("normal", "approve", actor="me")
    order = [e.id for e in await store.escalations()]
    assert order == ["crit-new", "high-old", "high-new", "low-old", "normal"]
    assert [e.id for e in await store.escalations(state="decided")] == ["normal"]
    assert len(await store.escalations(state=["open", "decided"], limit=2)) == 2


async def test_act_on_task_without_escalation_raises_one_through_the_task_origin(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
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
        "failure", "T9", "ci-bots", "decided", "retry",
    )  # fmt: skip
    assert [d.adapter for d in await store.due_deliveries()] == ["ci-bots"]


async def test_act_on_task_decides_its_open_escalation(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [ev("task.created", task="T1", data={"title": "t"}), raise_escalation("E1", task="T1")],
        origin="bots",
    )
    decision = await act_on_task(store, "T1", "reject", actor="me", reason="no")
    assert decision.escalation == "E1"
    with pytest.raises(NotFound):
        await act_on_task(store, "T-404", "retry", actor="me")


async def test_a_decision_records_the_deciding_host(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E1"), raise_escalation("E2")], origin="bots")
    decision = await store.decide("E1", "approve", actor="alice", host="laptop")
    assert decision.host == "laptop"
    assert (await store.decisions("E1"))[0].host == "laptop"
    assert (await store.decide("E2", "approve", actor="bob")).host is None
    [due, _] = await store.due_deliveries()
    assert due.decision.host == "laptop"
    record = (await store.audit_records())[0]
    assert record.detail["host"] == "laptop"
    assert (await store.audit_verify()).ok
