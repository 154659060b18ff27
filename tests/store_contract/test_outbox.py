"""Contract: the outbox hands each decision to its adapter, backs off, and audits the outcome."""

from __future__ import annotations

import asyncio

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


async def test_claimed_deliveries_go_to_one_collector(store_factory: StoreFactory) -> None:
    clock = ManualClock(1_000.0)
    a, b = await store_factory(clock=clock), await store_factory(clock=clock)
    await a.append([raise_escalation(f"E{i}") for i in range(6)], origin="bots")
    for i in range(6):
        await a.decide(f"E{i}", "approve", actor="me")
    first, second = await asyncio.gather(
        a.claim_deliveries("bots", "host-a", limit=4, claim_seconds=30),
        b.claim_deliveries("bots", "host-b", limit=4, claim_seconds=30),
    )
    claimed = [d.outbox_id for d in first] + [d.outbox_id for d in second]
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 6
    assert await a.claim_deliveries("bots", "host-c", limit=10, claim_seconds=30) == []
    assert await a.due_deliveries() == []  # claimed rows are nobody else's
    assert await a.claim_deliveries("other", "host-a", limit=10, claim_seconds=30) == []
    # Recording the outcome releases the claim: a retry is due again for anyone.
    await a.delivery_failed(first[0].outbox_id, "busy", clock() + 5)
    await a.delivery_succeeded(first[1].outbox_id)
    clock.now += 5
    [again] = await b.claim_deliveries("bots", "host-b", limit=10, claim_seconds=30)
    assert (again.outbox_id, again.attempts) == (first[0].outbox_id, 1)
    # A holder that died leaves its claims to expire; then they are due again (all but
    # the delivered one).
    clock.now += 30
    rest = await b.claim_deliveries("bots", "host-b", limit=10, claim_seconds=30)
    assert len(rest) == 5 and first[1].outbox_id not in {d.outbox_id for d in rest}
    assert rest[0].decision.actor == "me" and rest[0].escalation.state == "decided"


async def test_claiming_moves_no_rev(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E1")], origin="bots")
    await store.decide("E1", "approve", actor="me")
    before = await store.rev()
    assert len(await store.claim_deliveries("bots", "me", limit=1, claim_seconds=10)) == 1
    assert await store.rev() == before
