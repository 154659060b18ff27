# ruff: noqa: E501  (tamper statements and expected messages read best on one line)
"""Audit tampering (raw SQL edits, deletes, reorders) is detected; budgets raise and pause."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from swarmdeck.guardrails import GuardrailConfig, IngestFilter, load_guardrails
from swarmdeck.policy import PolicyService, load_policy
from swarmdeck.store.db import SqliteStore
from swarmdeck.store.governance import vault_find
from tests.governance.conftest import Clock, Script


async def _chain(store: SqliteStore, ev: Script) -> None:
    for i in range(5):
        await store.append(
            [ev("escalation.raised", data={"id": f"E{i}", "kind": "approval", "title": f"do {i}"})],
            origin="demo",
        )
        await store.decide(f"E{i}", "approve", actor="ann@box")
    await store.audit("ann@box", "guardrail.reveal", "E1", {"items": []})


def _raw(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for sql in statements:
            conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (["UPDATE audit SET actor = 'mallory@box' WHERE seq = 3"], "record 3: content does not match its hash (edited)"),
        (["UPDATE audit SET detail = replace(detail, 'approve', 'reject') WHERE seq = 2"], "record 2: content does not match"),
        (["DELETE FROM audit WHERE seq = 4"], "record 4 deleted"),
        (["DELETE FROM audit WHERE seq = 6"], "deleted from the end of the chain"),
        (
            [
                "UPDATE audit SET seq = 100 WHERE seq = 2",
                "UPDATE audit SET seq = 2 WHERE seq = 3",
                "UPDATE audit SET seq = 3 WHERE seq = 100",
            ],
            "link to the previous record is broken",
        ),
    ],
)  # fmt: skip
async def test_audit_tampering_is_detected(
    tmp_path: Path, clock: Clock, tamper: list[str], expected: str
) -> None:
    path = tmp_path / "audit.db"
    async with await SqliteStore.open(path, clock=clock) as store:
        await _chain(store, Script(clock))
        assert (await store.audit_verify()).ok
    _raw(path, *tamper)
    async with await SqliteStore.open(path, clock=clock) as store:
        verdict = await store.audit_verify()
    assert not verdict.ok
    assert any(expected in p for p in verdict.problems), verdict.problems


async def test_budget_raises_once_per_period_and_pauses(
    store: SqliteStore, ev: Script, clock: Clock
) -> None:
    guard = load_guardrails(
        {"budgets": [{"name": "daily", "per": "agent", "period": "1d", "max_cost_usd": 1.0,
                      "pause": True}]}
    )  # fmt: skip
    service = PolicyService(load_policy({}), store, clock, budgets=list(guard.budgets))
    await store.append(
        [
            ev("agent.seen", agent="coder-1", data={"name": "coder-1", "role": "coder"}),
            ev("task.created", task="T-1", data={"title": "write code"}),
            ev("task.started", task="T-1", agent="coder-1"),
            ev("usage", agent="coder-1", task="T-1", data={"cost_usd": 0.6}),
        ],
        origin="demo",
    )
    # Spending before the service first started still counts (seeded from the store).
    await service.start()
    await store.append([ev("usage", agent="coder-1", data={"cost_usd": 0.3})], origin="demo")
    await service.step()
    assert await store.escalations() == []
    await store.append([ev("usage", agent="coder-1", data={"cost_usd": 0.2})], origin="demo")
    await service.step()
    budget = [e for e in await store.escalations() if e.kind == "budget"]
    assert len(budget) == 1
    assert "budget daily exceeded by agent coder-1" in budget[0].title
    assert budget[0].severity == "high"
    # Paused: a reject on the agent's open task, by the budget policy.
    [pause] = [d for d in await store.decisions() if d.action == "reject"]
    assert pause.actor == "policy:budget:daily"
    assert "paused" in (pause.reason or "")
    # More spending in the same period, and a restarted service: no second escalation.
    await store.append([ev("usage", agent="coder-1", data={"cost_usd": 5})], origin="demo")
    again = PolicyService(load_policy({}), store, clock, budgets=list(guard.budgets))
    await again.step()
    assert len([e for e in await store.escalations() if e.kind == "budget"]) == 1
    # The next day is a new period.
    clock.advance(86400)
    await store.append([ev("usage", agent="coder-1", data={"cost_usd": 1.5})], origin="demo")
    await again.step()
    assert len([e for e in await store.escalations() if e.kind == "budget"]) == 2


async def test_vault_without_a_store_uses_the_database_file(
    store: SqliteStore, ev: Script, clock: Clock
) -> None:
    flt = IngestFilter(GuardrailConfig(), db_path=store.path, clock=clock)
    out = await flt([ev("log", agent="a", data={"text": "card 4111 1111 1111 1111"})], "demo")
    await store.append(out, origin="demo")
    [kept] = await vault_find(store)
    assert kept.original == "4111 1111 1111 1111"
    assert kept.placeholder == "[pii:card-number …1111]"
