"""Shared fixtures for the governance tests: a real Store in tmp_path with a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import Store
from swarmdeck.store.events import Action, Event, make_event

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC).timestamp()


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    db = await Store.open(tmp_path / "gov.db", clock=clock)
    try:
        yield db
    finally:
        await db.close()


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


@pytest.fixture
def ev(clock: Clock) -> Script:
    return Script(clock)


def _ev(kind: str, n: int, ts: float, **fields: object) -> Event:
    return make_event(kind, id=f"h{n}", source="demo", ts=datetime.fromtimestamp(ts, UTC), **fields)


async def record_history(store: Store, now: float) -> None:
    """40 read requests (humans approved 37, rejected 3), 5 shell requests, 2 open reads,
    and one tester task that timed out 4 times and then completed."""
    t = now - 3600 * 5
    n = 0
    events: list[Event] = [
        _ev("agent.seen", 0, t, agent="tester-1", data={"name": "tester-1", "role": "tester"}),
        _ev("agent.seen", 1, t, agent="coder-1", data={"name": "coder-1", "role": "coder"}),
        _ev("task.created", 2, t, task="T-9", data={"title": "integration tests"}),
    ]
    n = 3
    for i in range(47):
        title = f"Read src/file{i}.py" if i < 42 else f"Bash make target{i}"
        if i in (40, 41):
            title = f"Grep TODO{i}"
        events.append(
            _ev("escalation.raised", n, t + i * 60, agent="coder-1",
                data={"id": f"R-{i}", "kind": "approval", "title": title})
        )  # fmt: skip
        n += 1
    for k in range(4):
        events.append(
            _ev("task.failed", n, t + 3000 + k * 60, task="T-9", agent="tester-1",
                data={"error": "Timeout after 60s"})
        )  # fmt: skip
        n += 1
    events.append(_ev("task.completed", n, t + 3600, task="T-9", agent="tester-1"))
    await store.append(events, origin="demo")
    decided_at = t + 4000
    original = store.clock
    for i in range(47):
        if i in (40, 41):
            continue  # still open
        store.clock = Clock(decided_at + i * 30)
        action: Action = "reject" if i in (3, 17, 29) else "approve"
        await store.decide(
            f"R-{i}", action, actor="ann@box", reason="no" if action == "reject" else None
        )
    store.clock = original
