"""Fold a batch of new events into per-entity row patches.

Ingest is fast because a batch of a thousand events touching forty agents turns
into forty upserts, not a thousand: events are folded in order into one patch per
agent and per task (last value wins, counters add up), and the patches are
written with a single ``executemany`` each. Rare kinds whose effect depends on the
row's current state (escalations, workflow definitions) are kept as an ordered
list of operations instead.

This module is pure Python with no I/O, so it is easy to test exhaustively.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.store import events as ev


@dataclass(slots=True)
class AgentPatch:
    name: str
    first_seen: float
    last_seen: float
    role: str | None = None
    model: str | None = None
    host: str | None = None
    state: str | None = None
    activity: str | None = None
    task: str | None = None
    workflow: str | None = None
    vendor: str | None = None
    events: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def row(self, origin: str, rev: int) -> tuple[Any, ...]:
        return (
            self.name,
            self.role,
            self.model,
            self.host,
            self.state,
            self.activity,
            self.task,
            self.workflow,
            self.first_seen,
            self.last_seen,
            self.events,
            self.tokens_in,
            self.tokens_out,
            self.cost_usd,
            origin,
            rev,
            self.vendor,
        )


@dataclass(slots=True)
class TaskPatch:
    id: str
    ts: float
    title: str | None = None
    workflow: str | None = None
    parent: str | None = None
    depends_on: str | None = None
    assignee: str | None = None
    state: str | None = None
    note: str | None = None
    pct: float | None = None
    result: str | None = None
    error: str | None = None
    retryable: int | None = None
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    started_ts: float | None = None
    ended_ts: float | None = None

    def row(self, origin: str, rev: int) -> tuple[Any, ...]:
        return (
            self.id,
            self.title,
            self.workflow,
            self.parent,
            self.depends_on,
            self.assignee,
            self.state,
            self.note,
            self.pct,
            self.result,
            self.error,
            self.retryable,
            self.failures,
            self.tokens_in,
            self.tokens_out,
            self.cost_usd,
            self.ts,
            self.started_ts,
            self.ended_ts,
            self.ts,
            origin,
            rev,
        )


@dataclass(slots=True)
class Fold:
    """The effect of one batch, ready to be written."""

    agents: dict[str, AgentPatch] = field(default_factory=dict)
    tasks: dict[str, TaskPatch] = field(default_factory=dict)
    edges: set[tuple[str, str, str, str]] = field(default_factory=set)
    workflows_touched: dict[str, float] = field(default_factory=dict)
    workflow_defs: list[tuple[str, str, float]] = field(default_factory=list)
    #: Ordered ``(kind, seq, event)`` escalation operations (their effect depends on order).
    escalation_ops: list[tuple[str, int, ev.Event]] = field(default_factory=list)


def _agent(fold: Fold, name: str, ts: float) -> AgentPatch:
    patch = fold.agents.get(name)
    if patch is None:
        patch = fold.agents[name] = AgentPatch(name=name, first_seen=ts, last_seen=ts)
    else:
        if ts < patch.first_seen:
            patch.first_seen = ts
        if ts > patch.last_seen:
            patch.last_seen = ts
    patch.events += 1
    return patch


def _task(fold: Fold, task_id: str, ts: float) -> TaskPatch:
    patch = fold.tasks.get(task_id)
    if patch is None:
        patch = fold.tasks[task_id] = TaskPatch(id=task_id, ts=ts)
    elif ts > patch.ts:
        patch.ts = ts
    return patch


def fold_events(batch: list[tuple[int, ev.Event, float]]) -> Fold:
    """Fold ``(seq, event, ts)`` triples, in seq order, into row patches."""
    fold = Fold()
    touched = fold.workflows_touched
    for seq, event, ts in batch:
        agent = _agent(fold, event.agent, ts) if event.agent else None
        if event.workflow and touched.get(event.workflow, 0.0) < ts:
            touched[event.workflow] = ts
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(fold, seq, event, ts, agent)
    return fold


def _agent_seen(fold: Fold, seq: int, event: Any, ts: float, agent: AgentPatch | None) -> None:
    assert agent is not None
    seen: ev.AgentSeenData = event.data
    agent.role = seen.role
    if seen.model is not None:
        agent.model = seen.model
    if seen.host is not None:
        agent.host = seen.host
    if seen.vendor is not None:
        agent.vendor = seen.vendor


def _agent_status(fold: Fold, seq: int, event: Any, ts: float, agent: AgentPatch | None) -> None:
    assert agent is not None
    status: ev.AgentStatusData = event.data
    agent.state = status.state
    agent.activity = status.activity
    if event.task:
        agent.task = event.task
    if event.workflow:
        agent.workflow = event.workflow


def _task_event(fold: Fold, seq: int, event: Any, ts: float, agent: AgentPatch | None) -> None:
    kind = event.kind
    task = _task(fold, event.task, ts)
    if event.workflow:
        task.workflow = event.workflow
    if kind == "task.progress":
        progress: ev.TaskProgressData = event.data
        task.note = progress.note
        if progress.pct is not None:
            task.pct = progress.pct
        return
    if kind == "task.created":
        created: ev.TaskCreatedData = event.data
        # Creation never moves a task that is already under way back to pending.
        task.state = task.state or "pending"
        task.title = created.title
        task.parent = created.parent
        task.depends_on = json.dumps(created.depends_on)
        if created.assignee:
            task.assignee = created.assignee
        flow = event.workflow or ""
        for dep in created.depends_on:
            fold.edges.add((flow, dep, event.task, "depends"))
        if created.parent:
            fold.edges.add((flow, created.parent, event.task, "parent"))
        return
    if kind == "task.started":
        task.state = "running"
        task.started_ts = ts
        task.ended_ts = None
        if event.agent:
            task.assignee = event.agent
    elif kind == "task.completed":
        completed: ev.TaskCompletedData = event.data
        task.state = "done"
        task.result = completed.result
        task.ended_ts = ts
        task.pct = 100.0
    elif kind == "task.failed":
        failed: ev.TaskFailedData = event.data
        task.state = "failed"
        task.error = failed.error
        task.retryable = int(failed.retryable)
        task.failures += 1
        task.ended_ts = ts
    elif kind == "task.handoff":
        handoff: ev.TaskHandoffData = event.data
        if event.agent:
            fold.edges.add((event.workflow or "", event.agent, handoff.to_agent, "handoff"))
        task.assignee = handoff.to_agent
    if agent is not None and kind in ("task.started", "task.handoff"):
        agent.task = event.task
        if event.workflow:
            agent.workflow = event.workflow


def _saturating(total: int, more: int) -> int:
    """Counters stop at int64's end (SQLite cannot bind more) instead of failing a batch."""
    return min(ev.INT64_MAX, total + more)


