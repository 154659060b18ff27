"""Contract: the outbox hands each decision to its adapter, backs off, and audits the outcome."""

from __future__ import annotations

from tests.helpers import raise_escalation
from tests.store_contract.harness import ManualClock, StoreFactory


async def test_outbox_delivery_states(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E1"), raise_escalation("E2")], origin="bots")
    await store.decide("E1", "approve", actor="me")
    await store.decide("E2", "reroute", actor="me", reason="busy", target="coder-2")
    due = await store.due_deliveries(adapters=["bots"])
    assert [d.escalation.id for d in due] == ["E1", "E2"]
    assert (due[0].adapter, due[0].attempts) == ("bots", 0)
    assert due[1].decision.target == "coder-2"
    assert await store.due_deliveries(adapters=["other"]) == []
    assert await store.due_deliveries(adapters=[]) == []
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


async def test_a_backed_off_delivery_is_due_again_at_its_time(store_factory: StoreFactory) -> None:
    clock = ManualClock(10_000.0)
    store = await store_factory(clock=clock)
    await store.append([raise_escalation("E1")], origin="bots")
    decision = await store.decide("E1", "approve", actor="me")
    [first] = await store.due_deliveries()
    await store.delivery_failed(first.outbox_id, "timeout", clock() + 30)
    clock.now += 29
    assert await store.due_deliveries() == []
    clock.now += 1
    [again] = await store.due_deliveries()
    assert (again.outbox_id, again.attempts, again.decision) == (first.outbox_id, 1, decision)
    await store.delivery_succeeded(again.outbox_id)
    entry = await store.outbox_entry(decision.id)
    assert entry is not None and (entry.state, entry.attempts) == ("delivered", 2)
    assert await store.due_deliveries() == []
    assert await store.outbox_entry(decision.id + 1000) is None


async def test_due_deliveries_are_oldest_first_and_limited(store_factory: StoreFactory) -> None:
    clock = ManualClock(10_000.0)
    store = await store_factory(clock=clock)
    await store.append([raise_escalation(f"E{i}") for i in range(3)], origin="bots")
    for i in (2, 0, 1):
        await store.decide(f"E{i}", "approve", actor="me")
        clock.now += 1
    assert [d.escalation.id for d in await store.due_deliveries(limit=2)] == ["E2", "E0"]
