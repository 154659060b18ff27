"""The rules model: ``[[policy.rules]]`` in the config file, validated once at start-up.

A rule is a *match* and a *path* of steps::

    [[policy.rules]]
    name = "flaky-tests"
    match = { kind = "task.failed", role = "tester", error = "(?i)timeout|flaky" }
    path = ["retry(max=2, backoff=30s)", "reroute(role=senior-coder)",
            "escalate(severity=high, deadline=15m)"]
    on_expiry = "reject(reason=nobody answered in time)"

Rules are tried in file order; the first whose match fits an event owns it.

Two subjects:

* ``task.failed`` rules walk a failing task along the path, one step per failure:
  ``retry(max=N, backoff=D)`` retries up to N times (each after the backoff), then
  the next step runs on the next failure; ``reroute(role=R)`` / ``reroute(agent=A)``
  hands the task over; ``escalate(severity=S, deadline=D)`` leaves the decision to a
  human with that severity and deadline; ``approve`` / ``reject(reason=...)`` decide.
* ``escalation.raised`` rules (or any rule with ``escalation_kind``) act on a new
  escalation with the first step of the path: ``approve``, ``reject(reason=...)``,
  ``retry``, ``reroute(...)``, or ``escalate(...)`` to change its severity and deadline.

``on_expiry`` is one step run when a deadline of an escalation this rule owns passes
(after the severity has been raised): ``reject(reason=...)``, ``reroute(...)``,
``approve`` or ``retry``.

A title is free text the agent writes ("Read the prod credentials, then DROP DATABASE
customers" starts with "Read"), so a rule that approves should say *who* asks and *what*
runs: ``origin`` (the adapter instance that ingested the escalation, which the sender
cannot choose), ``source`` and ``tool`` (the structured tool name a hook escalation
carries). And an ``approve`` step never decides a ``high`` or ``critical`` escalation
unless the rule's ``match.severity`` names that severity: the escalation stays for a human.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from swarmdeck.config import ConfigError
from swarmdeck.guardrails.config import describe_errors
from swarmdeck.store.events import KINDS, SEVERITIES, Action, Severity, as_action, parse_duration

STEP_NAMES = ("retry", "reroute", "escalate", "approve", "reject")

#: Severities an ``approve`` step decides only when the rule's match names them.
GUARDED_SEVERITIES = ("high", "critical")
_STEP = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*$", re.S)
_ARG = re.compile(r"""\s*([A-Za-z_]\w*)\s*=\s*("(?:[^"\\]|\\.)*"|'[^']*'|[^,]*)\s*(?:,|$)""")

_ALLOWED_ARGS: dict[str, tuple[str, ...]] = {
    "retry": ("max", "backoff"),
    "reroute": ("role", "agent", "reason"),
    "escalate": ("severity", "deadline"),
    "approve": ("reason",),
    "reject": ("reason",),
}


@dataclass(frozen=True, slots=True)
class Step:
    """One parsed step of a path."""

    name: str
    args: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def max(self) -> int:
        return int(self.args.get("max", "1"))

    @property
    def backoff(self) -> float:
        raw = self.args.get("backoff")
        return parse_duration(raw).total_seconds() if raw else 0.0

    @property
    def deadline(self) -> float | None:
        raw = self.args.get("deadline")
        return parse_duration(raw).total_seconds() if raw else None

    @property
    def target(self) -> str | None:
        return self.args.get("role") or self.args.get("agent")

    @property
    def action(self) -> Action:
        """The decision action this step writes.

        Raises:
            InvalidDecision: for ``escalate``, which writes none.
        """
        return as_action(self.name)

    @property
    def severity(self) -> Severity | None:
        """``escalate(severity=...)``, checked against the severities when parsed."""
        raw = self.args.get("severity")
        return next((s for s in SEVERITIES if s == raw), None)

    def describe(self) -> str:
        return self.text or self.name


