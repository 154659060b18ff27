"""What outcome velocity (``swarmdeck report``, the ``:metrics`` screen) counts."""

from __future__ import annotations

from typing import NamedTuple

from swarmdeck.store.db import Store
from swarmdeck.store.events import Action


class DecisionTiming(NamedTuple):
    """One decision with what is needed to tell a human wait from an instant one."""

    ts: float
    actor: str
    action: Action
    raised_ts: float
    """When the escalation it decided was raised."""
    source: str
    """The escalation's source (``swarmdeck`` for one raised to act on a task)."""
    escalation: str


class PolicyDecision(NamedTuple):
    ts: float
    actor: str
    action: Action
    title: str
    """The decided escalation's title."""


class GuardrailHit(NamedTuple):
    agent: str | None
    title: str
    raised_ts: float


async def completed_task_ends(store: Store, *, since: float, until: float) -> list[float]:
    """When each task that is done ended, for those ending in ``[since, until]``."""
    found = await store._fetchall(
        "SELECT ended_ts FROM tasks WHERE state = 'done' AND ended_ts >= ? AND ended_ts <= ?",
        (since, until),
    )
    return [float(r[0]) for r in found]


async def failed_task_count(store: Store, *, since: float, until: float) -> int:
    """Tasks that are failed and ended in ``[since, until]``."""
    row = await store._fetchone(
        "SELECT COUNT(*) FROM tasks WHERE state = 'failed' AND ended_ts >= ? AND ended_ts <= ?",
        (since, until),
    )
    return int(row[0]) if row else 0


async def active_task_count(store: Store, *, since: float, until: float) -> int:
    """Tasks created before ``until`` and updated at or after ``since``."""
    row = await store._fetchone(
        "SELECT COUNT(*) FROM tasks WHERE updated_ts >= ? AND created_ts < ?", (since, until)
    )
    return int(row[0]) if row else 0


async def decisions_between(store: Store, *, since: float, until: float) -> list[DecisionTiming]:
    """Every decision made in ``[since, until]``, with its escalation's raise time."""
    found = await store._fetchall(
        "SELECT d.ts, d.actor, d.action, e.raised_ts, e.source, e.id FROM decisions d "
        "JOIN escalations e ON e.id = d.escalation WHERE d.ts >= ? AND d.ts <= ?",
        (since, until),
    )
    return [DecisionTiming(*r) for r in found]


async def recent_policy_decisions(store: Store, limit: int = 8) -> list[PolicyDecision]:
    """The latest decisions made by a policy (actor ``policy:*``), newest first."""
    found = await store._fetchall(
        "SELECT d.ts, d.actor, d.action, e.title FROM decisions d "
        "JOIN escalations e ON e.id = d.escalation WHERE d.actor LIKE 'policy:%' "
        "ORDER BY d.id DESC LIMIT ?",
        (limit,),
    )
    return [PolicyDecision(*r) for r in found]


async def open_guardrail_escalations(store: Store, limit: int = 8) -> list[GuardrailHit]:
    """Open ``guardrail`` escalations, newest first."""
    found = await store._fetchall(
        "SELECT e.agent, e.title, e.raised_ts FROM escalations e "
        "WHERE e.kind = 'guardrail' AND e.state = 'open' ORDER BY e.raised_ts DESC LIMIT ?",
        (limit,),
    )
    return [GuardrailHit(*r) for r in found]
