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
from dataclasses import dataclass, field
from typing import Any

from store import events as ev

#: Task state set by each task kind.
_TASK_STATE = {
    "task.created": "pending",
    "task.started": "running",
    "task.completed": "done",
    "task.failed": "failed",
}


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
    #: Ordered ``("raise", seq, event)`` / ``("withdraw", seq, event)`` operations.
    escalation_ops: list[tuple[str, int, ev.Event]] = field(default_factory=list)


def _agent(fold: Fold, name: str, ts: float) -> AgentPatch:
    patch = fold.agents.get(name)
    if patch is None:
        patch = fold.agents[name] = AgentPatch(name=name, first_seen=ts, last_seen=ts)
    else:
        patch.first_seen = min(patch.first_seen, ts)
        patch.last_seen = max(patch.last_seen, ts)
    return patch


def _task(fold: Fold, task_id: str, ts: float) -> TaskPatch:
    patch = fold.tasks.get(task_id)
    if patch is None:
        patch = fold.tasks[task_id] = TaskPatch(id=task_id, ts=ts)
    else:
        patch.ts = max(patch.ts, ts)
    return patch


def fold_events(batch: list[tuple[int, ev.Event]]) -> Fold:
    """Fold ``(seq, event)`` pairs, in seq order, into row patches."""
    fold = Fold()
    for seq, event in batch:
        ts = event.ts.timestamp()
        kind = event.kind
        agent = _agent(fold, event.agent, ts) if event.agent else None
        if agent is not None:
            agent.events += 1
        if event.workflow:
            fold.workflows_touched[event.workflow] = max(
                fold.workflows_touched.get(event.workflow, ts), ts
            )
        if isinstance(event, ev.AgentSeen):
            assert agent is not None
            seen = event.data
            agent.role = seen.role
            agent.model = seen.model if seen.model is not None else agent.model
            agent.host = seen.host if seen.host is not None else agent.host
        elif isinstance(event, ev.AgentStatus):
            assert agent is not None
            agent.state = event.data.state
            agent.activity = event.data.activity
            if event.task:
                agent.task = event.task
            if event.workflow:
                agent.workflow = event.workflow
        elif kind.startswith("task."):
            assert event.task is not None
            task = _task(fold, event.task, ts)
            if event.workflow:
                task.workflow = event.workflow
            if kind == "task.created":
                # Creation never moves a task that is already under way back to pending.
                task.state = task.state or "pending"
            elif kind in _TASK_STATE:
                task.state = _TASK_STATE[kind]
            if isinstance(event, ev.TaskCreated):
                created = event.data
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
            elif isinstance(event, ev.TaskStarted):
                task.started_ts = ts
                task.ended_ts = None
                if event.agent:
                    task.assignee = event.agent
            elif isinstance(event, ev.TaskProgress):
                task.note = event.data.note
                if event.data.pct is not None:
                    task.pct = event.data.pct
            elif isinstance(event, ev.TaskCompleted):
                task.result = event.data.result
                task.ended_ts = ts
                task.pct = 100.0
            elif isinstance(event, ev.TaskFailed):
                task.error = event.data.error
                task.retryable = int(event.data.retryable)
                task.failures += 1
                task.ended_ts = ts
            elif isinstance(event, ev.TaskHandoff):
                to_agent = event.data.to_agent
                if event.agent:
                    fold.edges.add((event.workflow or "", event.agent, to_agent, "handoff"))
                task.assignee = to_agent
            if agent is not None and kind in ("task.started", "task.handoff"):
                agent.task = event.task
                if event.workflow:
                    agent.workflow = event.workflow
        elif isinstance(event, ev.Usage):
            usage = event.data
            if agent is not None:
                agent.tokens_in += usage.tokens_in
                agent.tokens_out += usage.tokens_out
                agent.cost_usd += usage.cost_usd
            if event.task:
                task = _task(fold, event.task, ts)
                task.tokens_in += usage.tokens_in
                task.tokens_out += usage.tokens_out
                task.cost_usd += usage.cost_usd
        elif isinstance(event, ev.WorkflowDefined):
            wf = event.data
            nodes = json.dumps([n.model_dump(exclude_defaults=True) for n in wf.nodes])
            fold.workflow_defs.append((wf.name, nodes, ts))
            fold.workflows_touched[wf.name] = max(fold.workflows_touched.get(wf.name, ts), ts)
            for src, dst in wf.edges:
                fold.edges.add((wf.name, src, dst, "flow"))
        elif isinstance(event, ev.EscalationRaised):
            fold.escalation_ops.append(("raise", seq, event))
        elif isinstance(event, ev.EscalationWithdrawn):
            fold.escalation_ops.append(("withdraw", seq, event))
    return fold
