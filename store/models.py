"""Plain read models the store hands out: what the panes, the CLI and adapters consume.

They are frozen slotted dataclasses, not ORM objects: cheap to build by the ten
thousand, safe to pass between threads and processes, and ``to_dict()`` gives the
``--json`` shape (field names are the public contract).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Literal

from swarmdeck.store.events import Action, EscalationKind, Severity

#: ``open`` until decided (by a manager or a policy) or withdrawn (by its source).
EscalationState = Literal["open", "decided", "withdrawn"]
#: Where a decision is on its way back to the agent.
DeliveryState = Literal["pending", "retrying", "delivered", "failed"]


@dataclass(frozen=True, slots=True)
class Row:
    """Base: ``to_dict()`` for JSON output, field names as keys."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class AppendResult(Row):
    accepted: int
    duplicates: int
    first_seq: int | None
    last_seq: int | None
    rev: int


@dataclass(frozen=True, slots=True)
class StoredEvent(Row):
    seq: int
    source: str
    id: str
    ts: float
    kind: str
    agent: str | None
    task: str | None
    workflow: str | None
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Agent(Row):
    name: str
    role: str
    model: str | None
    host: str | None
    state: str
    activity: str
    task: str | None
    workflow: str | None
    first_seen: float
    last_seen: float
    events: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    origin: str
    rev: int


@dataclass(frozen=True, slots=True)
class Task(Row):
    id: str
    title: str
    workflow: str | None
    parent: str | None
    depends_on: list[str]
    assignee: str | None
    state: str
    note: str
    pct: float | None
    result: str | None
    error: str | None
    retryable: bool | None
    failures: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    created_ts: float
    started_ts: float | None
    ended_ts: float | None
    updated_ts: float
    origin: str
    rev: int


@dataclass(frozen=True, slots=True)
class WorkflowNode(Row):
    id: str
    label: str
    role: str | None
    gate: bool
    state: str
    """The state of the task that runs this node (``pending`` when none has started)."""
    assignee: str | None
    task: str | None


@dataclass(frozen=True, slots=True)
class Workflow(Row):
    name: str
    nodes: list[WorkflowNode]
    edges: list[tuple[str, str]]
    defined: bool
    updated_ts: float
    rev: int


@dataclass(frozen=True, slots=True)
class WorkflowSummary(Row):
    name: str
    tasks: int
    done: int
    failed: int
    running: int
    open_escalations: int
    updated_ts: float
    rev: int


@dataclass(frozen=True, slots=True)
class Escalation(Row):
    id: str
    kind: EscalationKind
    title: str
    body: str
    severity: Severity
    options: list[str] | None
    deadline: float | None
    reroute_targets: list[str] | None
    agent: str | None
    task: str | None
    workflow: str | None
    source: str
    origin: str
    state: EscalationState
    raised_ts: float
    raised_seq: int
    decided_ts: float | None
    decided_by: str | None
    action: Action | None
    reason: str | None
    target: str | None
    delivery: DeliveryState | None
    """Delivery state of the decision: ``pending``, ``retrying``, ``delivered`` or ``failed``."""
    delivery_error: str | None
    rev: int


@dataclass(frozen=True, slots=True)
class Decision(Row):
    id: int
    escalation: str
    action: Action
    reason: str | None
    target: str | None
    answer: str | None
    actor: str
    ts: float
    host: str | None = None
    """Where the decision was made (the deciding manager's host), when known."""


@dataclass(frozen=True, slots=True)
class Lease(Row):
    """Who leads ``name`` (an adapter instance, or ``policy``) until when.

    ``epoch`` grows on every change of holder: a write fenced with an older epoch is
    refused (:class:`swarmdeck.store.errors.LeaseLost`).
    """

    name: str
    holder: str
    epoch: int
    expires_ts: float


@dataclass(frozen=True, slots=True)
class Delivery(Row):
    """One outbox row due for delivery, with what the adapter needs to act on it."""

    outbox_id: int
    adapter: str
    attempts: int
    decision: Decision
    escalation: Escalation


@dataclass(frozen=True, slots=True)
class OutboxEntry(Row):
    """The outbox row that carries one decision."""

    id: int
    adapter: str
    state: DeliveryState
    attempts: int


@dataclass(frozen=True, slots=True)
class AuditRecord(Row):
    seq: int
    ts: float
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditVerdict(Row):
    ok: bool
    records: int
    problems: list[str]


@dataclass(frozen=True, slots=True)
class DeadLetter(Row):
    id: int
    ts: float
    origin: str
    location: str
    raw: str
    error: str


@dataclass(frozen=True, slots=True)
class AdapterHealth(Row):
    name: str
    type: str
    state: str
    """``starting``, ``running``, ``degraded``, ``crashed`` (restarting), ``stopped``."""
    detail: str
    restarts: int
    last_error: str | None
    updated_ts: float
    rev: int


def loads_list(text: str | None) -> list[Any] | None:
    """Decode a JSON list column (NULL stays None)."""
    return None if text is None else list(json.loads(text))
