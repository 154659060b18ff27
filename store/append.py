"""Append: store a batch of validated events and fold them into the projections, atomically.

:class:`AppendBase` is the public API of both backends (and the lease fencing of
``append_with_state``); :class:`AppendMixin` is SQLite's hot path, described here.
PostgreSQL's is :mod:`swarmdeck.store.postgres.append`.

The hot path of ingest (~30,000 events/s end to end). ``INSERT OR IGNORE`` with
``executemany`` makes ``(source, id)`` idempotent; one ``SELECT`` of the rows
inserted in this transaction tells which events were new, and only those are
folded (:mod:`swarmdeck.store.projections`) into per-agent, per-task and
per-workflow patches written with one ``executemany`` upsert each. Counters add,
last values win, and the upserts use numbered parameters so "not given" never
overwrites a value.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable, Sequence

import aiosqlite

from swarmdeck.store import events as ev
from swarmdeck.store.adapter_state import AdapterStateMixin
from swarmdeck.store.dead_letters import DeadLettersMixin
from swarmdeck.store.leases import LeasesMixin
from swarmdeck.store.models import AppendResult
from swarmdeck.store.ownership import refused_raise, refused_withdrawal
from swarmdeck.store.projections import fold_events

_INSERT_EVENT = (
    "INSERT OR IGNORE INTO events(source, eid, ts, kind, agent, task, workflow, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

_UPSERT_AGENT = """
INSERT INTO agents(name, role, model, host, state, activity, task, workflow, first_seen,
                   last_seen, events, tokens_in, tokens_out, cost_usd, origin, rev, vendor)
