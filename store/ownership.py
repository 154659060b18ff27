"""Who may change an escalation: only the source that raised it, and never what was shown.

A manager approves what the inbox showed. Two things could once change that:

* any source could withdraw any open escalation, and a waiting hook then took the
  withdrawal as its answer (the configured default: ``allow`` when so configured);
* the raising source could re-raise an open escalation's id with new content, so
  "Read: README.md" became "Bash: rm -rf /srv/prod" under the manager's cursor.

So a withdrawal counts only from the source that raised the escalation, and a
re-raise of an id already in use is applied only when it is the same request again
(an at-least-once sender repeating itself): the same source, still open, and the
same content as the raise the manager saw. Anything else goes to the dead letters
with the reason; an agent that changes its request withdraws it and raises a new id.

Both backends call it inside the ingest transaction, after their own statement did
not apply (SQLite's and PostgreSQL's raise is ``ON CONFLICT DO NOTHING``, their
withdrawal ``... AND source = ?``); reading, in shared SQL, is all it does.
"""

from __future__ import annotations

import json
from typing import Any

from swarmdeck.store import events as ev
from swarmdeck.store.base import StoreCore

#: Escalation fields compared between a re-raise and the raise the manager saw (the
#: row's columns, for a raise that retention pruned).
_SHOWN = ("kind", "title", "body", "severity", "options", "deadline", "reroute_targets")
#: And the tool asked for, which rules match on (it has no column of its own).
_SHOWN_DATA = (*_SHOWN, "tool")


def _data_of(event: ev.EscalationRaised) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(event.data.model_dump_json(exclude_none=True))
    return loaded


def _same(new: Any, old: Any) -> bool:
    """Equal as stored: PostgreSQL keeps a NUL character as U+FFFD, so a repeat that
    holds one is still the same request."""
    if new == old:
        return True
    as_stored = json.dumps(new, sort_keys=True).replace("\\u0000", "\\ufffd")
    return as_stored == json.dumps(old, sort_keys=True)


async def refused_raise(store: StoreCore, event: ev.EscalationRaised) -> str | None:
    """Why a raise whose id already exists was not applied; None for an identical repeat."""
    d = event.data
    row = await store._fetchone(
        "SELECT state, source, agent, task, workflow, raised_seq, kind, title, body, severity, "
        "options, deadline, reroute_targets FROM escalations WHERE id = ?",
        (d.id,),
    )
    if row is None:  # pragma: no cover - the insert conflicted, so the row exists
        return None
    state, source, agent, task, workflow, raised_seq = row[:6]
    if not _same(event.source, source):
        return (
            f"escalation id {d.id!r} is already in use by another source ({source!r}); "
            "escalation ids must be unique"
        )
    if state != "open":
        return f"escalation id {d.id!r} is already {state}; escalation ids must be unique"
    changed = [
        name
        for name, new, old in (("agent", event.agent, agent), ("task", event.task, task),
                               ("workflow", event.workflow, workflow))
        if new is not None and not _same(new, old)
    ]  # fmt: skip
    original = await store._fetchone("SELECT data FROM events WHERE seq = ?", (raised_seq,))
    new_data = _data_of(event)
    if original is not None and original[0]:
        old_data: dict[str, Any] = json.loads(original[0])
        changed += [k for k in _SHOWN_DATA if not _same(new_data.get(k), old_data.get(k))]
    else:  # the raise itself was pruned by retention: compare with what the row holds
        columns = dict(zip(_SHOWN, row[6:], strict=True))
        for key in ("options", "reroute_targets"):
            columns[key] = json.loads(columns[key]) if columns[key] else None
        current = {
            "kind": d.kind, "title": d.title, "body": d.body, "severity": d.severity,
            "options": d.options, "reroute_targets": d.reroute_targets,
            "deadline": None if d.deadline is None else d.deadline.timestamp(),
        }  # fmt: skip
        changed += [k for k in _SHOWN if not _same(current[k], columns[k])]
    if not changed:
        return None
    return (
        f"escalation {d.id!r} is open with different content ({', '.join(changed)} changed); "
        "a changed request must withdraw it and raise a new id, so the manager never approves "
        "something other than what was shown"
    )


async def refused_withdrawal(store: StoreCore, event: ev.EscalationWithdrawn) -> str | None:
    """Why a withdrawal was not applied; None when there was nothing to withdraw anyway."""
    row = await store._fetchone(
        "SELECT state, source FROM escalations WHERE id = ?", (event.data.id,)
    )
    if row is None or row[0] != "open" or _same(event.source, row[1]):
        return None  # unknown, already closed (repeats are harmless), or applied
    return (
        f"escalation {event.data.id!r} was raised by {row[1]!r}; only that source may withdraw "
        f"it (this withdrawal came from {event.source!r})"
    )