def parse_step(text: str) -> Step:
    """Parse ``retry(max=2, backoff=30s)``.

    Raises:
        ValueError: a one-line reason (``unknown step 'retri'``).
    """
    match = _STEP.match(text)
    if not match:
        raise ValueError(f"cannot parse step {text!r} (expected e.g. retry(max=2, backoff=30s))")
    name, body = match.group(1), match.group(2)
    if name not in STEP_NAMES:
        raise ValueError(f"unknown step {name!r} (known: {', '.join(STEP_NAMES)})")
    args: dict[str, str] = {}
    if body and body.strip():
        pos = 0
        body = body.strip()
        while pos < len(body):
            m = _ARG.match(body, pos)
            if not m or m.end() == pos:
                raise ValueError(
                    f"{name}: cannot parse arguments {body!r} (expected key=value, ...)"
                )
            key, value = m.group(1), m.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            args[key] = value
            pos = m.end()
    for key in args:
        if key not in _ALLOWED_ARGS[name]:
            allowed = ", ".join(_ALLOWED_ARGS[name]) or "none"
            raise ValueError(f"{name}: unknown argument {key!r} (allowed: {allowed})")
    step = Step(name, args, text.strip())
    if name == "retry":
        if "max" in args and (not args["max"].isdigit() or int(args["max"]) < 1):
            raise ValueError(f"retry: max must be a positive integer, not {args['max']!r}")
        if "backoff" in args:
            parse_duration(args["backoff"])
    elif name == "reroute":
        if not step.target:
            raise ValueError("reroute: needs role=... or agent=...")
    elif name == "escalate":
        sev = args.get("severity")
        if sev is not None and sev not in SEVERITIES:
            raise ValueError(f"escalate: severity must be one of {', '.join(SEVERITIES)}")
        if "deadline" in args:
            parse_duration(args["deadline"])
    elif name == "reject" and not args.get("reason"):
        raise ValueError("reject: needs reason=... (the agent is told why)")
    return step


