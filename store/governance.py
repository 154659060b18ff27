"""Store-level SQL for governance: the revealable vault, severity changes, deadline bookkeeping.

These tables are created on demand (``CREATE TABLE IF NOT EXISTS``) rather than by a
schema migration, because they belong to an optional feature: a database that never
saw a guardrail hit or a policy rule never grows them.

* ``revealable``: the originals of masked text. The stored events carry only a
  placeholder (``[secret:aws-access-key …7QX2]``); the original is kept here so a
  manager can reveal it on demand, and every reveal is an audit record.
* ``escalation_expiry``: which (escalation, deadline) pairs the deadline sweep has
  already handled, so an expired deadline raises severity exactly once, and a new
  deadline set later fires again.
* ``policy_owner``: which rule last acted on an escalation (its ``on_expiry`` applies).

Nothing here imports Textual.
"""

from __future__ import annotations

import hashlib
import sqlite3
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmdeck.store.db import Store
from swarmdeck.store.events import SEVERITIES, SEVERITY_RANK
from swarmdeck.store.models import Row

_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS revealable (
        id        TEXT PRIMARY KEY,
        ts        REAL NOT NULL,
        source    TEXT NOT NULL,
        event_id  TEXT NOT NULL,
        escalation TEXT,
        agent     TEXT,
        task      TEXT,
        location  TEXT NOT NULL,
        detector  TEXT NOT NULL,
        placeholder TEXT NOT NULL,
        original  TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS revealable_event ON revealable(source, event_id)",
    "CREATE INDEX IF NOT EXISTS revealable_escalation ON revealable(escalation)",
    """
    CREATE TABLE IF NOT EXISTS escalation_expiry (
        escalation TEXT NOT NULL,
        deadline   REAL NOT NULL,
        ts         REAL NOT NULL,
        PRIMARY KEY (escalation, deadline)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS policy_owner (
        escalation TEXT PRIMARY KEY,
        rule       TEXT NOT NULL
    ) WITHOUT ROWID
    """,
)

_ready: weakref.WeakSet[Store] = weakref.WeakSet()


async def ensure_tables(store: Store) -> None:
    """Create the governance tables if this database does not have them yet."""
    if store in _ready:
        return
    async with store.write() as db:
        for statement in _TABLES:
            await db.execute(statement)
    _ready.add(store)


async def _table_exists(store: Store, name: str) -> bool:
    row = await store._fetchone(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    )
    return row is not None


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
    await ensure_tables(store)
    async with store.write() as db:
        await db.executemany(
            "INSERT OR IGNORE INTO revealable(id, ts, source, event_id, escalation, agent, task, "
            "location, detector, placeholder, original) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [tuple(r.to_dict().values()) for r in items],
        )


