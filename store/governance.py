"""Governance writes and reads: the revealable vault, severity changes, deadline bookkeeping.

The tables (``revealable``, ``escalation_expiry``, ``policy_owner``) are migration 3
of :mod:`swarmdeck.store.schema`:

* ``revealable``: the originals of masked text. The stored events carry only a
  placeholder (``[secret:aws-access-key …7QX2]``); the original is kept here so a
  manager can reveal it on demand, and every reveal is an audit record.
* ``escalation_expiry``: which (escalation, deadline) pairs the deadline sweep has
  already handled, so an expired deadline raises severity exactly once, and a new
  deadline set later fires again.
* ``policy_owner``: which rule last acted on an escalation (its ``on_expiry`` applies).

Every change to an escalation here bumps ``rev`` and is audited in its own
transaction, like a decision. Nothing here imports Textual.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from swarmdeck.store.db import Store
from swarmdeck.store.events import SEVERITIES, SEVERITY_RANK, Severity
from swarmdeck.store.models import Row
from swarmdeck.store.opening import is_postgres_url


@dataclass(frozen=True, slots=True)
class Revealable(Row):
    """One masked original, as kept in the vault."""

    id: str
    ts: float
    source: str
    event_id: str
    escalation: str | None
    agent: str | None
    task: str | None
    location: str
    detector: str
    placeholder: str
    original: str


_VAULT_COLUMNS = (
    "id, ts, source, event_id, escalation, agent, task, location, detector, placeholder, original"
)
_INSERT_VAULT = (
    f"INSERT INTO revealable({_VAULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING"
)


def vault_id(source: str, event_id: str, location: str, original: str) -> str:
    """A stable id: the same hit in a re-delivered event maps to the same vault row."""
    digest = hashlib.sha256(
        "\x1f".join((source, event_id, location, original)).encode("utf-8", "replace")
    ).hexdigest()
    return f"v-{digest[:16]}"


async def vault_put(store: Store, items: list[Revealable]) -> None:
    """Keep originals (idempotent: a re-delivered event adds nothing)."""
    if not items:
        return
    rows = [tuple(r.to_dict().values()) for r in items]
    await store._transact(lambda: store._exec_many(_INSERT_VAULT, rows), bumps=False)


def vault_put_sync(target: str | Path, items: list[Revealable]) -> None:
    """:func:`vault_put` over a short-lived connection of its own (for a caller with no Store).

    Guardrail hits are rare, so opening a connection per batch with hits costs nothing
    that matters, and leaves no connection (or its thread) to close at exit. The
    database is one a :class:`Store` has opened (and so migrated) before: the events
    these originals belong to are written through it. ``target`` is a SQLite file or
    a ``postgresql://`` URL.
    """
    if not items:
        return
    if is_postgres_url(target):
        from swarmdeck.store.postgres.sync import execute_many

        execute_many(str(target), _INSERT_VAULT, [tuple(r.to_dict().values()) for r in items])
        return
    conn = sqlite3.connect(target, timeout=10.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT_VAULT, [tuple(r.to_dict().values()) for r in items])
        conn.execute("COMMIT")
    finally:
        conn.close()


async def vault_find(
    store: Store,
    *,
    escalation: str | None = None,
    event: tuple[str, str] | None = None,
    vault: str | None = None,
    task: str | None = None,
    agent: str | None = None,
) -> list[Revealable]:
    """Originals kept for an escalation, an event ``(source, id)``, a vault id, a task or agent.

    Reading does not audit: use :func:`reveal`, which records who looked.
    """
    clauses: list[str] = []
    params: list[Any] = []
    if escalation is not None:
        clauses.append("escalation = ?")
        params.append(escalation)
    if event is not None:
        clauses.append("source = ? AND event_id = ?")
        params.extend(event)
    if vault is not None:
        clauses.append("id = ?")
        params.append(vault)
    if task is not None:
        clauses.append("task = ?")
        params.append(task)
    if agent is not None:
        clauses.append("agent = ?")
        params.append(agent)
    where = " AND ".join(clauses) or "TRUE"
    rows = await store._fetchall(
        f"SELECT {_VAULT_COLUMNS} FROM revealable WHERE {where} ORDER BY ts, id", params
    )
    return [Revealable(*r) for r in rows]


async def reveal(
    store: Store,
    *,
    actor: str,
    reason: str = "",
    escalation: str | None = None,
    event: tuple[str, str] | None = None,
    vault: str | None = None,
) -> list[Revealable]:
    """Return masked originals and record the reveal in the audit chain (who, when, what).

    The audit record names what was revealed (vault ids, detectors, placeholders), never
    the secret itself: the audit export must stay safe to share.
    """
    found = await vault_find(store, escalation=escalation, event=event, vault=vault)
    if found:
        subject = escalation or (f"{event[0]}/{event[1]}" if event else None) or vault or ""
        await store.audit(
            actor,
            "guardrail.reveal",
            subject,
            {
                "reason": reason,
                "items": [
                    {
                        "vault": r.id,
                        "detector": r.detector,
                        "placeholder": r.placeholder,
                        "location": r.location,
                    }
                    for r in found
                ],
            },
        )
    return found


# ----------------------------------------------------------------------------- escalations

_SET_OWNER = (
    "INSERT INTO policy_owner(escalation, rule) VALUES (?, ?) "
    "ON CONFLICT(escalation) DO UPDATE SET rule = excluded.rule"
)


def next_severity(severity: str) -> Severity:
    """One step up (``critical`` stays ``critical``)."""
    rank = SEVERITY_RANK.get(severity, 1)
    return SEVERITIES[min(rank + 1, len(SEVERITIES) - 1)]


async def set_escalation(
    store: Store,
    escalation: str,
    *,
    actor: str,
    action: str,
    severity: Severity | None = None,
    deadline: float | None = None,
    rule: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Change an open escalation's severity and/or deadline, audited in the same transaction.

    Returns:
        False when the escalation is not open (decided or withdrawn meanwhile).
    """
    now = store.clock()

    async def body() -> bool:
        row = await store._fetchone(
            "SELECT severity, deadline FROM escalations WHERE id = ? AND state = 'open'"
            f"{store._for_update}",
            (escalation,),
        )
        if row is None:
            return False
        old_severity, old_deadline = row
        rev = await store._bump_rev()
        await store._exec(
            "UPDATE escalations SET severity = COALESCE(?, severity), "
            "deadline = COALESCE(?, deadline), rev = ? WHERE id = ?",
            (severity, deadline, rev, escalation),
        )
        if rule is not None:
            await store._exec(_SET_OWNER, (escalation, rule))
        record = {
            "severity": [old_severity, severity or old_severity],
            "deadline": [old_deadline, deadline if deadline is not None else old_deadline],
            **(detail or {}),
        }
        await store._audit_insert(now, actor, action, escalation, record)
        return True

    return await store._transact(body)


