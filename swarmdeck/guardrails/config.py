"""The ``[guardrails]`` section: detectors, extra patterns, allowlists and budgets.

``swarmdeck.config.Settings.guardrails`` is a free dict; this model gives it a shape
and is validated once at start-up, so a typo fails with the field named, e.g.
``guardrails.patterns[ticket-ids].regex: not a valid regular expression (...)``.

Example::

    [guardrails]
    personal_data = true
    allowlist = ["AKIAIOSFODNN7EXAMPLE"]      # regexes; a hit inside a match is not a hit
    [[guardrails.patterns]]
    name = "internal-host"
    regex = "\\\\bprod-db-\\\\d+\\\\.corp\\\\b"
    category = "secret"
    [[guardrails.budgets]]
    name = "daily-cost"
    per = "agent"                 # or "workflow"
    period = "1d"
    max_cost_usd = 5.0
    pause = true
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from swarmdeck.config import ConfigError
from swarmdeck.store.events import Severity, parse_duration

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from None
    return value


class PatternConfig(_Model):
    """An extra detector: a regular expression whose matches are masked."""

    name: str = Field(pattern=_NAME)
    """Shown in the placeholder: ``[secret:<name> …abcd]``."""
    regex: str
    """Python regular expression; the whole match (or group 1, if any) is masked."""
    category: Literal["secret", "pii"] = "secret"
    severity: Severity | None = None
    """Severity of the escalation a hit raises (default: by category)."""

    _check = field_validator("regex")(_check_regex)


class BudgetConfig(_Model):
    """Tokens or cost per agent (or per workflow) per period."""

    name: str = Field(pattern=_NAME)
    per: Literal["agent", "workflow"] = "agent"
    """Count separately for each agent, or for each workflow."""
    agent: str | None = None
    """Only agents whose name matches this glob (``coder-*``)."""
    role: str | None = None
    """Only agents with this role (glob)."""
    workflow: str | None = None
    """Only this workflow (glob)."""
    period: str = "1d"
    """Length of one budget period (``1h``, ``1d``, ``7d``); periods are aligned to UTC."""
    max_tokens: int | None = Field(default=None, gt=0)
    """tokens_in + tokens_out allowed per period."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    pause: bool = False
    """Also pause the agent (a ``reject`` decision on its open task, actor ``policy:budget``)."""
    severity: Severity = "high"

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        if parse_duration(value) < timedelta(minutes=1):
            raise ValueError("a budget period is at least 1m")
        return value

    @model_validator(mode="after")
    def _limit(self) -> BudgetConfig:
        if self.max_tokens is None and self.max_cost_usd is None:
            raise ValueError("give max_tokens or max_cost_usd (or both)")
        return self

    def period_seconds(self) -> float:
        return parse_duration(self.period).total_seconds()


class GuardrailConfig(_Model):
    """Secret and personal-data detection at ingest, and budgets."""

    enabled: bool = True
    """Scan every ingested event; ``false`` turns the ingest filter off entirely."""
    secrets: bool = True
    """Built-in secret detectors (cloud keys, tokens, private keys, JWTs, high entropy)."""
    personal_data: bool = True
    """Built-in personal-data detectors (emails, phone numbers, card numbers, IBANs)."""
    disable: list[str] = Field(default_factory=list)
    """Detectors to turn off by name: built-in (``["phone", "high-entropy"]``) or a rule of
    the rule set (``"twilio-api-key"``)."""
    rule_set: Literal["gitleaks", "none"] = "gitleaks"
    """The maintained provider rules run after the built-in secret detectors: ``gitleaks``
    (its ~200 provider rules, vendored as data) or ``none``."""
    entropy_min_length: int = Field(default=32, ge=16, le=1024)
    """High-entropy strings shorter than this are never flagged."""
    entropy_threshold: float = Field(default=4.5, gt=0, le=8)
    """Shannon entropy in bits per character above which a long token is a secret."""
    patterns: list[PatternConfig] = Field(default_factory=list)
    allowlist: list[str] = Field(default_factory=list)
    """Regexes of text that is never masked (a hit inside a match is ignored)."""
    secret_severity: Severity = "high"  # noqa: S105 (a severity, not a password)
    personal_severity: Severity = "normal"
    budgets: list[BudgetConfig] = Field(default_factory=list)

    @field_validator("allowlist")
    @classmethod
    def _allow(cls, value: list[str]) -> list[str]:
        for i, item in enumerate(value):
            try:
                re.compile(item)
            except re.error as exc:
                raise ValueError(f"[{i}] not a valid regular expression ({exc})") from None
        return value

    @field_validator("disable")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        from swarmdeck.guardrails.detectors import BUILTIN_NAMES

        unknown = [name for name in value if name not in BUILTIN_NAMES]
        if unknown:
            from swarmdeck.guardrails.rulesets import default_rule_set

            rule_ids = set(default_rule_set().ids)
            for name in unknown:
                if name not in rule_ids:
                    raise ValueError(
                        f"unknown detector {name!r} (built-in: {', '.join(sorted(BUILTIN_NAMES))};"
                        " or a rule id of the gitleaks rule set)"
                    )
        return value

    @model_validator(mode="after")
    def _unique(self) -> GuardrailConfig:
        for label, items in (("patterns", self.patterns), ("budgets", self.budgets)):
            seen: set[str] = set()
            for item in items:
                if item.name in seen:
                    raise ValueError(f"two {label} are named {item.name!r}")
                seen.add(item.name)
        return self


def describe_errors(section: str, raw: Any, exc: ValidationError) -> str:
    """One line per error, lists of named items shown by name: ``policy.rules[x].path[1]``."""
    parts = []
    for err in exc.errors(include_url=False):
        path = section
        node: Any = raw
        for part in err["loc"]:
            if isinstance(part, int):
                item = node[part] if isinstance(node, list) and part < len(node) else None
                name = item.get("name") if isinstance(item, dict) else None
                path += f"[{name}]" if isinstance(name, str) and name else f"[{part}]"
                node = item
            else:
                path += f".{part}"
                node = node.get(part) if isinstance(node, dict) else None
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{path}: {message}")
    return "; ".join(parts)


def load_guardrails(raw: dict[str, Any] | None) -> GuardrailConfig:
    """Validate ``settings.guardrails``.

    Raises:
        ConfigError: naming the field, e.g. ``guardrails.budgets[daily].period: ...``.
    """
    try:
        return GuardrailConfig.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(describe_errors("guardrails", raw or {}, exc)) from None