def vault_put_sync(path: Path, items: list[Revealable]) -> None:
    """:func:`vault_put` over a short-lived stdlib connection (for a caller with no Store).

    Guardrail hits are rare, so opening a connection per batch with hits costs nothing
    that matters, and leaves no connection (or its thread) to close at exit.
    """
    if not items:
        return
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for statement in _TABLES:
            conn.execute(statement)
        conn.executemany(
            "INSERT OR IGNORE INTO revealable(id, ts, source, event_id, escalation, agent, task, "
            "location, detector, placeholder, original) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [tuple(r.to_dict().values()) for r in items],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


_VAULT_COLUMNS = (
    "id, ts, source, event_id, escalation, agent, task, location, detector, placeholder, original"
)


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
    if not await _table_exists(store, "revealable"):
        return []
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
    where = " AND ".join(clauses) or "1"
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


async def _bump_rev(store: Store) -> int:
    row = await store._fetchone(
        "UPDATE meta SET value = value + 1 WHERE key = 'rev' RETURNING value"
    )
    assert row is not None
    return int(row[0])


def next_severity(severity: str) -> str:
    """One step up (``critical`` stays ``critical``)."""
    rank = SEVERITY_RANK.get(severity, 1)
    return SEVERITIES[min(rank + 1, len(SEVERITIES) - 1)]


async def set_escalation(
    store: Store,
    escalation: str,
    *,
    actor: str,
    action: str,
    severity: str | None = None,
    deadline: float | None = None,
    rule: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Change an open escalation's severity and/or deadline, audited in the same transaction.

    Returns:
        False when the escalation is not open (decided or withdrawn meanwhile).
    """
    await ensure_tables(store)
    async with store.write() as db:
        row = await store._fetchone(
            "SELECT severity, deadline FROM escalations WHERE id = ? AND state = 'open'",
            (escalation,),
        )
        if row is None:
            return False
        old_severity, old_deadline = row
        rev = await _bump_rev(store)
        await db.execute(
            "UPDATE escalations SET severity = COALESCE(?, severity), "
            "deadline = COALESCE(?, deadline), rev = ? WHERE id = ?",
            (severity, deadline, rev, escalation),
        )
        if rule is not None:
            await db.execute(
                "INSERT INTO policy_owner(escalation, rule) VALUES (?, ?) "
                "ON CONFLICT(escalation) DO UPDATE SET rule = excluded.rule",
                (escalation, rule),
            )
        record = {
            "severity": [old_severity, severity or old_severity],
            "deadline": [old_deadline, deadline if deadline is not None else old_deadline],
            **(detail or {}),
        }
        await store._audit_insert(store.clock(), actor, action, escalation, record)
    return True


async def set_owner(store: Store, escalation: str, rule: str) -> None:
    """Remember which rule acted on an escalation (its ``on_expiry`` applies later)."""
    await ensure_tables(store)
    async with store.write() as db:
        await db.execute(
            "INSERT INTO policy_owner(escalation, rule) VALUES (?, ?) "
            "ON CONFLICT(escalation) DO UPDATE SET rule = excluded.rule",
            (escalation, rule),
        )


async def owner(store: Store, escalation: str) -> str | None:
    if not await _table_exists(store, "policy_owner"):
        return None
    row = await store._fetchone("SELECT rule FROM policy_owner WHERE escalation = ?", (escalation,))
    return None if row is None else str(row[0])


async def expired_unhandled(store: Store, now: float) -> list[tuple[str, float, str]]:
    """Open escalations whose deadline passed and that the sweep has not handled yet.

    Returns:
        ``(escalation id, deadline, severity)``, oldest deadline first.
    """
    await ensure_tables(store)
    rows = await store._fetchall(
        "SELECT e.id, e.deadline, e.severity FROM escalations e "
        "WHERE e.state = 'open' AND e.deadline IS NOT NULL AND e.deadline <= ? "
        "AND NOT EXISTS (SELECT 1 FROM escalation_expiry x "
        "                WHERE x.escalation = e.id AND x.deadline = e.deadline) "
        "ORDER BY e.deadline",
        (now,),
    )
    return [(str(r[0]), float(r[1]), str(r[2])) for r in rows]


async def expire(
    store: Store, escalation: str, deadline: float, *, actor: str, detail: dict[str, Any]
) -> str | None:
    """Handle one expired deadline: raise severity one step, mark it handled, audit it.

    Returns:
        The new severity, or None when it was already handled or is no longer open.
    """
    await ensure_tables(store)
    now = store.clock()
    async with store.write() as db:
        cur = await db.execute(
            "INSERT OR IGNORE INTO escalation_expiry(escalation, deadline, ts) VALUES (?, ?, ?)",
            (escalation, deadline, now),
        )
        if cur.rowcount != 1:
            return None
        row = await store._fetchone(
            "SELECT severity FROM escalations WHERE id = ? AND state = 'open'", (escalation,)
        )
        if row is None:
            return None
        old = str(row[0])
        new = next_severity(old)
        rev = await _bump_rev(store)
        await db.execute(
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


async def delete_state(store: Store, adapter: str, key: str) -> None:
    """Forget one ``adapter_state`` entry (the store has set/get but no delete)."""
    async with store.write() as db:
        await db.execute("DELETE FROM adapter_state WHERE adapter = ? AND key = ?", (adapter, key))


async def open_escalation_of_task(store: Store, task: str) -> tuple[str, str] | None:
    """The ``(id, severity)`` of the open escalation a task action would decide, if any.

    The same choice as :func:`swarmdeck.store.actions.act_on_task` (oldest open first),
    so a policy can check the severity before it approves on the task's behalf.
    """
    row = await store._fetchone(
        "SELECT id, severity FROM escalations WHERE task = ? AND state = 'open' "
        "ORDER BY raised_seq LIMIT 1",
        (task,),
    )
    return None if row is None else (str(row[0]), str(row[1]))
