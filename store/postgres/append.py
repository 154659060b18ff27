"""PostgreSQL's append: ``COPY`` into staging tables, then set-based inserts and upserts.

The driver measurement (``benchmarks/pg_drivers.py``) found row-at-a-time statements,
even pipelined, at ~79k rows/s and ``COPY`` into a temporary table followed by one
``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` at ~103k rows/s, idempotency
included. So a batch here is a handful of round trips whatever its size:

1. ``COPY`` the events into ``stage_events`` (a temporary table emptied at commit);
2. one ``INSERT INTO events ... SELECT ... ORDER BY ord ON CONFLICT DO NOTHING
   RETURNING seq, source, eid``: ``(source, id)`` stays idempotent, and the returned
   rows say which events are new, in batch order;
3. only the new events are folded (the shared, pure :mod:`swarmdeck.store.projections`)
   and the patches ``COPY``'d into ``stage_agents``/``stage_tasks``, then applied with
   one ``UPDATE ... FROM`` and one ``INSERT ... WHERE NOT EXISTS`` each. (An upsert's
   ``excluded`` row cannot tell "not given" from a default, which the patches need;
   appends are serialised by the change counter, so update-then-insert cannot race.)

Only steps 2 and 3 hold the change counter's lock. Building the rows, folding the batch
(as if every event were new, the case but for a replay; refolded if not) and step 1
touch nothing another session sees, so they run before it: two collectors writing at
once overlap that work instead of queueing it (``make bench-pg ARGS="--collectors 2"``).

PostgreSQL refuses NUL characters in text, which SQLite stores; a batch containing one
would fail whole, and be retried forever by its collector. They are replaced with
U+FFFD (the replacement character) on the way in, here only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg

from swarmdeck.store import events as ev
from swarmdeck.store.append import AppendBase
from swarmdeck.store.models import AppendResult
from swarmdeck.store.ownership import refused_raise, refused_withdrawal
from swarmdeck.store.postgres.connection import locked_connection, tx_connection
from swarmdeck.store.projections import Fold, fold_events

_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_events (
    ord integer, source text, eid text, ts double precision, kind text, agent text,
    task text, workflow text, data text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_agents (
    name text, role text, model text, host text, state text, activity text, task text,
    workflow text, first_seen double precision, last_seen double precision, events bigint,
    tokens_in bigint, tokens_out bigint, cost_usd double precision, vendor text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_tasks (
    id text, title text, workflow text, parent text, depends_on text, assignee text,
    state text, note text, pct double precision, result text, error text, retryable integer,
    failures bigint, tokens_in bigint, tokens_out bigint, cost_usd double precision,
    ts double precision, started_ts double precision, ended_ts double precision
) ON COMMIT DELETE ROWS;
"""

_COPY_EVENTS = (
    "COPY stage_events (ord, source, eid, ts, kind, agent, task, workflow, data) FROM STDIN"
)
_INSERT_EVENTS = """
INSERT INTO events (source, eid, ts, kind, agent, task, workflow, data)
SELECT source, eid, ts, kind, agent, task, workflow, data FROM stage_events ORDER BY ord
ON CONFLICT (source, eid) DO NOTHING
RETURNING seq, source, eid
"""

