"""The versioned event model: the one vocabulary every adapter speaks.

Every fact that reaches swarmdeck is an *event* with a common envelope
(``v``, ``id``, ``ts``, ``source``, ``kind``, ``agent``, ``task``, ``workflow``)
and a ``data`` object whose shape depends on ``kind``. The models are strict
(unknown fields and kinds are rejected) because a typo in an adapter should be a
clear error at the door, not a silently empty column in the inbox.

Validation runs in pydantic-core (Rust): :func:`parse_event_json` takes raw
bytes straight to a typed model, which is what lets ingest reach tens of
thousands of events per second.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from swarmdeck.store.errors import InvalidDecision

#: The wire-format version this code writes and accepts.
WIRE_VERSION = 1

AgentState = Literal["idle", "working", "blocked", "failed", "done", "offline"]
Severity = Literal["low", "normal", "high", "critical"]
EscalationKind = Literal["approval", "question", "failure", "guardrail", "budget"]
Action = Literal["approve", "reject", "reroute", "retry", "answer"]
LogLevel = Literal["debug", "info", "warning", "error"]

SEVERITIES: tuple[Severity, ...] = ("low", "normal", "high", "critical")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
#: Every action a decision may take, in the order help texts list them.
ACTIONS: tuple[Action, ...] = get_args(Action)


def as_severity(text: str) -> Severity:
    """Narrow a stored severity to the literal (the schema only ever stores these four).

    Raises:
        ValueError: not one of :data:`SEVERITIES`.
    """
    for severity in SEVERITIES:
        if text == severity:
            return severity
    raise ValueError(f"unknown severity {text!r}")


def as_action(text: str) -> Action:
    """Narrow untrusted text (a CLI argument, a key's binding, a rule step) to an action.

    Raises:
        InvalidDecision: not one of :data:`ACTIONS`.
    """
    for action in ACTIONS:
        if text == action:
            return action
    raise InvalidDecision(
        f"unknown action {text!r} (use {', '.join(ACTIONS[:-1])} or {ACTIONS[-1]})"
    )


#: Every integer is stored as SQLite's signed 64-bit INTEGER: a larger one cannot be bound,
#: and a batch holding it would fail in the store instead of at the door.
INT64_MAX = 2**63 - 1
#: No single call costs a trillion dollars; the cap keeps sums far from overflowing to inf.
MAX_COST_USD = 1e12
#: Deadlines are for humans: one further than this from the event's ``ts`` is a mistake (and
#: "99999999999999d" would overflow the date arithmetic).
MAX_DEADLINE = timedelta(days=366)
#: Choices offered to a manager, and reroute targets: a screenful, not an unbounded list.
MAX_CHOICES = 100


def _printable_name(value: str) -> str:
    """Names and ids are identities a manager tells apart on screen: none may hold an
    escape, a control, a line break, a zero-width or bidi character, or any other
    character that prints as nothing (``bot`` and ``bot\\x1b]52;...`` would both show
    as ``bot``; a newline forges a line of its own). ``str.isprintable`` is exactly
    that set (every space but the ASCII one included), checked in C."""
    if not value.isprintable():
        bad = next(ch for ch in value if not ch.isprintable())
        raise ValueError(
            f"names and ids may not contain control, format or line-break characters "
            f"(found U+{ord(bad):04X})"
        )
    return value


_Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable_name)]
_Text = Annotated[str, Field(max_length=65_536)]
_Count = Annotated[int, Field(ge=0, le=INT64_MAX)]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> timedelta:
    """Parse ``"30s"``, ``"15m"``, ``"2h"``, ``"7d"`` into a timedelta.

    Raises:
        ValueError: with the offending text, when it is not a duration.
    """
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration (expected e.g. 30s, 15m, 2h, 7d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text[:40]!r} is longer than any date swarmdeck can count") from None


class _Strict(BaseModel):
    """Base for every wire model: unknown fields are errors, strings are stripped of nothing,
    floats are finite (``NaN``, ``Infinity`` and ``1e999`` are refused: they are not JSON
    and would come back out of ``--json`` outputs as invalid JSON)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- data payloads


class Empty(_Strict):
    """Payload of kinds that carry nothing beyond the envelope."""


class AgentSeenData(_Strict):
    name: _Name
    role: _Name
    model: _Name | None = None
    host: _Name | None = None
    vendor: _Name | None = None
    """What kind of agent or client this is: ``claude-code``, ``codex``, ``gemini``, ``mcp``,
    ``http``, ... (optional, added in wire version 1: events without it stay valid; the
    collector fills it from the adapter's type when the sender does not say)."""


class AgentStatusData(_Strict):
    state: AgentState
    activity: _Text = ""