def _usage(fold: Fold, seq: int, event: Any, ts: float, agent: AgentPatch | None) -> None:
    usage: ev.UsageData = event.data
    if agent is not None:
        agent.tokens_in = _saturating(agent.tokens_in, usage.tokens_in)
        agent.tokens_out = _saturating(agent.tokens_out, usage.tokens_out)
        agent.cost_usd += usage.cost_usd
    if event.task:
        task = _task(fold, event.task, ts)
        task.tokens_in = _saturating(task.tokens_in, usage.tokens_in)
        task.tokens_out = _saturating(task.tokens_out, usage.tokens_out)
        task.cost_usd += usage.cost_usd


def _workflow_defined(
    fold: Fold, seq: int, event: Any, ts: float, agent: AgentPatch | None
) -> None:
    wf: ev.WorkflowDefinedData = event.data
    nodes = json.dumps([n.model_dump(exclude_defaults=True) for n in wf.nodes])
    fold.workflow_defs.append((wf.name, nodes, ts))
    if fold.workflows_touched.get(wf.name, 0.0) < ts:
        fold.workflows_touched[wf.name] = ts
    for src, dst in wf.edges:
        fold.edges.add((wf.name, src, dst, "flow"))


def _escalation(fold: Fold, seq: int, event: Any, ts: float, agent: AgentPatch | None) -> None:
    fold.escalation_ops.append((event.kind, seq, event))


_Handler = Callable[[Fold, int, Any, float, "AgentPatch | None"], None]

_HANDLERS: dict[str, _Handler] = {
    "agent.seen": _agent_seen,
    "agent.status": _agent_status,
    "task.created": _task_event,
    "task.started": _task_event,
    "task.progress": _task_event,
    "task.completed": _task_event,
    "task.failed": _task_event,
    "task.handoff": _task_event,
    "usage": _usage,
    "workflow.defined": _workflow_defined,
    "escalation.raised": _escalation,
    "escalation.withdrawn": _escalation,
}