_COPY_AGENTS = (
    "COPY stage_agents (name, role, model, host, state, activity, task, workflow, first_seen, "
    "last_seen, events, tokens_in, tokens_out, cost_usd, vendor) FROM STDIN"
)
_UPDATE_AGENTS = """
UPDATE agents a SET
    role = COALESCE(s.role, a.role), model = COALESCE(s.model, a.model),
    host = COALESCE(s.host, a.host), state = COALESCE(s.state, a.state),
    activity = COALESCE(s.activity, a.activity), task = COALESCE(s.task, a.task),
    workflow = COALESCE(s.workflow, a.workflow), vendor = COALESCE(s.vendor, a.vendor),
    first_seen = LEAST(a.first_seen, s.first_seen), last_seen = GREATEST(a.last_seen, s.last_seen),
    events = a.events + s.events,
    tokens_in = LEAST(a.tokens_in::numeric + s.tokens_in, 9223372036854775807)::bigint,
    tokens_out = LEAST(a.tokens_out::numeric + s.tokens_out, 9223372036854775807)::bigint,
    cost_usd = a.cost_usd + s.cost_usd, rev = %(rev)s
FROM stage_agents s WHERE a.name = s.name
"""
_INSERT_AGENTS = """
INSERT INTO agents (name, role, model, host, state, activity, task, workflow, first_seen,
                    last_seen, events, tokens_in, tokens_out, cost_usd, origin, rev, vendor)
SELECT s.name, COALESCE(s.role, ''), s.model, s.host, COALESCE(s.state, 'idle'),
       COALESCE(s.activity, ''), s.task, s.workflow, s.first_seen, s.last_seen, s.events,
       s.tokens_in, s.tokens_out, s.cost_usd, %(origin)s, %(rev)s, s.vendor
FROM stage_agents s WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.name = s.name)
"""

_COPY_TASKS = (
    "COPY stage_tasks (id, title, workflow, parent, depends_on, assignee, state, note, pct, "
    "result, error, retryable, failures, tokens_in, tokens_out, cost_usd, ts, started_ts, "
    "ended_ts) FROM STDIN"
)
_UPDATE_TASKS = """
UPDATE tasks t SET
    title = COALESCE(s.title, t.title), workflow = COALESCE(s.workflow, t.workflow),
    parent = COALESCE(s.parent, t.parent), depends_on = COALESCE(s.depends_on, t.depends_on),
    assignee = COALESCE(s.assignee, t.assignee),
    state = CASE WHEN s.state IS NULL OR s.state = 'pending' THEN t.state ELSE s.state END,
    note = COALESCE(s.note, t.note), pct = COALESCE(s.pct, t.pct),
    result = COALESCE(s.result, t.result), error = COALESCE(s.error, t.error),
    retryable = COALESCE(s.retryable, t.retryable), failures = t.failures + s.failures,
    tokens_in = LEAST(t.tokens_in::numeric + s.tokens_in, 9223372036854775807)::bigint,
    tokens_out = LEAST(t.tokens_out::numeric + s.tokens_out, 9223372036854775807)::bigint,
    cost_usd = t.cost_usd + s.cost_usd, created_ts = LEAST(t.created_ts, s.ts),
    started_ts = COALESCE(s.started_ts, t.started_ts),
    ended_ts = CASE WHEN s.started_ts IS NOT NULL AND s.ended_ts IS NULL THEN NULL
                    ELSE COALESCE(s.ended_ts, t.ended_ts) END,
    updated_ts = GREATEST(t.updated_ts, s.ts), rev = %(rev)s
FROM stage_tasks s WHERE t.id = s.id
"""
_INSERT_TASKS = """
INSERT INTO tasks (id, title, workflow, parent, depends_on, assignee, state, note, pct, result,
                   error, retryable, failures, tokens_in, tokens_out, cost_usd, created_ts,
                   started_ts, ended_ts, updated_ts, origin, rev)
SELECT s.id, COALESCE(s.title, ''), s.workflow, s.parent, COALESCE(s.depends_on, '[]'),
       s.assignee, COALESCE(s.state, 'pending'), COALESCE(s.note, ''), s.pct, s.result,
       s.error, s.retryable, s.failures, s.tokens_in, s.tokens_out, s.cost_usd, s.ts,
       s.started_ts, s.ended_ts, s.ts, %(origin)s, %(rev)s
FROM stage_tasks s WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = s.id)
"""

_UPSERT_WORKFLOW = """
INSERT INTO workflows (name, updated_ts, rev) VALUES (%s, %s, %s)
ON CONFLICT (name) DO UPDATE SET
    updated_ts = GREATEST(workflows.updated_ts, excluded.updated_ts), rev = excluded.rev
"""