class TaskCreatedData(_Strict):
    title: _Text
    parent: _Name | None = None
    depends_on: list[_Name] = Field(default_factory=list, max_length=1000)
    assignee: _Name | None = None


class TaskProgressData(_Strict):
    note: _Text = ""
    pct: float | None = Field(default=None, ge=0, le=100)


class TaskCompletedData(_Strict):
    result: _Text | None = None


class TaskFailedData(_Strict):
    error: _Text
    retryable: bool = True


class TaskHandoffData(_Strict):
    to_agent: _Name


class WorkflowNode(_Strict):
    id: _Name
    label: _Text = ""
    role: _Name | None = None
    gate: bool = False
    """A human gate: the node waits for a manager's approval."""


class WorkflowDefinedData(_Strict):
    name: _Name
    nodes: list[WorkflowNode] = Field(default_factory=list, max_length=5000)
    edges: list[tuple[_Name, _Name]] = Field(default_factory=list, max_length=20000)

    @model_validator(mode="after")
    def _edges_reference_nodes(self) -> WorkflowDefinedData:
        if self.nodes:
            known = {n.id for n in self.nodes}
            for src, dst in self.edges:
                for end in (src, dst):
                    if end not in known:
                        raise ValueError(f"edge {src!r} -> {dst!r} names unknown node {end!r}")
        return self


class EscalationRaisedData(_Strict):
    id: _Name
    kind: EscalationKind
    title: _Text
    body: _Text = ""
    severity: Severity = "normal"
    options: list[_Name] | None = Field(default=None, max_length=MAX_CHOICES)
    deadline: datetime | None = None
    """Absolute time, or a duration such as ``"15m"`` counted from the event's ``ts``; at
    most :data:`MAX_DEADLINE` away from ``ts``."""
    reroute_targets: list[_Name] | None = Field(default=None, max_length=MAX_CHOICES)
    tool: _Name | None = None
    """The tool the agent asks to run (a hook's ``tool_name``: ``Bash``, ``Read``,
    ``mcp__github__create_issue``), so rules match a structured name, not the free-text
    title. Absent on free-text requests (MCP ``request_approval``, questions, failures)."""

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class EscalationWithdrawnData(_Strict):
    id: _Name
    reason: _Text = ""


class UsageData(_Strict):
    tokens_in: _Count = 0
    tokens_out: _Count = 0
    cost_usd: float = Field(default=0.0, ge=0, le=MAX_COST_USD)


class LogData(_Strict):
    level: LogLevel = "info"
    text: _Text


# ----------------------------------------------------------------------------- envelopes


class _Envelope(_Strict):
    v: Literal[1] = 1
    id: _Name
    ts: datetime
    source: _Name
    agent: _Name | None = None
    task: _Name | None = None
    workflow: _Name | None = None

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # Naive timestamps are ambiguous across machines; treat them as UTC rather than local.
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class _AgentEnvelope(_Envelope):
    agent: _Name


class _TaskEnvelope(_Envelope):
    task: _Name


class AgentSeen(_AgentEnvelope):
    kind: Literal["agent.seen"]
    data: AgentSeenData


class AgentStatus(_AgentEnvelope):
    kind: Literal["agent.status"]
    data: AgentStatusData


class TaskCreated(_TaskEnvelope):
    kind: Literal["task.created"]
    data: TaskCreatedData


class TaskStarted(_TaskEnvelope):
    kind: Literal["task.started"]
    data: Empty = Empty()


class TaskProgress(_TaskEnvelope):
    kind: Literal["task.progress"]
    data: TaskProgressData


class TaskCompleted(_TaskEnvelope):
    kind: Literal["task.completed"]
    data: TaskCompletedData = TaskCompletedData()


class TaskFailed(_TaskEnvelope):
    kind: Literal["task.failed"]
    data: TaskFailedData


class TaskHandoff(_TaskEnvelope):
    kind: Literal["task.handoff"]
    data: TaskHandoffData


class WorkflowDefined(_Envelope):
    kind: Literal["workflow.defined"]
    data: WorkflowDefinedData


