"""Contract: the audit chain verifies, and names every edited, deleted or reordered record."""

from __future__ import annotations

import itertools

from swarmdeck.store.db import Store
from tests.helpers import raise_escalation
from tests.store_contract.harness import StoreFactory


async def _four_decisions(store: Store) -> None:
    await store.append([raise_escalation(f"E{i}") for i in range(4)], origin="demo")
    for i in range(4):
        await store.decide(f"E{i}", "approve", actor="me")


async def test_records_of_their_own_join_the_chain(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.audit("ann", "policy.rule_added", "rule-1", {"rule": {"name": "rule-1"}})
    await _four_decisions(store)
    records = await store.audit_records()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert (records[0].actor, records[0].detail) == ("ann", {"rule": {"name": "rule-1"}})
    assert all(r.prev == p.hash for p, r in itertools.pairwise(records))
    assert await store.audit_records(since=records[-1].ts + 1) == []
    verdict = await store.audit_verify()
    assert (verdict.ok, verdict.records, verdict.problems) == (True, 5, [])


async def test_an_edited_record_is_named(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await _four_decisions(store)
    store_factory.tamper().edit_actor(2, "mallory")
    problems = (await store.audit_verify()).problems
    assert any("record 2" in p and "edited" in p for p in problems)
    store_factory.tamper().edit_actor(2, "me")
    assert (await store.audit_verify()).ok


async def test_a_deleted_record_is_named(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await _four_decisions(store)
    store_factory.tamper().delete(3)
    verdict = await store.audit_verify()
    assert not verdict.ok
    assert any("record 3 deleted" in p for p in verdict.problems)


async def test_reordered_records_break_the_chain(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await _four_decisions(store)
    store_factory.tamper().swap(1, 2)
    assert not (await store.audit_verify()).ok


async def test_deleting_the_newest_records_is_caught(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await _four_decisions(store)
    store_factory.tamper().truncate_from(3)
    verdict = await store.audit_verify()
    assert not verdict.ok
    assert verdict.problems[0] == (
        "2 record(s) deleted from the end of the chain (expected 4, found 2)"
    )
    # The decisions those records described are still there: the cross-check names them.
    assert len(verdict.problems) > 1
    assert all("deleted" in p for p in verdict.problems[1:])
