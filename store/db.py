"""The SQLite hub: append events, project them, decide escalations, deliver, audit.

One :class:`Store` wraps one aiosqlite connection. Several processes may open the
same file (a collector, any number of TUIs, CLI commands, hook commands); SQLite's
WAL mode lets readers proceed while one writer commits, and every write here is a
short ``BEGIN IMMEDIATE`` transaction so writers queue instead of deadlocking.

Within one process, coroutines share the connection; :meth:`Store.write` holds an
asyncio lock for the span of a transaction so two coroutines can never interleave
statements inside each other's transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from swarmdeck.store import audit as audit_chain
from swarmdeck.store import events as ev
from swarmdeck.store.errors import (
    AlreadyDecided,
    InvalidDecision,
    NotFound,
    SchemaTooNew,
    StoreError,
)
from swarmdeck.store.models import (
    AdapterHealth,
    Agent,
    AppendResult,
    AuditRecord,
    AuditVerdict,
    DeadLetter,
    Decision,
    Delivery,
    Escalation,
    StoredEvent,
    Task,
    Workflow,
    WorkflowNode,
    WorkflowSummary,
    loads_list,
)
from swarmdeck.store.projections import fold_events
from swarmdeck.store.schema import MIGRATIONS, SCHEMA_VERSION

#: Dead letters keep at most this much of the offending input.
DEAD_LETTER_RAW_LIMIT = 16_384

#: Delivery states a reader may see on a decided escalation.
DELIVERY_STATES = ("pending", "retrying", "delivered", "failed")

_SEVERITY_ORDER_SQL = (
    "CASE e.severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END"
)

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
    events = events + ?11, tokens_in = tokens_in + ?12, tokens_out = tokens_out + ?13,
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
    failures = failures + ?13, tokens_in = tokens_in + ?14, tokens_out = tokens_out + ?15,
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
ON CONFLICT(id) DO UPDATE SET
    kind = ?2, title = ?3, body = ?4, severity = ?5, options = ?6, deadline = ?7,
    reroute_targets = ?8, agent = COALESCE(?9, agent), task = COALESCE(?10, task),
    workflow = COALESCE(?11, workflow), rev = ?16
-- Only the source that raised it may update it, and only while it is open: a decided
-- escalation must keep what was decided, and another team's id clash must not hijack it.
WHERE escalations.state = 'open' AND escalations.source = ?12
"""

_ESCALATION_COLUMNS = """
    e.id, e.kind, e.title, e.body, e.severity, e.options, e.deadline, e.reroute_targets,
    e.agent, e.task, e.workflow, e.source, e.origin, e.state, e.raised_ts, e.raised_seq,
    e.decided_ts, e.decided_by, e.action, e.reason, e.target,
    o.state AS delivery, o.last_error AS delivery_error, e.rev
"""
_ESCALATION_FROM = """
    FROM escalations e
    LEFT JOIN outbox o ON o.id = (
        SELECT id FROM outbox WHERE escalation = e.id ORDER BY id DESC LIMIT 1)
"""


def _escalation(row: sqlite3.Row | tuple[Any, ...]) -> Escalation:
    r = tuple(row)
    return Escalation(
        id=r[0],
        kind=r[1],
        title=r[2],
        body=r[3],
        severity=r[4],
        options=loads_list(r[5]),
        deadline=r[6],
        reroute_targets=loads_list(r[7]),
        agent=r[8],
        task=r[9],
        workflow=r[10],
        source=r[11],
        origin=r[12],
        state=r[13],
        raised_ts=r[14],
        raised_seq=r[15],
        decided_ts=r[16],
        decided_by=r[17],
        action=r[18],
        reason=r[19],
        target=r[20],
        delivery=r[21],
        delivery_error=r[22],
        rev=r[23],
    )


def _agent(r: tuple[Any, ...]) -> Agent:
    return Agent(*r)


def _task(r: tuple[Any, ...]) -> Task:
    values = list(r)
    values[4] = json.loads(values[4])
    values[11] = None if values[11] is None else bool(values[11])
    return Task(*values)