class EscalationRaised(_Envelope):
    kind: Literal["escalation.raised"]
    data: EscalationRaisedData

    @model_validator(mode="before")
    @classmethod
    def _resolve_deadline(cls, raw: Any) -> Any:
        """Turn a relative deadline (``"15m"``) into an absolute time counted from ``ts``."""
        if not isinstance(raw, dict):
            return raw
        data = raw.get("data")
        if isinstance(data, dict) and isinstance(data.get("deadline"), str):
            match = _DURATION.match(data["deadline"])
            if match:
                ts = raw.get("ts")
                try:
                    base = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
                except ValueError:
                    return raw  # the ts field reports its own error
                if base.tzinfo is None:
                    base = base.replace(tzinfo=UTC)
                seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
                if not seconds <= MAX_DEADLINE.total_seconds():
                    raise ValueError(_deadline_too_far(data["deadline"]))
                try:
                    raw = {**raw, "data": {**data, "deadline": base + timedelta(seconds=seconds)}}
                except OverflowError:  # ts near the end of the calendar
                    raise ValueError(_deadline_too_far(data["deadline"])) from None
        return raw

    @model_validator(mode="after")
    def _deadline_in_range(self) -> EscalationRaised:
        deadline = self.data.deadline
        if deadline is not None:
            try:
                far = abs(deadline - self.ts) > MAX_DEADLINE
            except OverflowError:
                far = True
            if far:
                raise ValueError(_deadline_too_far(deadline.isoformat()))
        return self


def _deadline_too_far(given: str) -> str:
    days = MAX_DEADLINE.days
    return f"data.deadline {given[:40]!r} is more than {days} days away from ts"


class EscalationWithdrawn(_Envelope):
    kind: Literal["escalation.withdrawn"]
    data: EscalationWithdrawnData


class Usage(_Envelope):
    kind: Literal["usage"]
    data: UsageData


class Log(_Envelope):
    kind: Literal["log"]
    data: LogData


Event: TypeAlias = Annotated[
    AgentSeen
    | AgentStatus
    | TaskCreated
    | TaskStarted
    | TaskProgress
    | TaskCompleted
    | TaskFailed
    | TaskHandoff
    | WorkflowDefined
    | EscalationRaised
    | EscalationWithdrawn
    | Usage
    | Log,
    Field(discriminator="kind"),
]

#: Every kind of the current wire version, in documentation order.
KINDS: tuple[str, ...] = (
    "agent.seen",
    "agent.status",
    "task.created",
    "task.started",
    "task.progress",
    "task.completed",
    "task.failed",
    "task.handoff",
    "workflow.defined",
    "escalation.raised",
    "escalation.withdrawn",
    "usage",
    "log",
)

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


class EventError(ValueError):
    """An event failed validation; ``str()`` is one precise, human-readable line."""


def _describe(exc: ValidationError) -> str:
    """Turn pydantic's error list into one line naming each bad field."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        # Drop the discriminator tag pydantic inserts ("task.failed") from the path.
        if loc and loc[0] in KINDS:
            loc = loc[1:]
        where = ".".join(loc) or "event"
        if err["type"] == "union_tag_invalid":
            tag = err.get("ctx", {}).get("tag", "?")
            parts.append(f"kind: unknown kind {tag!r} (known: {', '.join(KINDS)})")
        elif err["type"] == "union_tag_not_found":
            parts.append("kind: field required")
        elif err["type"] == "json_invalid":
            parts.append(f"not valid JSON ({err['msg'].removeprefix('Invalid JSON: ')})")
        elif err["type"] == "model_type" or err["type"] == "model_attributes_type":
            parts.append(f"{where}: expected a JSON object")
        elif err["type"] == "value_error" and not loc:
            parts.append(err["msg"].removeprefix("Value error, "))
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def parse_event_json(raw: str | bytes) -> Event:
    """Validate one JSON-encoded event.

    Raises:
        EventError: naming the field(s) at fault, e.g.
            ``data.severity: Input should be 'low', 'normal', 'high' or 'critical'``.
    """
    try:
        return EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        raise EventError(_describe(exc)) from None
    except (ArithmeticError, RecursionError, ValueError, TypeError) as exc:
        raise EventError(_unreadable(exc)) from None


def parse_event(obj: Any) -> Event:
    """Validate one event given as Python data (a dict decoded from JSON).

    Raises:
        EventError: as :func:`parse_event_json`; never anything else, whatever ``obj`` is.
    """
    try:
        return EVENT_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        raise EventError(_describe(exc)) from None
    except (ArithmeticError, RecursionError, ValueError, TypeError) as exc:
        raise EventError(_unreadable(exc)) from None


def _unreadable(exc: BaseException) -> str:
    """An error pydantic did not wrap (an overflow in date arithmetic, say): still one line,
    because an adapter that let it escape would crash on the same line forever."""
    return f"event cannot be read ({type(exc).__name__}: {str(exc)[:200]})"


def make_event(kind: str, **fields: Any) -> Event:
    """Build an event from keyword arguments; a convenience for adapters and tests.

    ``ts`` defaults to now and ``v`` to the current wire version.
    """
    fields.setdefault("ts", datetime.now(UTC))
    fields["kind"] = kind
    return parse_event(fields)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of the wire format (what ``swarmdeck schema`` prints)."""
    schema = EVENT_ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"swarmdeck event, wire version {WIRE_VERSION}"
    return schema