VALUES (?1, COALESCE(?2, ''), ?3, ?4, COALESCE(?5, 'idle'), COALESCE(?6, ''), ?7, ?8, ?9,
        ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
ON CONFLICT(name) DO UPDATE SET
    role = COALESCE(?2, role), model = COALESCE(?3, model), host = COALESCE(?4, host),
    vendor = COALESCE(?17, vendor),
    state = COALESCE(?5, state), activity = COALESCE(?6, activity),
    task = COALESCE(?7, task), workflow = COALESCE(?8, workflow),
    first_seen = MIN(first_seen, ?9), last_seen = MAX(last_seen, ?10),
    events = events + ?11, tokens_in = MIN(tokens_in + ?12, 9223372036854775807),
    tokens_out = MIN(tokens_out + ?13, 9223372036854775807),
    cost_usd = cost_usd + ?14, rev = ?16
"""

_UPSERT_TASK = """
INSERT INTO tasks(id, title, workflow, parent, depends_on, assignee, state, note, pct, result,
                  error, retryable, failures, tokens_in, tokens_out, cost_usd, created_ts,
                  started_ts, ended_ts, updated_ts, origin, rev)
VALUES (?1, COALESCE(?2, ''), ?3, ?4, COALESCE(?5, '[]'), ?6, COALESCE(?7, 'pending'),
        COALESCE(?8, ''), ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
ON CONFLICT(id) DO UPDATE SET
    title = COALESCE(?2, title), workflow = COALESCE(?3, workflow),
    parent = COALESCE(?4, parent), depends_on = COALESCE(?5, depends_on),
    assignee = COALESCE(?6, assignee),
    state = CASE WHEN ?7 IS NULL OR ?7 = 'pending' THEN state ELSE ?7 END,
    note = COALESCE(?8, note), pct = COALESCE(?9, pct), result = COALESCE(?10, result),
    error = COALESCE(?11, error), retryable = COALESCE(?12, retryable),
    failures = failures + ?13, tokens_in = MIN(tokens_in + ?14, 9223372036854775807),
    tokens_out = MIN(tokens_out + ?15, 9223372036854775807),
    cost_usd = cost_usd + ?16, created_ts = MIN(created_ts, ?17),
    started_ts = COALESCE(?18, started_ts),
    ended_ts = CASE WHEN ?18 IS NOT NULL AND ?19 IS NULL THEN NULL
                    ELSE COALESCE(?19, ended_ts) END,
    updated_ts = MAX(updated_ts, ?20), rev = ?22
"""

_UPSERT_WORKFLOW = """
INSERT INTO workflows(name, updated_ts, rev) VALUES (?1, ?2, ?3)
ON CONFLICT(name) DO UPDATE SET updated_ts = MAX(updated_ts, ?2), rev = ?3
"""

_RAISE_ESCALATION = """
INSERT INTO escalations(id, kind, title, body, severity, options, deadline, reroute_targets,
                        agent, task, workflow, source, origin, state, raised_ts, raised_seq, rev)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'open', ?14, ?15, ?16)
-- An id in use is never rewritten (store.ownership says why, or that it is a repeat): not
-- by another source, not once decided, and not with new content while the manager reads it.
ON CONFLICT(id) DO NOTHING
"""


def _event_data(event: ev.Event) -> str | None:
    data = event.data.model_dump_json(exclude_none=True)
    return None if data == "{}" else data


class AppendBase(DeadLettersMixin, AdapterStateMixin, LeasesMixin):
    """Ingest: events in, projections folded, positions saved with them (both backends)."""

    async def append(self, events: Sequence[ev.Event], *, origin: str) -> AppendResult:
        """Store a batch of validated events and update the projections, atomically.

        Idempotent on ``(source, id)``: re-delivered events are counted as duplicates
        and change nothing. One transaction per call; call it with batches (hundreds
        to a thousand events), not one event at a time.

        Args:
            events: validated events, in the order they happened.
            origin: the adapter instance that received them; decisions on escalations
                raised here are delivered back through it.
        """
        return await self._transact(lambda: self._append_in_tx(events, origin))

    async def append_with_state(
        self,
        events: Sequence[ev.Event],
        *,
        origin: str,
        state: dict[str, str],
        rejected: Iterable[tuple[str, bytes | str, str]] = (),
        lease: tuple[str, int] | None = None,
    ) -> AppendResult:
        """Append events and save the adapter's position (offset, cursor) atomically.

        This is what makes "a restart neither re-reads nor skips" hold: the position
        only moves forward in the same transaction that stored what was read.

        Args:
            rejected: ``(location, raw, error)`` of input the position moves past.
            lease: ``(name, epoch)`` this collector leads ``origin`` under: the batch
                commits only while that lease is still held with that epoch.

        Raises:
            LeaseLost: ``lease`` changed holder; nothing was written.
        """
        kept = [(origin, loc, raw, err) for loc, raw, err in rejected]

        async def body() -> AppendResult:
            if lease is not None:
                await self._check_lease_in_tx(lease)
            result = await self._append_in_tx(events, origin)
            await self._set_states_in_tx(origin, state)
            # Input the position moves past must be kept in the same transaction, or a
            # crash in between would lose the rejected lines for good.
            await self._dead_letters_in_tx(kept)
            return result

        return await self._transact(body)

    @abc.abstractmethod
    async def _append_in_tx(self, events: Sequence[ev.Event], origin: str) -> AppendResult:
        """Insert the new events and fold them into the projections; inside a transaction."""


class AppendMixin(AppendBase):
    """SQLite's append: ``INSERT OR IGNORE`` with ``executemany``, numbered-parameter upserts."""

    _conn: aiosqlite.Connection  # SqliteCore's

    async def _append_in_tx(self, events: Sequence[ev.Event], origin: str) -> AppendResult:
        if not events:
            return AppendResult(0, 0, None, None, await self.rev())
        stamps = [e.ts.timestamp() for e in events]
        rows = [
            (e.source, e.id, ts, e.kind, e.agent, e.task, e.workflow, _event_data(e))
            for e, ts in zip(events, stamps, strict=True)
        ]
        before_row = await self._fetchone("SELECT COALESCE(MAX(seq), 0) FROM events")
        before = int(before_row[0]) if before_row else 0
        await self._conn.executemany(_INSERT_EVENT, rows)
        inserted = {
            (source, eid): seq
            for seq, source, eid in await self._fetchall(
                "SELECT seq, source, eid FROM events WHERE seq > ?", (before,)
            )
        }
        new: list[tuple[int, ev.Event, float]] = []
        for e, ts in zip(events, stamps, strict=True):
            seq = inserted.pop((e.source, e.id), None)
            if seq is not None:
                new.append((seq, e, ts))
        if not new:
            return AppendResult(0, len(events), None, None, await self.rev())
        rev = await self._bump_rev()
        await self._project(new, origin, rev)
        return AppendResult(len(new), len(events) - len(new), new[0][0], new[-1][0], rev)

    async def _project(self, new: list[tuple[int, ev.Event, float]], origin: str, rev: int) -> None:
        fold = fold_events(new)
        db = self._conn
        if fold.agents:
            await db.executemany(_UPSERT_AGENT, [p.row(origin, rev) for p in fold.agents.values()])
        if fold.tasks:
            await db.executemany(_UPSERT_TASK, [p.row(origin, rev) for p in fold.tasks.values()])
        if fold.workflows_touched:
            await db.executemany(
                _UPSERT_WORKFLOW, [(n, ts, rev) for n, ts in fold.workflows_touched.items()]
            )
        if fold.workflow_defs:
            await db.executemany(
                "UPDATE workflows SET nodes = ?2, defined = 1, rev = ?4 WHERE name = ?1",
                [(name, nodes, ts, rev) for name, nodes, ts in fold.workflow_defs],
            )
        if fold.edges:
            await db.executemany("INSERT OR IGNORE INTO edges VALUES (?, ?, ?, ?)", fold.edges)
        for _op, seq, event in fold.escalation_ops:
            if isinstance(event, ev.EscalationRaised):
                d = event.data
                cur = await db.execute(
                    _RAISE_ESCALATION,
                    (
                        d.id,
                        d.kind,
                        d.title,
                        d.body,
                        d.severity,
                        None if d.options is None else json.dumps(d.options),
                        None if d.deadline is None else d.deadline.timestamp(),
                        None if d.reroute_targets is None else json.dumps(d.reroute_targets),
                        event.agent,
                        event.task,
                        event.workflow,
                        event.source,
                        origin,
                        event.ts.timestamp(),
                        seq,
                        rev,
                    ),
                )
                refused = await refused_raise(self, event) if cur.rowcount == 0 else None
            elif isinstance(event, ev.EscalationWithdrawn):
                cur = await db.execute(
                    "UPDATE escalations SET state = 'withdrawn', reason = ?, decided_ts = ?, "
                    "rev = ? WHERE id = ? AND state = 'open' AND source = ?",
                    (event.data.reason or None, event.ts.timestamp(), rev, event.data.id,
                     event.source),
                )  # fmt: skip
                refused = await refused_withdrawal(self, event) if cur.rowcount == 0 else None
            else:  # pragma: no cover - fold_events only lists these two kinds
                continue
            if refused is not None:
                # Kept (the event log has it), not applied: the reason is in the dead letters.
                await self._dead_letters_in_tx(
                    [(origin, f"event {event.source}/{event.id}", event.model_dump_json(), refused)]
                )
