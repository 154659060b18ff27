"""Copying a whole history from one store to another (SQLite to PostgreSQL, and back).

``swarmdeck db copy SRC DST`` moves a deck up to a team's server (or down to a file)
with everything a store holds: events, projections, decisions, the outbox, the audit
chain, dead letters, adapter state and health, the governance and notify tables,
leases, and the change counter. Rows keep their ids, seqs and revs, so the audit chain
verifies on the target exactly as on the source, and a follower's positions (event
seqs kept in ``adapter_state``) still mean the same events.

Only an empty target is written: merging two histories would renumber one of them.
The copy is checked at the end by row counts per table and ``audit_verify`` on the
target (:func:`verify_copy`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from swarmdeck.store.db import Store
from swarmdeck.store.errors import StoreError


@dataclass(frozen=True, slots=True)
class Table:
    """One table as both backends have it: the columns copied, the order to copy in."""

    name: str
    columns: str
    order: str
    #: A single integer key to page through big tables by (keyset, not OFFSET).
    key: str | None = None


#: Every table of a store, parents before the rows that reference them.
TABLES: tuple[Table, ...] = (
    Table("events", "seq, source, eid, ts, kind, agent, task, workflow, data", "seq", "seq"),
    Table(
        "agents",
        "name, role, model, host, state, activity, task, workflow, first_seen, last_seen, "
        "events, tokens_in, tokens_out, cost_usd, origin, rev",
        "name",
    ),
    Table(
        "tasks",
        "id, title, workflow, parent, depends_on, assignee, state, note, pct, result, error, "
        "retryable, failures, tokens_in, tokens_out, cost_usd, created_ts, started_ts, "
        "ended_ts, updated_ts, origin, rev",
        "id",
    ),
    Table("workflows", "name, nodes, defined, updated_ts, rev", "name"),
    Table("edges", "workflow, src, dst, kind", ""),  # insertion order: per backend, below
    Table(
        "escalations",
        "id, kind, title, body, severity, options, deadline, reroute_targets, agent, task, "
        "workflow, source, origin, state, raised_ts, raised_seq, decided_ts, decided_by, "
        "action, reason, target, rev",
        "id",
    ),
    Table(
        "decisions", "id, escalation, action, reason, target, answer, actor, ts, host", "id", "id"
    ),
    Table(
        "outbox",
        "id, decision, escalation, adapter, state, attempts, next_attempt, last_error, "
        "delivered_ts, claimed_by, claimed_until",
        "id",
        "id",
    ),
    Table("audit", "seq, ts, actor, action, subject, detail, prev, hash", "seq", "seq"),
    Table("dead_letters", "id, ts, origin, location, raw, error", "id", "id"),
    Table("adapter_state", "adapter, key, value", "adapter, key"),
    Table(
        "adapter_health", "name, type, state, detail, restarts, last_error, updated_ts, rev", "name"
    ),
    Table(
        "revealable",
        "id, ts, source, event_id, escalation, agent, task, location, detector, placeholder, "
        "original",
        "id",
    ),
    Table("escalation_expiry", "escalation, deadline, ts", "escalation, deadline"),
    Table("policy_owner", "escalation, rule", "escalation"),
    Table(
        "notify_pushes",
        "route, subject, reason, severity, state, attempts, next_attempt, created_ts, sent_ts, "
        "last_error",
        "route, subject",
    ),
    Table("notify_links", "nonce, escalation, route, actor, used_ts", "nonce"),
    Table("leases", "name, holder, epoch, expires_ts", "name"),
)

#: ``meta`` rows that belong to the history (the schema version is each backend's own).
META_KEYS = ("rev", "audit_count")

#: Rows per read and per write transaction.
CHUNK = 5000

Progress = Callable[[str, int], None]


def _order(store: Store, table: Table) -> str:
    if table.order:
        return table.order
    return "rowid" if store.dialect == "sqlite" else "id"  # edges: insertion order


async def row_counts(store: Store) -> dict[str, int]:
    """Rows per table (``meta`` not counted)."""
    counts: dict[str, int] = {}
    for table in TABLES:
        row = await store._fetchone(f"SELECT COUNT(*) FROM {table.name}")
        counts[table.name] = int(row[0]) if row else 0
    return counts


async def is_empty(store: Store) -> bool:
    """Whether ``store`` holds no history at all (a database just initialised)."""
    return await store.rev() == 0 and not any((await row_counts(store)).values())


async def _rows(store: Store, table: Table) -> AsyncIterator[list[tuple[Any, ...]]]:
    """Yield the rows of ``table`` in chunks, in copy order."""
    select = f"SELECT {table.columns} FROM {table.name}"
    if table.key is None:
        rows = await store._fetchall(f"{select} ORDER BY {_order(store, table)}")
        for start in range(0, len(rows), CHUNK):
            yield rows[start : start + CHUNK]
        return
    last: int | None = None
    while True:
        if last is None:
            rows = await store._fetchall(f"{select} ORDER BY {table.key} LIMIT ?", (CHUNK,))
        else:
            rows = await store._fetchall(
                f"{select} WHERE {table.key} > ? ORDER BY {table.key} LIMIT ?", (last, CHUNK)
            )
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])


async def copy_store(source: Store, target: Store, progress: Progress | None = None) -> None:
    """Copy everything ``source`` holds into the empty store ``target``.

    Raises:
        StoreError: ``target`` is not empty.
    """
    if not await is_empty(target):
        raise StoreError(f"{target.location} is not empty: db copy only writes a fresh database")
    for table in TABLES:
        marks = ", ".join("?" * len(table.columns.split(", ")))
        insert = f"INSERT INTO {table.name} ({table.columns}) VALUES ({marks})"
        copied = 0
        async for chunk in _rows(source, table):
            rows = [tuple(_value(v) for v in r) for r in chunk]
            await _write(target, insert, rows)
            copied += len(rows)
        if progress is not None:
            progress(table.name, copied)
    meta = await source._fetchall(
        f"SELECT key, value FROM meta WHERE key IN ({', '.join('?' * len(META_KEYS))})",
        META_KEYS,
    )
    await target._transact(
        lambda: target._exec_many(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            meta,
        ),
        bumps=False,
    )
    if target.dialect == "postgres":
        await target._transact(lambda: _reset_identities(target), bumps=False)


async def _write(target: Store, insert: str, rows: list[tuple[Any, ...]]) -> None:
    await target._transact(lambda: target._exec_many(insert, rows), bumps=False)


def _value(value: Any) -> Any:
    return bytes(value) if isinstance(value, memoryview) else value


async def _reset_identities(store: Store) -> None:
    """PostgreSQL: identity columns continue after the ids copied in."""
    for table, column in (
        ("events", "seq"), ("decisions", "id"), ("outbox", "id"), ("dead_letters", "id"),
        ("edges", "id"),
    ):  # fmt: skip
        await store._exec(
            f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
            f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
        )


async def verify_copy(source: Store, target: Store) -> list[str]:
    """What differs between ``source`` and its copy ``target``: row counts per table, the
    change counter, and the target's audit verdict. Empty when the copy is whole."""
    problems: list[str] = []
    theirs, ours = await row_counts(source), await row_counts(target)
    for name, count in theirs.items():
        if ours.get(name) != count:
            problems.append(f"{name}: {count} rows in the source, {ours.get(name)} in the copy")
    if await source.rev() != await target.rev():
        problems.append(
            f"rev: {await source.rev()} in the source, {await target.rev()} in the copy"
        )
    verdict = await target.audit_verify()
    problems.extend(f"audit: {p}" for p in verdict.problems)
    return problems