_AGENT_COLUMNS = (
    "name, role, model, host, state, activity, task, workflow, first_seen, last_seen, events, "
    "tokens_in, tokens_out, cost_usd, origin, rev, vendor"
)
_TASK_COLUMNS = (
    "id, title, workflow, parent, depends_on, assignee, state, note, pct, result, error, "
    "retryable, failures, tokens_in, tokens_out, cost_usd, created_ts, started_ts, ended_ts, "
    "updated_ts, origin, rev"
)


def _event_data(event: ev.Event) -> str | None:
    data = event.data.model_dump_json(exclude_none=True)
    return None if data == "{}" else data


def stored_event(r: Sequence[Any]) -> StoredEvent:
    """Decode an ``events`` row selected as ``seq, source, eid, ts, kind, agent, task,
    workflow, data`` (the change feed's shape)."""
    return StoredEvent(
        seq=r[0],
        source=r[1],
        id=r[2],
        ts=r[3],
        kind=r[4],
        agent=r[5],
        task=r[6],
        workflow=r[7],
        data=json.loads(r[8]) if r[8] else {},
    )


def _secure_path(path: Path) -> None:
    """Create the database's directory 0700; tighten an existing file to 0600."""
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            # Not ours to change (a shared read-only copy): reading still works.
            with contextlib.suppress(OSError):
                path.chmod(0o600)


