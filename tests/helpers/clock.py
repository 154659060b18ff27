"""A clock tests move by hand, and events stamped with its time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from swarmdeck.store.events import Event, make_event

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC).timestamp()


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Script:
    """Builds events with increasing ids and the clock's time."""

    def __init__(self, clock: Clock, source: str = "demo") -> None:
        self.clock = clock
        self.source = source
        self.n = 0

    def __call__(self, kind: str, **fields: Any) -> Event:
        self.n += 1
        fields.setdefault("id", f"e{self.n}")
        fields.setdefault("source", self.source)
        fields.setdefault("ts", datetime.fromtimestamp(self.clock(), UTC))
        return make_event(kind, **fields)
