"""A recorded history (requests, decisions, a flaky task) for the dry run and the metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from swarmdeck.store.db import Store
from swarmdeck.store.events import Action, Event, make_event
from tests.helpers.clock import Clock


def history_event(kind: str, n: int, ts: float, **fields: object) -> Event:
    return make_event(kind, id=f"h{n}", source="demo", ts=datetime.fromtimestamp(ts, UTC), **fields)


async def record_history(store: Store, now: float) -> None:
    """40 read requests (humans approved 37, rejected 3), 5 shell requests, 2 open reads,
    and one tester task that timed out 4 times and then completed."""
    t = now - 3600 * 5
    n = 0
    events: list[Event] = [
        history_event(
            "agent.seen", 0, t, agent="tester-1", data={"name": "tester-1", "role": "tester"}
        ),
        history_event(
            "agent.seen", 1, t, agent="coder-1", data={"name": "coder-1", "role": "coder"}
        ),
        history_event("task.created", 2, t, task="T-9", data={"title": "integration tests"}),
    ]
    n = 3
    for i in range(47):
        title = f"Read src/file{i}.py" if i < 42 else f"Bash make target{i}"
        if i in (40, 41):
            title = f"Grep TODO{i}"
        events.append(
            history_event("escalation.raised", n, t + i * 60, agent="coder-1",
                data={"id": f"R-{i}", "kind": "approval", "title": title})
        )  # fmt: skip
        n += 1
    for k in range(4):
        events.append(
            history_event("task.failed", n, t + 3000 + k * 60, task="T-9", agent="tester-1",
                data={"error": "Timeout after 60s"})
        )  # fmt: skip
        n += 1
    events.append(history_event("task.completed", n, t + 3600, task="T-9", agent="tester-1"))
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
