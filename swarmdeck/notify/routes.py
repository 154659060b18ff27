"""A configured route, compiled: which escalations it wants, when, and when it must keep quiet.

Pure functions of the route and the time: no store, no network. The notifier asks
:meth:`Route.wants` per escalation and :meth:`Route.quiet_until` per send.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from swarmdeck.config import ConfigError, NotifyRoute
from swarmdeck.store.events import SEVERITY_RANK, parse_duration
from swarmdeck.store.models import Escalation


def seconds(text: str) -> float:
    """A config duration (``0``, ``30s``, ``2m``) in seconds."""
    return 0.0 if text.strip() == "0" else parse_duration(text).total_seconds()


def _globs_match(globs: list[str], value: str | None) -> bool:
    if not globs:
        return True
    return value is not None and any(fnmatch.fnmatchcase(value, g) for g in globs)


_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    """A daily span of local time (may cross midnight: ``22:00-07:00``)."""

    start_min: int
    end_min: int
    tz: tzinfo | None

    @classmethod
    def parse(cls, text: str, tz: tzinfo | None) -> QuietHours:
        match = _SPAN.match(text)
        if match is None:  # the config pattern already refused it; keep mypy and us honest
            raise ConfigError(f"quiet_hours: {text!r} is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(h1 * 60 + m1, h2 * 60 + m2, tz)

    def until(self, now: float) -> float | None:
        """When the quiet span that ``now`` falls in ends, or None outside quiet hours."""
        if self.start_min == self.end_min:
            return None
        local = datetime.fromtimestamp(now, self.tz).astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        crosses = self.start_min > self.end_min
        inside = (
            (minute >= self.start_min or minute < self.end_min)
            if crosses
            else self.start_min <= minute < self.end_min
        )
        if not inside:
            return None
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = midnight + timedelta(minutes=self.end_min)
        if end <= local:
            end += timedelta(days=1)
        return end.timestamp()


@dataclass(frozen=True)
class Route:
    """One ``[[notify]]`` route with its durations in seconds and its quiet hours parsed."""

    config: NotifyRoute
    after: float
    deadline_warning: float
    digest_window: float
    quiet: QuietHours | None

    @classmethod
    def compile(cls, config: NotifyRoute) -> Route:
        """Raises:
        ConfigError: an unknown time zone (named with the route).
        """
        tz: tzinfo | None = None
        if config.timezone:
            try:
                tz = ZoneInfo(config.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"notify[{config.name}].timezone: unknown time zone {config.timezone!r}"
                ) from None
        quiet = QuietHours.parse(config.quiet_hours, tz) if config.quiet_hours else None
        return cls(
            config=config,
            after=seconds(config.after),
            deadline_warning=seconds(config.deadline_warning),
            digest_window=seconds(config.digest_window),
            quiet=quiet,
        )

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def health_name(self) -> str:
        """Its row in the adapters/health view."""
        return f"notify:{self.config.name}"

    def wants(self, escalation: Escalation, vendor: str | None) -> bool:
        """Does this route take this escalation at all (severity and globs; not timing)?"""
        c = self.config
        if SEVERITY_RANK.get(escalation.severity, 1) < SEVERITY_RANK[c.min_severity]:
            return False
        return (
            _globs_match(c.kind, escalation.kind)
            and _globs_match(c.agent, escalation.agent)
            and _globs_match(c.workflow, escalation.workflow)
            and _globs_match(c.vendor, vendor)
        )

    def due_at(self, escalation: Escalation) -> tuple[float, str] | None:
        """When this route should push the escalation, and why; None if never.

        The earliest of "waited ``after``" (or, for a budget escalation, "budget crossed")
        and "``deadline_warning`` before its deadline", among the triggers in ``on``.
        """
        on = self.config.on
        candidates: list[tuple[float, str]] = []
        trigger = "budget" if escalation.kind == "budget" else "escalation"
        if trigger in on:
            why = "budget crossed" if trigger == "budget" else _waited(self.after)
            candidates.append((escalation.raised_ts + self.after, why))
        if "deadline" in on and escalation.deadline is not None:
            candidates.append((escalation.deadline - self.deadline_warning, "deadline"))
        return min(candidates) if candidates else None

    def quiet_until(self, now: float, severity: str) -> float | None:
        """The end of the quiet hours holding a push of this severity, or None (send now)."""
        if self.quiet is None:
            return None
        if SEVERITY_RANK.get(severity, 1) >= SEVERITY_RANK[self.config.quiet_severity]:
            return None
        return self.quiet.until(now)


def _waited(after: float) -> str:
    if after <= 0:
        return "new"
    return f"waiting over {format_span(after)}"


def format_span(value: float) -> str:
    """``95`` -> ``1m35s``; ``7200`` -> ``2h``: short spans for one-line messages."""
    value = max(0, round(value))
    if value < 60:
        return f"{value}s"
    minutes, secs = divmod(value, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    return f"{hours // 24}d"


def compile_routes(routes: list[NotifyRoute]) -> list[Route]:
    """The enabled routes, compiled (raises ConfigError naming a bad one)."""
    return [Route.compile(r) for r in routes if r.enabled]