_RAISE_ESCALATION = """
INSERT INTO escalations (id, kind, title, body, severity, options, deadline, reroute_targets,
                         agent, task, workflow, source, origin, state, raised_ts, raised_seq, rev)
VALUES (%(id)s, %(kind)s, %(title)s, %(body)s, %(severity)s, %(options)s, %(deadline)s,
        %(targets)s, %(agent)s, %(task)s, %(workflow)s, %(source)s, %(origin)s, 'open',
        %(raised_ts)s, %(seq)s, %(rev)s)
-- An id in use is never rewritten (store.ownership says why, or that it is a repeat).
ON CONFLICT (id) DO NOTHING
"""

_REPLACEMENT = "\ufffd"


def _nul_free(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` with NUL characters in their text replaced (rare: only then copied)."""
    # repr() shows a NUL as the four characters \x00, and runs in C: a whole batch is
    # looked at in microseconds (a literal backslash-x-0-0 only costs the slow path).
    if "\\x00" not in repr(rows):
        return rows
    return [
        tuple(v.replace("\x00", _REPLACEMENT) if type(v) is str else v for v in row) for row in rows
    ]


def _event_data(event: ev.Event) -> str | None:
    data = event.data.model_dump_json(exclude_none=True)
    return None if data == "{}" else data


def _renumbered(fold: Fold, seqs: list[int]) -> Fold:
    """``fold`` of a batch folded by position, with each position's stored ``seq``."""
    fold.escalation_ops = [(kind, seqs[i], event) for kind, i, event in fold.escalation_ops]
    return fold


class PostgresAppendMixin(AppendBase):
    """Append on PostgreSQL: staged ``COPY``, idempotent insert, set-based projections."""

    #: Every pool connection gets the staging tables when it is made (see PostgresCore).
    SESSION_SETUP: ClassVar[str | None] = _STAGING

    async def _append_in_tx(self, events: Sequence[ev.Event], origin: str) -> AppendResult:
        if not events:
            return AppendResult(0, 0, None, None, await self.rev())
        # Outside the counter's lock: nothing here touches a row another session sees.
        stamps = [e.ts.timestamp() for e in events]
        rows = _nul_free(
            [
                (i, e.source, e.id, ts, e.kind, e.agent, e.task, e.workflow, _event_data(e))
                for i, (e, ts) in enumerate(zip(events, stamps, strict=True))
            ]
        )
        by_position = [(i, e, ts) for i, (e, ts) in enumerate(zip(events, stamps, strict=True))]
        provisional = fold_events(by_position)
        conn = tx_connection(self)  # the staging tables exist on every pool connection
        async with conn.cursor() as cur, cur.copy(_COPY_EVENTS) as copy:
            for row in rows:
                await copy.write_row(row)
        # From here on, under the lock: seq and rev are handed out in commit order.
        conn = await locked_connection(self)
        async with conn.cursor() as cur:
            await cur.execute(_INSERT_EVENTS)
            inserted = {(str(s), str(e)): int(q) for q, s, e in await cur.fetchall()}
        new: list[tuple[int, ev.Event, float]] = []
        seqs: list[int] = []
        for row, e, ts in zip(rows, events, stamps, strict=True):
            seq = inserted.pop((row[1], row[2]), None)
            if seq is not None:
                new.append((seq, e, ts))
                seqs.append(seq)
        if not new:
            return AppendResult(0, len(events), None, None, await self.rev())
        # A replay (some stored already, which must not count twice) is folded again.
        fold = _renumbered(provisional, seqs) if len(new) == len(events) else fold_events(new)
        rev = await self._bump_rev()
        await self._project(conn, fold, origin, rev)
        return AppendResult(len(new), len(events) - len(new), new[0][0], new[-1][0], rev)

    async def _project(
        self,
        conn: psycopg.AsyncConnection[Any],
        fold: Fold,
        origin: str,
        rev: int,
    ) -> None:
        marks = {"rev": rev, "origin": origin}
        async with conn.cursor() as cur:
            if fold.agents:
                # stage_agents' columns: a patch's row up to cost_usd, then its vendor.
                agents = _nul_free(
                    [(*p.row(origin, rev)[:14], p.vendor) for p in fold.agents.values()]
                )
                async with cur.copy(_COPY_AGENTS) as copy:
                    for agent in agents:
                        await copy.write_row(agent)
                await cur.execute(_UPDATE_AGENTS, marks)
                await cur.execute(_INSERT_AGENTS, marks)
            if fold.tasks:
                # A task patch's row up to ended_ts is stage_tasks' columns.
                tasks = _nul_free([p.row(origin, rev)[:19] for p in fold.tasks.values()])
                async with cur.copy(_COPY_TASKS) as copy:
                    for task in tasks:
                        await copy.write_row(task)
                await cur.execute(_UPDATE_TASKS, marks)
                await cur.execute(_INSERT_TASKS, marks)
            if fold.workflows_touched:
                await cur.executemany(
                    _UPSERT_WORKFLOW,
                    _nul_free([(n, ts, rev) for n, ts in fold.workflows_touched.items()]),
                )
            if fold.workflow_defs:
                await cur.executemany(
                    "UPDATE workflows SET nodes = %s, defined = 1, rev = %s WHERE name = %s",
                    _nul_free([(nodes, rev, name) for name, nodes, _ts in fold.workflow_defs]),
                )
            if fold.edges:
                await cur.executemany(
                    "INSERT INTO edges (workflow, src, dst, kind) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT DO NOTHING",
                    _nul_free(sorted(fold.edges)),
                )
            for _op, seq, event in fold.escalation_ops:
                if isinstance(event, ev.EscalationRaised):
                    await self._raise(cur, event, seq, origin, rev)
                elif isinstance(event, ev.EscalationWithdrawn):
                    await self._withdraw(cur, event, origin, rev)

    async def _raise(
        self,
        cur: psycopg.AsyncCursor[Any],
        event: ev.EscalationRaised,
        seq: int,
        origin: str,
        rev: int,
    ) -> None:
        d = event.data
        values = {
            "id": d.id,
            "kind": d.kind,
            "title": d.title,
            "body": d.body,
            "severity": d.severity,
            "options": None if d.options is None else json.dumps(d.options),
            "deadline": None if d.deadline is None else d.deadline.timestamp(),
            "targets": None if d.reroute_targets is None else json.dumps(d.reroute_targets),
            "agent": event.agent,
            "task": event.task,
            "workflow": event.workflow,
            "source": event.source,
            "origin": origin,
            "raised_ts": event.ts.timestamp(),
            "seq": seq,
            "rev": rev,
        }
        [clean] = _nul_free([tuple(values.values())])
        await cur.execute(_RAISE_ESCALATION, dict(zip(values, clean, strict=True)))
        if cur.rowcount == 0:
            await self._refused(origin, event, await refused_raise(self, event))

    async def _withdraw(
        self, cur: psycopg.AsyncCursor[Any], event: ev.EscalationWithdrawn, origin: str, rev: int
    ) -> None:
        """Only the source that raised an escalation withdraws it (:mod:`store.ownership`)."""
        [values] = _nul_free(
            [(event.data.reason or None, event.ts.timestamp(), rev, event.data.id, event.source)]
        )
        await cur.execute(
            "UPDATE escalations SET state = 'withdrawn', reason = %s, decided_ts = %s, "
            "rev = %s WHERE id = %s AND state = 'open' AND source = %s",
            values,
        )
        if cur.rowcount == 0:
            await self._refused(origin, event, await refused_withdrawal(self, event))

    async def _refused(self, origin: str, event: ev.Event, reason: str | None) -> None:
        """Kept (the event log has it), not applied: the reason goes to the dead letters."""
        if reason is not None:
            await self._dead_letters_in_tx(
                [(origin, f"event {event.source}/{event.id}", event.model_dump_json(), reason)]
            )
