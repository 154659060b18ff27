"""Contract: what ``store.governance`` writes: the vault, severities, deadlines, rule owners."""

from __future__ import annotations

from datetime import timedelta

from swarmdeck.store import governance
from tests.helpers import BASE, raise_escalation
from tests.store_contract.harness import ManualClock, StoreFactory

T0 = BASE.timestamp()


def _hit(event_id: str, original: str, **where: str) -> governance.Revealable:
    return governance.Revealable(
        id=governance.vault_id("test", event_id, "data.text", original),
        ts=T0, source="test", event_id=event_id, escalation=where.get("escalation"),
        agent=where.get("agent"), task=where.get("task"), location="data.text",
        detector="aws-access-key", placeholder="[secret:aws-access-key …MPLE]", original=original,
    )  # fmt: skip


async def test_the_vault_keeps_originals_once_and_reveals_with_an_audit(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    first = _hit("e1", "AKIAIOSFODNN7EXAMPLE", escalation="G1", agent="a", task="T1")
    other = _hit("e2", "AKIAOTHERKEY0EXAMPLE", agent="b")
    await governance.vault_put(store, [first, other])
    await governance.vault_put(store, [first])  # a re-delivered event adds nothing
    assert await governance.vault_find(store) == [first, other]
    assert await governance.vault_find(store, escalation="G1") == [first]
    assert await governance.vault_find(store, event=("test", "e2")) == [other]
    assert await governance.vault_find(store, agent="b", task="T1") == []
    assert await store.audit_records() == []  # finding is not revealing
    shown = await governance.reveal(store, actor="ann", reason="incident 7", vault=first.id)
    assert shown == [first]
    [record] = await store.audit_records()
    assert (record.actor, record.action, record.subject) == ("ann", "guardrail.reveal", first.id)
    assert "AKIAIOSFODNN7EXAMPLE" not in str(record.detail)  # never the secret itself
    assert await governance.reveal(store, actor="ann", vault="v-none") == []
    assert len(await store.audit_records()) == 1


async def test_set_escalation_changes_only_open_ones_and_audits(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append([raise_escalation("E1"), raise_escalation("E2")], origin="o")
    await store.decide("E2", "approve", actor="me")
    changed = await governance.set_escalation(
        store, "E1", actor="policy:r", action="policy.escalate", severity="high",
        deadline=T0 + 900, rule="r", detail={"rule": "r"},
    )  # fmt: skip
    assert changed
    esc = await store.escalation("E1")
    assert (esc.severity, esc.deadline) == ("high", T0 + 900)
    assert await governance.owner(store, "E1") == "r"
    assert not await governance.set_escalation(
        store, "E2", actor="policy:r", action="policy.escalate", severity="critical"
    )
    escalate = [r for r in await store.audit_records() if r.action == "policy.escalate"]
    assert [(r.subject, r.detail["severity"]) for r in escalate] == [("E1", ["normal", "high"])]


async def test_rule_owners(store_factory: StoreFactory) -> None:
    store = await store_factory()
    assert await governance.owner(store, "E1") is None
    await governance.set_owner(store, "E1", "first")
    await governance.set_owner(store, "E1", "second")
    assert await governance.owner(store, "E1") == "second"


async def test_an_expired_deadline_raises_severity_once(store_factory: StoreFactory) -> None:
    clock = ManualClock(T0)
    store = await store_factory(clock=clock)
    deadline = BASE + timedelta(minutes=5)
    await store.append(
        [
            raise_escalation("E1", deadline=deadline.isoformat()),
            raise_escalation("E2", deadline=(deadline + timedelta(hours=1)).isoformat()),
            raise_escalation("E3", severity="critical", deadline=deadline.isoformat()),
        ],
        origin="o",
    )
    assert await governance.expired_unhandled(store, clock()) == []
    clock.now = T0 + 301
    expired = await governance.expired_unhandled(store, clock())
    assert [(x.escalation, x.severity) for x in expired] == [("E1", "normal"), ("E3", "critical")]
    assert expired[0].deadline == deadline.timestamp()
    new = await governance.expire(store, "E1", expired[0].deadline, actor="policy:r", detail={})
    assert new == "high"
    assert await governance.expire(store, "E1", expired[0].deadline, actor="p", detail={}) is None
    assert await governance.expire(store, "E3", expired[1].deadline, actor="p", detail={}) == (
        "critical"
    )
    assert await governance.expired_unhandled(store, clock()) == []
    # A new deadline set later fires again.
    later = T0 + 600
    await governance.set_escalation(store, "E1", actor="p", action="policy.escalate",
                                    deadline=later)  # fmt: skip
    clock.now = later + 1
    assert [x.escalation for x in await governance.expired_unhandled(store, clock())] == ["E1"]
    assert (await store.escalation("E1")).severity == "high"
    audited = [r.detail["severity"] for r in await store.audit_records()
               if r.action == "escalation.deadline_expired"]  # fmt: skip
    assert audited == [["normal", "high"], ["critical", "critical"]]
