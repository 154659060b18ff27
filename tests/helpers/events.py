"""Event builders shared by the tests: unique ids, timestamps from a fixed base."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from swarmdeck.store.events import Event, make_event

BASE = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


def ev(kind: str, *, source: str = "test", offset: float = 0.0, **fields: Any) -> Event:
    """An event with a unique id and a timestamp ``offset`` seconds after BASE."""
    fields.setdefault("id", f"e{next(_ids)}")
    fields.setdefault("ts", BASE + timedelta(seconds=offset))
    return make_event(kind, source=source, **fields)


def raise_escalation(
    esc_id: str,
    *,
    agent: str = "coder-1",
    task: str | None = "T-1",
    severity: str = "normal",
    kind: str = "approval",
    offset: float = 0.0,
    **data: Any,
) -> Event:
    payload = {"id": esc_id, "kind": kind, "title": f"title of {esc_id}", "severity": severity}
    payload.update(data)
    return ev(
        "escalation.raised", agent=agent, task=task, workflow="wf", offset=offset, data=payload
    )


def as_stored_unchecked(
    event: Event, *, data: dict[str, Any] | None = None, **fields: Any
) -> Event:
    """``event`` with fields replaced *without validation*: text an older swarmdeck (or any
    other writer of the database) may have stored that the door now refuses, such as an
    escape in an agent name. Whatever shows stored text must stay safe with it."""
    if data:
        event = event.model_copy(update={"data": event.data.model_copy(update=data)})
    return event.model_copy(update=fields) if fields else event