class Store:
    """An open swarmdeck database. Use :meth:`open`; close with :meth:`close` or ``async with``."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, clock: Callable[[], float]) -> None:
        self.conn = conn
        self.path = path
        self.clock = clock
        self._write_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> Store:
        """Open (and create or migrate) the database at ``path``.

        Raises:
            StoreError: the file is missing (with ``create=False``), unreadable or not a
                swarmdeck database.
            SchemaTooNew: written by a newer swarmdeck.
        """
        db_path = Path(path).expanduser()  # noqa: ASYNC240 - stat calls, microseconds
        if not create and not db_path.exists():
            raise StoreError(f"no database at {db_path}")
        if db_path.is_dir():
            raise StoreError(f"{db_path} is a directory, not a database file")
        try:
            _secure_path(db_path)
        except OSError as exc:
            raise StoreError(f"cannot create {db_path.parent}: {exc.strerror}") from None
        old_umask = os.umask(0o077)
        try:
            conn = await aiosqlite.connect(db_path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {db_path}: {exc}") from None
        finally:
            os.umask(old_umask)
        store = cls(conn, db_path, clock)
        try:
            for attempt in range(5):
                try:
                    await store._configure()
                    await store._migrate()
                    break
                except sqlite3.OperationalError as exc:
                    # Several processes opening a brand-new file at once (a TUI, its
                    # collector, a hook) race to switch it to WAL, which needs the file
                    # to themselves: that one may say "locked" without waiting. Retry.
                    if "locked" not in str(exc) or attempt == 4:
                        raise
                    await asyncio.sleep(0.05 * 2**attempt)
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"{db_path} is not a usable swarmdeck database: {exc}") from None
        except BaseException:
            await conn.close()
            raise
        return store

    async def _configure(self) -> None:
        for pragma in (
            "PRAGMA busy_timeout = 10000",
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
            "PRAGMA cache_size = -65536",
            "PRAGMA temp_store = MEMORY",
            # Hot pages (agents, tasks) are rewritten by every batch: checkpointing
            # every 10,000 pages instead of 1,000 copies each back less often (~5%).
            "PRAGMA wal_autocheckpoint = 10000",
        ):
            await self.conn.execute(pragma)

    async def _user_version(self) -> int:
        async with self.conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        version = await self._user_version()
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"{self.path} has schema version {version}, newer than this swarmdeck "
                f"understands ({SCHEMA_VERSION}); upgrade swarmdeck to open it"
            )
        if version == SCHEMA_VERSION:
            return
        async with self.write():
            version = await self._user_version()  # another process may have migrated meanwhile
            for number in range(version, SCHEMA_VERSION):
                for statement in _split_sql(MIGRATIONS[number]):
                    await self.conn.execute(statement)
            await self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def close(self) -> None:
        await self.conn.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), serialised in-process.

        Reads from other coroutines of this process wait until it ends (see
        :meth:`_fetchall`), so nobody here sees rows that may still roll back.
        """
        async with self._write_lock:
            try:
                await self._settle("BEGIN IMMEDIATE")
            except BaseException:
                # Cancelled (or failed) while waiting for the lock: BEGIN may still have
                # succeeded in aiosqlite's thread, holding the database's write lock.
                if self.conn.in_transaction:
                    await self._settle("ROLLBACK")
                raise
            self._tx_owner = asyncio.current_task()
            try:
                try:
                    yield self.conn
                except BaseException:
                    await self._settle("ROLLBACK")
                    raise
                try:
                    await self._settle("COMMIT")
                except BaseException:
                    # Never leave a transaction open on the shared connection.
                    if self.conn.in_transaction:
                        await self._settle("ROLLBACK")
                    raise
            finally:
                self._tx_owner = None

    async def _settle(self, statement: str) -> None:
        """Run a transaction-control statement to its end, even if we are cancelled.

        The statement runs in aiosqlite's thread whether or not the awaiting coroutine
        is cancelled; waiting for its outcome is the only way to know whether a
        transaction (and the database's write lock) is still held.
        """
        task = asyncio.ensure_future(self.conn.execute(statement))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
            raise

    async def _bump_rev(self) -> int:
        async with self.conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'rev' RETURNING value"
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def rev(self) -> int:
        """The store-wide change counter: cheap to poll, grows with every committed change."""
        row = await self._fetchone("SELECT value FROM meta WHERE key = 'rev'")
        return int(row[0]) if row else 0

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[None]:
        """Reads inside this task's own transaction go straight on; any other read waits
        for a transaction in flight on the shared connection to end, since it would
        otherwise see that transaction's uncommitted rows."""
        if self._tx_owner is not None and self._tx_owner is asyncio.current_task():
            yield
        else:
            async with self._write_lock:
                yield

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self._reading(), self.conn.execute(sql, params) as cur:
            return [tuple(r) for r in await cur.fetchall()]

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        async with self._reading(), self.conn.execute(sql, params) as cur:
            row = await cur.fetchone()
        return None if row is None else tuple(row)

    # ------------------------------------------------------------------ ingest

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
        async with self.write():
            return await self._append_in_tx(events, origin)

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
        await self.conn.executemany(_INSERT_EVENT, rows)
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
        db = self.conn
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
                if cur.rowcount == 0:
                    # Kept, not applied: the raise clashes with an escalation that is
                    # decided or belongs to another source.
                    await self._dead_letters_in_tx(
                        [(origin, f"event {event.source}/{event.id}", event.model_dump_json(),
                          f"escalation id {d.id!r} is already in use (decided, withdrawn, or "
                          "raised by another source); escalation ids must be unique")]
                    )  # fmt: skip
            elif isinstance(event, ev.EscalationWithdrawn):
                await db.execute(
                    "UPDATE escalations SET state = 'withdrawn', reason = ?, decided_ts = ?, "
                    "rev = ? WHERE id = ? AND state = 'open'",
                    (event.data.reason or None, event.ts.timestamp(), rev, event.data.id),
                )

    async def dead_letter(
        self, *, origin: str, location: str, raw: bytes | str, error: str
    ) -> None:
        """Keep input that could not be parsed: bounded raw bytes, where it came from, why."""
        await self.dead_letters_add([(origin, location, raw, error)])

    async def dead_letters_add(self, items: Iterable[tuple[str, str, bytes | str, str]]) -> None:
        """Batch form of :meth:`dead_letter`: ``(origin, location, raw, error)`` tuples."""
        async with self.write():
            await self._dead_letters_in_tx(items)

    async def _dead_letters_in_tx(self, items: Iterable[tuple[str, str, bytes | str, str]]) -> None:
        now = self.clock()
        rows = []
        for origin, location, raw, error in items:
            data = raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)
            rows.append((now, origin, location, data[:DEAD_LETTER_RAW_LIMIT], error))
        if rows:
            await self.conn.executemany(
                "INSERT INTO dead_letters(ts, origin, location, raw, error) VALUES (?, ?, ?, ?, ?)",
                rows,
            )

    async def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = await self._fetchall(
            "SELECT id, ts, origin, location, raw, error FROM dead_letters "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            DeadLetter(r[0], r[1], r[2], r[3], bytes(r[4]).decode("utf-8", "replace"), r[5])
            for r in rows
        ]

    # ------------------------------------------------------------------ decisions

    async def decide(
        self,
        escalation: str,
        action: str,
        *,
        actor: str,
        reason: str | None = None,
        target: str | None = None,
        answer: str | None = None,
    ) -> Decision:
        """Decide an open escalation: compare-and-set, first decision wins.

        The decision row, its outbox entry and its audit record are written in the
        same transaction, so a decision is either wholly recorded or not at all.

        Raises:
            InvalidDecision: unknown action, reject/reroute without a reason, reroute
                without a target, answer without text.
            NotFound: no such escalation.
            AlreadyDecided: someone decided first (``.by``, ``.at``), or it was withdrawn.
        """
        reason = (reason or "").strip() or None
        target = (target or "").strip() or None
        if action not in ("approve", "reject", "reroute", "retry", "answer"):
            raise InvalidDecision(
                f"unknown action {action!r} (use approve, reject, reroute, retry or answer)"
            )
        if action in ("reject", "reroute") and not reason:
            raise InvalidDecision(f"{action} needs a reason: the agent is told why")
        if action == "reroute" and not target:
            raise InvalidDecision("reroute needs a target agent or role")
        if action == "answer" and not (answer or "").strip():
            raise InvalidDecision("answer needs the answer text")
        async with self.write() as db:
            row = await self._fetchone(
                "SELECT state, decided_by, decided_ts, origin, kind, title, agent, task "
                "FROM escalations WHERE id = ?",
                (escalation,),
            )
            if row is None:
                raise NotFound(f"no escalation {escalation!r}")
            state, decided_by, decided_ts, origin, kind, title, agent, task = row
            now = self.clock()
            rev = await self._bump_rev()
            cur = await db.execute(
                "UPDATE escalations SET state = 'decided', decided_ts = ?, decided_by = ?, "
                "action = ?, reason = ?, target = ?, rev = ? WHERE id = ? AND state = 'open'",
                (now, actor, action, reason, target, rev, escalation),
            )
            if cur.rowcount != 1:
                raise AlreadyDecided(escalation, state, decided_by, decided_ts)
            async with db.execute(
                "INSERT INTO decisions(escalation, action, reason, target, answer, actor, ts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (escalation, action, reason, target, answer, actor, now),
            ) as c:
                decision_row = await c.fetchone()
            assert decision_row is not None
            decision_id = int(decision_row[0])
            await db.execute(
                "INSERT INTO outbox(decision, escalation, adapter, next_attempt) "
                "VALUES (?, ?, ?, ?)",
                (decision_id, escalation, origin, now),
            )
            detail = {
                "action": action,
                "reason": reason,
                "target": target,
                "answer": answer,
                "kind": kind,
                "title": title,
                "agent": agent,
                "task": task,
                "deliver_to": origin,
            }
            await self._audit_insert(now, actor, f"decide.{action}", escalation, detail)
        return Decision(decision_id, escalation, action, reason, target, answer, actor, now)

    async def decisions(self, escalation: str | None = None, limit: int = 1000) -> list[Decision]:
        where, params = ("WHERE escalation = ?", [escalation]) if escalation else ("", [])
        rows = await self._fetchall(
            f"SELECT id, escalation, action, reason, target, answer, actor, ts FROM decisions "
            f"{where} ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [Decision(*r) for r in rows]

    # ------------------------------------------------------------------ outbox

    async def due_deliveries(
        self, adapters: Iterable[str] | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Outbox rows whose next attempt is due, oldest first, optionally for some adapters."""
        params: list[Any] = [self.clock()]
        where = "o.state IN ('pending', 'retrying') AND o.next_attempt <= ?"
        if adapters is not None:
            names = list(adapters)
            if not names:
                return []
            where += f" AND o.adapter IN ({','.join('?' * len(names))})"
            params.extend(names)
        rows = await self._fetchall(
            f"SELECT o.id, o.adapter, o.attempts, d.id, d.escalation, d.action, d.reason, "
            f"d.target, d.answer, d.actor, d.ts "
            f"FROM outbox o JOIN decisions d ON d.id = o.decision "
            f"WHERE {where} ORDER BY o.next_attempt LIMIT ?",
            (*params, limit),
        )
        deliveries = []
        for r in rows:
            esc = await self.escalation(r[4])
            decision = Decision(r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10])
            deliveries.append(Delivery(r[0], r[1], r[2], decision, esc))
        return deliveries

    async def delivery_succeeded(self, outbox_id: int) -> None:
        await self._delivery_update(outbox_id, "delivered", None, None)

    async def delivery_failed(self, outbox_id: int, error: str, retry_at: float | None) -> None:
        """Record a failed attempt; ``retry_at=None`` gives up (state ``failed``)."""
        await self._delivery_update(
            outbox_id, "retrying" if retry_at is not None else "failed", error, retry_at
        )

    async def _delivery_update(
        self, outbox_id: int, state: str, error: str | None, retry_at: float | None
    ) -> None:
        now = self.clock()
        async with self.write() as db:
            rev = await self._bump_rev()
            await db.execute(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, last_error = ?, "
                "next_attempt = COALESCE(?, next_attempt), "
                "delivered_ts = CASE WHEN ? = 'delivered' THEN ? ELSE delivered_ts END "
                "WHERE id = ?",
                (state, error, retry_at, state, now, outbox_id),
            )
            await db.execute(
                "UPDATE escalations SET rev = ? "
                "WHERE id = (SELECT escalation FROM outbox WHERE id = ?)",
                (rev, outbox_id),
            )
            if state in ("delivered", "failed"):
                # The audit says what came of each decision, not only that it was made.
                row = await self._fetchone(
                    "SELECT o.escalation, o.adapter, o.attempts, d.id, d.action, d.actor "
                    "FROM outbox o JOIN decisions d ON d.id = o.decision WHERE o.id = ?",
                    (outbox_id,),
                )
                if row is not None:
                    escalation, adapter, attempts, decision, action, decided_by = row
                    await self._audit_insert(
                        now,
                        f"adapter:{adapter}",
                        f"decision.{state}",
                        escalation,
                        {
                            "decision": decision,
                            "action": action,
                            "decided_by": decided_by,
                            "attempts": attempts,
                            "error": error,
                        },
                    )

    # ------------------------------------------------------------------ audit

    async def _audit_insert(
        self, ts: float, actor: str, action: str, subject: str, detail: dict[str, Any]
    ) -> None:
        """Append one chained audit record; call inside :meth:`write`."""
        last = await self._fetchone("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (int(last[0]) + 1, str(last[1])) if last else (1, audit_chain.GENESIS)
        body = audit_chain.dump_detail(detail)
        digest = audit_chain.record_hash(prev, seq, ts, actor, action, subject, body)
        await self.conn.execute(
            "INSERT INTO audit(seq, ts, actor, action, subject, detail, prev, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, actor, action, subject, body, prev, digest),
        )
        await self.conn.execute(
            "INSERT INTO meta(key, value) VALUES ('audit_count', 1) "
            "ON CONFLICT(key) DO UPDATE SET value = value + 1"
        )

    async def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        """Append an audit record of its own (a reveal, a rule change, ...)."""
        async with self.write():
            await self._audit_insert(self.clock(), actor, action, subject, detail)

    async def audit_records(self, since: float | None = None) -> list[AuditRecord]:
        rows = await self._fetchall(
            "SELECT seq, ts, actor, action, subject, detail, prev, hash FROM audit "
            "WHERE ts >= ? ORDER BY seq",
            (since if since is not None else 0.0,),
        )
        return [
            AuditRecord(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6], r[7]) for r in rows
        ]

    async def audit_verify(self) -> AuditVerdict:
        """Walk the chain; name every edited, deleted or reordered record."""
        rows = await self._fetchall(
            "SELECT seq, ts, actor, action, subject, detail, prev, hash FROM audit ORDER BY seq"
        )
        count, problems = audit_chain.verify_rows(rows)
        expected = await self._fetchone("SELECT value FROM meta WHERE key = 'audit_count'")
        expected_count = int(expected[0]) if expected else 0
        if expected_count > count and not problems:
            problems.append(
                f"{expected_count - count} record(s) deleted from the end of the chain "
                f"(expected {expected_count}, found {count})"
            )
        return AuditVerdict(ok=not problems, records=count, problems=problems)

    # ------------------------------------------------------------------ adapter state and health

    async def get_state(self, adapter: str, key: str) -> str | None:
        row = await self._fetchone(
            "SELECT value FROM adapter_state WHERE adapter = ? AND key = ?", (adapter, key)
        )
        return None if row is None else str(row[0])

    async def get_states(self, adapter: str) -> dict[str, str]:
        rows = await self._fetchall(
            "SELECT key, value FROM adapter_state WHERE adapter = ?", (adapter,)
        )
        return {str(k): str(v) for k, v in rows}

    async def set_state(self, adapter: str, key: str, value: str) -> None:
        async with self.write() as db:
            await db.execute(
                "INSERT INTO adapter_state(adapter, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(adapter, key) DO UPDATE SET value = excluded.value",
                (adapter, key, value),
            )

    async def append_with_state(
        self,
        events: Sequence[ev.Event],
        *,
        origin: str,
        state: dict[str, str],
        rejected: Iterable[tuple[str, bytes | str, str]] = (),
    ) -> AppendResult:
        """Append events and save the adapter's position (offset, cursor) atomically.

        This is what makes "a restart neither re-reads nor skips" hold: the position
        only moves forward in the same transaction that stored what was read.
        """
        async with self.write() as db:
            result = await self._append_in_tx(events, origin)
            await db.executemany(
                "INSERT INTO adapter_state(adapter, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(adapter, key) DO UPDATE SET value = excluded.value",
                [(origin, k, v) for k, v in state.items()],
            )
            # Input the position moves past must be kept in the same transaction, or a
            # crash in between would lose the rejected lines for good.
            await self._dead_letters_in_tx((origin, loc, raw, err) for loc, raw, err in rejected)
        return result

    async def set_health(
        self,
        name: str,
        type_: str,
        state: str,
        *,
        detail: str = "",
        restarts: int = 0,
        last_error: str | None = None,
    ) -> None:
        async with self.write() as db:
            rev = await self._bump_rev()
            await db.execute(
                "INSERT INTO adapter_health(name, type, state, detail, restarts, last_error, "
                "updated_ts, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET "
                "type = excluded.type, state = excluded.state, detail = excluded.detail, "
                "restarts = excluded.restarts, "
                "last_error = COALESCE(excluded.last_error, last_error), "
                "updated_ts = excluded.updated_ts, rev = excluded.rev",
                (name, type_, state, detail, restarts, last_error, self.clock(), rev),
            )

    async def adapter_health(self) -> list[AdapterHealth]:
        rows = await self._fetchall(
            "SELECT name, type, state, detail, restarts, last_error, updated_ts, rev "
            "FROM adapter_health ORDER BY name"
        )
        return [AdapterHealth(*r) for r in rows]

    # ------------------------------------------------------------------ queries for the panes

    async def agents(
        self,
        *,
        state: str | None = None,
        role: str | None = None,
        since_rev: int | None = None,
        limit: int | None = None,
    ) -> list[Agent]:
        """Agents, by name; ``since_rev`` returns only those changed after that rev."""
        where, params = _filters({"state": state, "role": role}, since_rev)
        lim = f"LIMIT {int(limit)}" if limit is not None else ""
        rows = await self._fetchall(
            f"SELECT {_AGENT_COLUMNS} FROM agents {where} ORDER BY name {lim}", params
        )
        return [_agent(r) for r in rows]

    async def agent(self, name: str) -> Agent:
        row = await self._fetchone(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no agent {name!r}")
        return _agent(row)

    async def tasks(
        self,
        *,
        workflow: str | None = None,
        state: str | None = None,
        since_rev: int | None = None,
        limit: int | None = None,
    ) -> list[Task]:
        where, params = _filters({"workflow": workflow, "state": state}, since_rev)
        lim = f"LIMIT {int(limit)}" if limit is not None else ""
        rows = await self._fetchall(
            f"SELECT {_TASK_COLUMNS} FROM tasks {where} ORDER BY created_ts, id {lim}", params
        )
        return [_task(r) for r in rows]

    async def task(self, task_id: str) -> Task:
        row = await self._fetchone(f"SELECT {_TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,))
        if row is None:
            raise NotFound(f"no task {task_id!r}")
        return _task(row)

    async def escalations(
        self,
        *,
        state: str | Sequence[str] | None = None,
        since_rev: int | None = None,
        decided_since: float | None = None,
        limit: int | None = None,
    ) -> list[Escalation]:
        """Escalations, most urgent first: severity, then oldest first.

        Args:
            state: one state or several (``open``, ``decided``, ``withdrawn``).
            since_rev: only those changed after this rev.
            decided_since: with decided ones, only those decided after this time
                (the inbox shows recent decisions until they age out).
        """
        clauses: list[str] = []
        params: list[Any] = []
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            clauses.append(f"e.state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if since_rev is not None:
            clauses.append("e.rev > ?")
            params.append(since_rev)
        if decided_since is not None:
            clauses.append("(e.state = 'open' OR e.decided_ts >= ?)")
            params.append(decided_since)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        lim = f"LIMIT {int(limit)}" if limit is not None else ""
        rows = await self._fetchall(
            f"SELECT {_ESCALATION_COLUMNS} {_ESCALATION_FROM} {where} "
            f"ORDER BY (e.state != 'open'), {_SEVERITY_ORDER_SQL}, "
            f"e.raised_ts, e.raised_seq {lim}",
            params,
        )
        return [_escalation(r) for r in rows]

    async def escalation(self, escalation_id: str) -> Escalation:
        row = await self._fetchone(
            f"SELECT {_ESCALATION_COLUMNS} {_ESCALATION_FROM} WHERE e.id = ?", (escalation_id,)
        )
        if row is None:
            raise NotFound(f"no escalation {escalation_id!r}")
        return _escalation(row)

    async def workflows(self) -> list[WorkflowSummary]:
        rows = await self._fetchall(
            """
            SELECT w.name,
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name),
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name AND t.state = 'done'),
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name AND t.state = 'failed'),
                   (SELECT COUNT(*) FROM tasks t WHERE t.workflow = w.name AND t.state = 'running'),
                   (SELECT COUNT(*) FROM escalations e
                     WHERE e.state = 'open' AND (e.workflow = w.name OR e.task IN
                           (SELECT id FROM tasks t WHERE t.workflow = w.name))),
                   w.updated_ts, w.rev
            FROM workflows w ORDER BY w.updated_ts DESC, w.name
            """
        )
        return [WorkflowSummary(*r) for r in rows]

    async def workflow(self, name: str) -> Workflow:
        """A workflow's graph: defined nodes plus its tasks, with each node's live state.

        A node's id is the id of the task that runs it. Tasks that belong to the
        workflow but are not declared as nodes still appear, so a workflow that was
        never defined is drawn from its tasks' dependencies alone.
        """
        wf = await self._fetchone(
            "SELECT name, nodes, defined, updated_ts, rev FROM workflows WHERE name = ?", (name,)
        )
        if wf is None:
            raise NotFound(f"no workflow {name!r}")
        tasks = {t.id: t for t in await self.tasks(workflow=name)}
        blocked = {
            r[0]
            for r in await self._fetchall(
                "SELECT task FROM escalations WHERE state = 'open' "
                "AND task IN (SELECT id FROM tasks WHERE workflow = ?)",
                (name,),
            )
        }
        nodes: list[WorkflowNode] = []
        seen: set[str] = set()

        def node_state(task: Task | None) -> str:
            if task is None:
                return "pending"
            if task.id in blocked and task.state not in ("done",):
                return "blocked"
            return task.state

        for spec in json.loads(wf[1]):
            task = tasks.get(spec["id"])
            nodes.append(
                WorkflowNode(
                    id=spec["id"],
                    label=spec.get("label") or (task.title if task else spec["id"]),
                    role=spec.get("role"),
                    gate=bool(spec.get("gate", False)),
                    state=node_state(task),
                    assignee=task.assignee if task else None,
                    task=task.id if task else None,
                )
            )
            seen.add(spec["id"])
        for task in tasks.values():
            if task.id not in seen:
                nodes.append(
                    WorkflowNode(
                        id=task.id,
                        label=task.title or task.id,
                        role=None,
                        gate=False,
                        state=node_state(task),
                        assignee=task.assignee,
                        task=task.id,
                    )
                )
                seen.add(task.id)
        edge_rows = await self._fetchall(
            "SELECT src, dst FROM edges "
            "WHERE workflow = ? AND kind IN ('flow', 'depends', 'parent') ORDER BY rowid",
            (name,),
        )
        edges: list[tuple[str, str]] = []
        for src, dst in edge_rows:
            if src in seen and dst in seen and (src, dst) not in edges:
                edges.append((src, dst))
        return Workflow(name, nodes, edges, bool(wf[2]), wf[3], wf[4])

    async def events_since(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        """The change feed: events after ``seq``, oldest first."""
        rows = await self._fetchall(
            "SELECT seq, source, eid, ts, kind, agent, task, workflow, data FROM events "
            "WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [stored_event(r) for r in rows]

    async def recent_events(
        self, *, agent: str | None = None, task: str | None = None, limit: int = 50
    ) -> list[StoredEvent]:
        """The latest events of one agent or one task, newest first."""
        if agent is not None:
            where, params = "agent = ?", [agent]
        elif task is not None:
            where, params = "task = ?", [task]
        else:
            where, params = "1", []
        rows = await self._fetchall(
            f"SELECT seq, source, eid, ts, kind, agent, task, workflow, data FROM events "
            f"WHERE {where} ORDER BY seq DESC LIMIT ?",
            (*params, limit),
        )
        return [stored_event(r) for r in rows]

    async def last_seq(self) -> int:
        row = await self._fetchone("SELECT COALESCE(MAX(seq), 0) FROM events")
        return int(row[0]) if row else 0

    async def counts(self) -> dict[str, Any]:
        """The status line: agents by state, open escalations by severity, the oldest wait."""
        agents = dict(await self._fetchall("SELECT state, COUNT(*) FROM agents GROUP BY state"))
        severity = dict(
            await self._fetchall(
                "SELECT severity, COUNT(*) FROM escalations WHERE state = 'open' GROUP BY severity"
            )
        )
        oldest = await self._fetchone("SELECT MIN(raised_ts) FROM escalations WHERE state = 'open'")
        return {
            "agents": agents,
            "open_by_severity": severity,
            "oldest_open_ts": oldest[0] if oldest else None,
        }

    async def prune_events(self, older_than: float) -> int:
        """Retention: delete raw events older than a time; projections and audit stay.

        Events are (nearly) time-ordered by seq, so the cut is the newest event
        older than the limit; there is no ts index to keep ingest cheap.
        """
        async with self.write() as db:
            cur = await db.execute(
                "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events WHERE ts < ?) "
                "AND seq < (SELECT MAX(seq) FROM events)",
                (older_than,),
            )
            return int(cur.rowcount)


def _filters(equal: dict[str, Any], since_rev: int | None) -> tuple[str, list[Any]]:
    """``WHERE`` clause and parameters: columns equal to the given (non-None) values,
    and ``rev > since_rev``. Column names come from the caller's code, never input."""
    clauses = [f"{column} = ?" for column, value in equal.items() if value is not None]
    params: list[Any] = [value for value in equal.values() if value is not None]
    if since_rev is not None:
        clauses.append("rev > ?")
        params.append(since_rev)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (ours never put ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