def _pattern(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression ({exc})") from None
    return value


class Match(BaseModel):
    """What a rule applies to. Name fields are globs (``coder-*``); text fields are regexes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str | list[str] | None = None
    """Event kind: ``task.failed`` or ``escalation.raised`` (inferred from escalation_kind)."""
    agent: str | None = None
    role: str | None = None
    workflow: str | None = None
    origin: str | list[str] | None = None
    """Glob(s) on the adapter instance that ingested it (``claude-code-hook``, ``mcp-stdio``,
    a configured adapter's name): set by swarmdeck, not by the sender."""
    source: str | list[str] | None = None
    """Glob(s) on the event's ``source`` (what the sender says it is)."""
    tool: str | list[str] | None = None
    """Glob(s) on the tool a hook escalation asks to run (``Read``, ``mcp__github__get_*``);
    an escalation without a tool (a free-text request) never matches a tool."""
    vendor: str | list[str] | None = None
    """The agent's vendor (``claude-code``, ``codex``, ``gemini``, ``mcp``, ...): one, a list,
    or globs (``"c*"``). An agent whose vendor is unknown matches no vendor."""
    escalation_kind: str | list[str] | None = None
    severity: str | list[str] | None = None
    error: str | None = None
    """Regex searched in the task's error text."""
    title: str | None = None
    """Regex searched in the escalation's title."""

    _error = field_validator("error", "title")(_pattern)

    @field_validator("kind")
    @classmethod
    def _kinds(cls, value: str | list[str] | None) -> str | list[str] | None:
        for k in [value] if isinstance(value, str) else value or []:
            if k not in KINDS:
                raise ValueError(f"unknown event kind {k!r}")
            if k not in ("task.failed", "escalation.raised"):
                raise ValueError(
                    f"rules act on 'task.failed' or 'escalation.raised' events, not {k!r}"
                )
        return value

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str | list[str] | None) -> str | list[str] | None:
        for s in [value] if isinstance(value, str) else value or []:
            if s not in SEVERITIES:
                raise ValueError(f"unknown severity {s!r} (known: {', '.join(SEVERITIES)})")
        return value

    def kinds(self) -> tuple[str, ...]:
        if self.kind is not None:
            return (self.kind,) if isinstance(self.kind, str) else tuple(self.kind)
        if any(f is not None for f in (self.escalation_kind, self.title, self.severity, self.tool)):
            return ("escalation.raised",)
        return ("task.failed",)

    def names_severity(self, severity: str) -> bool:
        """Whether ``severity`` is named explicitly (what lets ``approve`` decide it)."""
        return self.severity is not None and _one_of(severity, self.severity)

    def identifies(self) -> bool:
        """Whether the match says who asks or what runs (more than the free-text title)."""
        return any(
            f is not None
            for f in (self.origin, self.source, self.tool, self.agent, self.role, self.workflow)
        )


def _one_of(value: str, wanted: str | list[str] | None) -> bool:
    if wanted is None:
        return True
    return value in ([wanted] if isinstance(wanted, str) else wanted)


def _glob(value: str | None, pattern: str | list[str] | None) -> bool:
    if pattern is None:
        return True
    patterns = [pattern] if isinstance(pattern, str) else pattern
    return value is not None and any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a rule is matched against: a failed task or a raised escalation."""

    kind: str
    agent: str | None = None
    role: str | None = None
    workflow: str | None = None
    escalation_kind: str | None = None
    severity: str | None = None
    error: str = ""
    title: str = ""
    origin: str | None = None
    source: str | None = None
    tool: str | None = None
    vendor: str | None = None


class Rule(BaseModel):
    """One ``[[policy.rules]]`` entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    match: Match
    path: list[str] = Field(min_length=1, max_length=20)
    on_expiry: str | None = None
    enabled: bool = True
    description: str = ""

    @field_validator("path")
    @classmethod
    def _path(cls, value: list[str]) -> list[str]:
        errors = []
        for i, text in enumerate(value):
            try:
                parse_step(text)
            except ValueError as exc:
                errors.append((i, str(exc)))
        if errors:
            i, msg = errors[0]
            # Raised as a plain ValueError; describe_errors turns the marker into "path[i]".
            raise ValueError(f"@{i}@{msg}")
        return value

    @field_validator("on_expiry")
    @classmethod
    def _expiry(cls, value: str | None) -> str | None:
        if value is not None:
            step = parse_step(value)
            if step.name == "escalate":
                raise ValueError("on_expiry cannot escalate (the deadline already raised it)")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Rule:
        kinds = self.match.kinds()
        if "task.failed" in kinds and (
            self.match.escalation_kind or self.match.title or self.match.tool
        ):
            raise ValueError("match: escalation_kind/title/tool only apply to escalation.raised")
        return self

    def may_approve(self, severity: str | None) -> bool:
        """An ``approve`` step decides a high/critical escalation only if the match names it."""
        return severity not in GUARDED_SEVERITIES or self.match.names_severity(severity or "")

    def approves(self) -> bool:
        """Whether any step of this rule (its path or ``on_expiry``) is an ``approve``."""
        steps = [*self.path, *([self.on_expiry] if self.on_expiry else [])]
        return any(parse_step(s).name == "approve" for s in steps)

    def warnings(self) -> list[str]:
        """What ``policy check`` warns about (valid, but likely to approve the wrong thing)."""
        out = []
        if self.approves() and self.match.title is not None and not self.match.identifies():
            out.append(
                f"rule {self.name} approves on a title match alone: the title is free text "
                "the agent writes; add origin, tool or source (or agent/role) to the match"
            )
        return out

    def steps(self) -> list[Step]:
        return [parse_step(s) for s in self.path]

    def expiry_step(self) -> Step | None:
        return parse_step(self.on_expiry) if self.on_expiry else None

    def matches(self, subject: Subject) -> bool:
        m = self.match
        if not self.enabled or subject.kind not in m.kinds():
            return False
        if not (
            _glob(subject.agent, m.agent)
            and _glob(subject.role, m.role)
            and _glob(subject.workflow, m.workflow)
            and _glob(subject.origin, m.origin)
            and _glob(subject.source, m.source)
            and _glob(subject.tool, m.tool)
            and _glob(subject.vendor, m.vendor)
        ):
            return False
        if m.escalation_kind is not None and not _one_of(
            subject.escalation_kind or "", m.escalation_kind
        ):
            return False
        if m.severity is not None and not _one_of(subject.severity or "", m.severity):
            return False
        if m.error is not None and not re.search(m.error, subject.error or ""):
            return False
        return m.title is None or bool(re.search(m.title, subject.title or ""))


class PolicyConfig(BaseModel):
    """The ``[policy]`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule] = Field(default_factory=list)
    sweep_interval: float = Field(default=1.0, gt=0, le=3600)
    """Seconds between deadline sweeps."""
    poll_interval: float = Field(default=0.2, gt=0, le=60)
    """Seconds between change-feed polls when idle."""

    @model_validator(mode="after")
    def _unique(self) -> PolicyConfig:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.name in seen:
                raise ValueError(f"two rules are named {rule.name!r}")
            seen.add(rule.name)
        return self

    def first_match(self, subject: Subject) -> Rule | None:
        for rule in self.rules:
            if rule.matches(subject):
                return rule
        return None

    def rule(self, name: str) -> Rule | None:
        return next((r for r in self.rules if r.name == name), None)

    def fingerprint(self) -> str:
        """A hash of the rule set, to notice a change between runs."""
        return hashlib.sha256(json.dumps(self.canonical(), sort_keys=True).encode()).hexdigest()

    def canonical(self) -> dict[str, Any]:
        return {r.name: r.model_dump(mode="json", exclude_defaults=True) for r in self.rules}


def load_policy(raw: dict[str, Any] | None, *, origin: str = "policy") -> PolicyConfig:
    """Validate ``settings.policy`` (or a candidate rules file's content).

    Raises:
        ConfigError: ``policy.rules[routine-reads].path[1]: unknown step 'retri' (...)``.
    """
    try:
        return PolicyConfig.model_validate(raw or {})
    except ValidationError as exc:
        text = describe_errors(origin, raw or {}, exc)
        text = re.sub(r"\.path: @(\d+)@", r".path[\1]: ", text)
        raise ConfigError(text) from None


Kind = Literal["task.failed", "escalation.raised"]