async def set_owner(store: Store, escalation: str, rule: str) -> None:
    """Remember which rule acted on an escalation (its ``on_expiry`` applies later)."""
    await store._transact(lambda: store._exec(_SET_OWNER, (escalation, rule)), bumps=False)


async def owner(store: Store, escalation: str) -> str | None:
    """The rule that last acted on an escalation, if any."""
    row = await store._fetchone("SELECT rule FROM policy_owner WHERE escalation = ?", (escalation,))
    return None if row is None else str(row[0])


class ExpiredDeadline(NamedTuple):
    """An open escalation whose deadline passed, not yet handled by the sweep."""

    escalation: str
    deadline: float
    severity: Severity


async def expired_unhandled(store: Store, now: float) -> list[ExpiredDeadline]:
    """Open escalations whose deadline passed and that the sweep has not handled yet,
    oldest deadline first."""
    rows = await store._fetchall(
        "SELECT e.id, e.deadline, e.severity FROM escalations e "
        "WHERE e.state = 'open' AND e.deadline IS NOT NULL AND e.deadline <= ? "
        "AND NOT EXISTS (SELECT 1 FROM escalation_expiry x "
        "                WHERE x.escalation = e.id AND x.deadline = e.deadline) "
        "ORDER BY e.deadline",
        (now,),
    )
    return [ExpiredDeadline(str(r[0]), float(r[1]), r[2]) for r in rows]


async def expire(
    store: Store, escalation: str, deadline: float, *, actor: str, detail: dict[str, Any]
) -> Severity | None:
    """Handle one expired deadline: raise severity one step, mark it handled, audit it.

    Returns:
        The new severity, or None when it was already handled or is no longer open.
    """
    now = store.clock()

    async def body() -> Severity | None:
        inserted = await store._exec(
            "INSERT INTO escalation_expiry(escalation, deadline, ts) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (escalation, deadline, now),
        )
        if inserted != 1:
            return None
        row = await store._fetchone(
            f"SELECT severity FROM escalations WHERE id = ? AND state = 'open'{store._for_update}",
            (escalation,),
        )
        if row is None:
            return None
        old: Severity = row[0]
        new = next_severity(old)
        rev = await store._bump_rev()
        await store._exec(
            "UPDATE escalations SET severity = ?, rev = ? WHERE id = ?", (new, rev, escalation)
        )
        await store._audit_insert(
            now,
            actor,
            "escalation.deadline_expired",
            escalation,
            {"severity": [old, new], "deadline": deadline, **detail},
        )
        return new

    return await store._transact(body)
