"""PostgreSQL's SQL core: a connection pool, retried transactions, the change counter.

One store holds a ``psycopg_pool.AsyncConnectionPool`` (connections in autocommit, a
write is an explicit transaction) and, once someone waits for changes, one more
connection that ``LISTEN``s (:mod:`.listen`).

Write transactions (:meth:`PostgresCore._transact`):

* Every transaction that may bump ``rev`` locks the counter row
  (``SELECT ... FOR UPDATE``) before its first statement on a shared row. Those writers
  are therefore serialised, in the order they commit, which is what makes ``rev`` (and
  event ``seq``) grow in commit order: a reader that saw rev N can never later meet a
  row stamped N or lower that was not there yet. Taking the counter before any other
  row also means two writers can never wait on each other in a cycle. The lock is
  taken lazily (:meth:`PostgresCore._locked`), so what a body does first that touches
  nothing shared (an append's validation, folding, and ``COPY`` into its session's
  temporary staging table, see :func:`tx_connection`) runs outside it, side by side
  with another collector's write instead of queued behind it.
* The body runs on a pool connection remembered in a context variable, so the shared
  jobs' ``_fetchall``/``_exec`` inside it use that connection.
* A lost connection (server restart, ``pg_terminate_backend``, a network cut) or a
  serialisation failure rolls the attempt back and the body runs again on another
  connection. The one ambiguous moment, the connection dropping during ``COMMIT``,
  is settled by asking ``pg_xact_status`` about the transaction's id: committed means
  done (the body's result is returned), anything else means run it again. So no
  write is lost and none is applied twice.

Shared SQL is written with ``?`` placeholders; :func:`pg_sql` turns them into
psycopg's ``%s`` (and doubles a literal ``%``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool

from swarmdeck.store.base import Dialect, StoreCore
from swarmdeck.store.errors import StoreError, StoreUnavailable
from swarmdeck.store.opening import display_location
from swarmdeck.store.postgres.listen import ChangeListener
from swarmdeck.store.postgres.schema import migrate

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The channel every committing change notifies (per database, so one name is enough).
CHANNEL = "swarmdeck_rev"
#: How long one transaction or read keeps retrying a lost server before it is an error
#: (a restart or a failover, not an outage).
RETRY_SECONDS = 15.0
#: Waits between attempts: short, since a fresh connection is what the next one needs.
FIRST_DELAY, MAX_DELAY = 0.02, 0.2
#: Attempts at settling an unknown COMMIT outcome.
ATTEMPTS = 10
#: How long a caller waits for a pool connection (or the first one, on open).
CONNECT_TIMEOUT = 10.0
#: Without a live LISTEN connection, waiters look at the counter this often.
FALLBACK_POLL_SECONDS = 0.25

_NUMBERED = re.compile(r"\?\d")


@functools.lru_cache(maxsize=2048)
def pg_sql(sql: str) -> str:
    """Shared SQL (``?`` placeholders) as psycopg takes it (``%s``, literal ``%%``)."""
    if _NUMBERED.search(sql):
        raise ValueError("numbered ? placeholders are SQLite's: write PostgreSQL SQL for them")
    return sql.replace("%", "%%").replace("?", "%s")


#: SQLSTATE classes and codes that are the server's state, not the statement's: out of
#: disk or memory, shutting down, a system error, a read-only server or role. A write
#: refused for one of these would be refused whatever it held.
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
_UNAVAILABLE_CODES = ("25006", "42501")


def _store_error(where: str, exc: psycopg.Error) -> StoreError:
    """One line for a failure that will not pass on another connection; a
    :class:`StoreUnavailable` when it is the server's state rather than the write's."""
    state = exc.sqlstate or ""
    cls = (
        StoreUnavailable
        if state[:2] in _UNAVAILABLE_CLASSES or state in (_UNAVAILABLE_CODES)
        else StoreError
    )
    return cls(f"{where}: {_one_line(exc)}")


def _retryable(exc: BaseException) -> bool:
    """A failure that rolled the attempt back and may pass on another connection."""
    if isinstance(exc, pg_errors.QueryCanceled):
        return False  # a statement timeout or a cancel: running it again would not help
    return isinstance(exc, psycopg.OperationalError)


@dataclass(slots=True)
class _Tx:
    """The transaction in flight in this task: whose, on which connection, how far."""

    store: PostgresCore
    conn: psycopg.AsyncConnection[Any]
    #: Whether this transaction may bump ``rev`` (and so takes the counter's lock).
    bumps: bool
    #: The transaction's id once it holds its locks (the counter's, when it bumps).
    xid: str | None = None


_TX: ContextVar[_Tx | None] = ContextVar("swarmdeck_pg_tx", default=None)


def tx_connection(store: StoreCore) -> psycopg.AsyncConnection[Any]:
    """The connection of ``store``'s transaction in flight, *without* its locks.

    Only for statements on what this session alone sees (its temporary staging
    tables); anything on a shared row goes through :func:`locked_connection`.
    """
    current = _TX.get()
    if current is None or current.store is not store:
        raise RuntimeError("a write statement outside _transact")
    return current.conn


async def locked_connection(store: StoreCore) -> psycopg.AsyncConnection[Any]:
    """The connection of ``store``'s transaction in flight, holding its locks."""
    if not isinstance(store, PostgresCore):
        raise TypeError(f"not a PostgreSQL store: {store!r}")
    return await store._locked()


class PostgresCore(StoreCore):
    """An open PostgreSQL database. Use :meth:`open`; close with :meth:`close`."""

    dialect: ClassVar[Dialect] = "postgres"
    pushes_changes: ClassVar[bool] = True
    #: Statements every pool connection runs once, outside any transaction, when it is
    #: made (the append's session-scoped staging tables). Created inside a transaction
    #: instead, they would vanish with the first one that rolls back.
    SESSION_SETUP: ClassVar[str | None] = None

    def __init__(
        self, pool: AsyncConnectionPool[Any], url: str, clock: Callable[[], float]
    ) -> None:
        self._pool = pool
        self._url = url
        self.location = display_location(url)
        self.clock = clock
        self._listener = ChangeListener(url, CHANNEL)

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        clock: Callable[[], float] = time.time,
        min_size: int = 1,
        max_size: int = 8,
    ) -> Self:
        """Connect to the database at the URL ``path`` and migrate it.

        The database must exist (``createdb``); its tables are created on first open.
        ``create`` is SQLite's and ignored here.

        Raises:
            StoreError: the server is unreachable or refuses us.
            SchemaTooNew: written by a newer swarmdeck.
        """
        url = os.fspath(path)
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            open=False,
            timeout=CONNECT_TIMEOUT,
            name="swarmdeck",
            configure=cls._setup_session,
            # No check at checkout: the pool sleeps a second (then 2, 4, ...) after each
            # dead connection it finds, while a statement on a dead connection fails at
            # once and _transact/_read retry it on the next one within milliseconds.
        )
        where = display_location(url)
        try:
            await pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except psycopg.Error as exc:
            await pool.close()
            raise StoreError(f"cannot connect to {where}: {_one_line(exc)}") from None
        store = cls(pool, url, clock)
        try:
            async with pool.connection() as conn:
                await migrate(conn, where)
        except psycopg.Error as exc:
            await pool.close()
            problem = _one_line(exc)
            raise StoreError(f"{where} is not a usable swarmdeck database: {problem}") from None
        except BaseException:
            await pool.close()
            raise
        return store

    @classmethod
    async def _setup_session(cls, conn: psycopg.AsyncConnection[Any]) -> None:
        if cls.SESSION_SETUP is None:
            return
        # A read-only server or role: reading still works, and every write fails anyway,
        # with that reason (check_writable says so at a collector's start).
        with contextlib.suppress(pg_errors.ReadOnlySqlTransaction, pg_errors.InsufficientPrivilege):
            await conn.execute(cls.SESSION_SETUP)  # autocommit: committed at once

    async def close(self) -> None:
        await self._listener.close()
        await self._pool.close()

    # ------------------------------------------------------------------ transactions

    async def _transact(self, body: Callable[[], Awaitable[T]], *, bumps: bool = True) -> T:
        current = _TX.get()
        if current is not None and current.store is self:
            raise RuntimeError("a store transaction cannot nest another")
        retry = _Retry()
        while True:
            xid: str | None = None
            committing = False
            try:
                async with self._pool.connection() as conn:
                    tx = _Tx(self, conn, bumps)
                    token = _TX.set(tx)
                    try:
                        async with conn.transaction():
                            result = await body()
                            # Its id (taken with its locks), to settle a lost COMMIT answer.
                            xid = tx.xid
                            committing = True
                    finally:
                        _TX.reset(token)
                return result
            except psycopg.Error as exc:
                if not _retryable(exc):
                    raise _store_error(self.location, exc) from exc
                if committing and xid is not None and await self._committed(xid):
                    return result
                await retry.wait(self.location, exc)

    async def _committed(self, xid: str) -> bool:
        """Whether transaction ``xid`` committed (asked on a fresh connection)."""
        for _ in range(ATTEMPTS):
            try:
                async with self._pool.connection() as conn:
                    row = await (
                        await conn.execute("SELECT pg_xact_status(%s::xid8)", (xid,))
                    ).fetchone()
                status = None if row is None else row[0]
                if status == "in progress":  # the old backend is still rolling it back
                    await asyncio.sleep(0.05)
                    continue
                return status == "committed"
            except psycopg.OperationalError:
                await asyncio.sleep(0.2)
        raise StoreUnavailable(
            f"{self.location}: lost the server while committing; outcome unknown"
        )

    def _tx(self) -> _Tx:
        current = _TX.get()
        if current is None or current.store is not self:
            raise RuntimeError("a write statement outside _transact")
        return current

    async def _locked(self) -> psycopg.AsyncConnection[Any]:
        """The transaction's connection, once it holds the counter's lock (when it bumps).

        Called before every statement of a body (by the helpers below, and by
        :func:`locked_connection`), so the lock always comes before any other row's,
        in one round trip that also learns the transaction's id.
        """
        tx = self._tx()
        if tx.xid is None:
            lock = (
                "SELECT pg_current_xact_id()::text FROM meta WHERE key = 'rev' FOR UPDATE"
                if tx.bumps
                else "SELECT pg_current_xact_id()::text"
            )
            row = await (await tx.conn.execute(lock)).fetchone()
            assert row is not None
            tx.xid = str(row[0])
        return tx.conn

    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await (await self._locked()).execute(pg_sql(sql), params)
        return int(cur.rowcount)

    async def _exec_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            async with (await self._locked()).cursor() as cur:
                await cur.executemany(pg_sql(sql), batch)

    async def _serialise(self, name: str) -> None:
        await (await self._locked()).execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"swarmdeck:{name}",)
        )

    @property
    def in_transaction(self) -> bool:
        current = _TX.get()
        return current is not None and current.store is self

    # ------------------------------------------------------------------ reads

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        current = _TX.get()
        if current is not None and current.store is self:
            cur = await (await self._locked()).execute(pg_sql(sql), params)
            return await cur.fetchall()
        return await self._read(pg_sql(sql), params, many=True)

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        current = _TX.get()
        if current is not None and current.store is self:
            cur = await (await self._locked()).execute(pg_sql(sql), params)
            return await cur.fetchone()
        rows = await self._read(pg_sql(sql), params, many=False)
        return rows[0] if rows else None

    async def _read(self, sql: str, params: Sequence[Any], *, many: bool) -> list[tuple[Any, ...]]:
        """One query on a pool connection, retried on another when the connection is lost."""
        retry = _Retry()
        while True:
            try:
                async with self._pool.connection() as conn:
                    cur = await conn.execute(sql, params)
                    if many:
                        rows: list[tuple[Any, ...]] = await cur.fetchall()
                        return rows
                    row = await cur.fetchone()
                    return [] if row is None else [row]
            except psycopg.Error as exc:
                if not _retryable(exc):
                    raise _store_error(self.location, exc) from exc
                await retry.wait(self.location, exc)

    # ------------------------------------------------------------------ change signals

    async def _bump_rev(self) -> int:
        """Advance the counter (locked before this transaction's first shared row) and
        notify ``LISTEN``ers; PostgreSQL delivers the notification when, and only if,
        the transaction commits."""
        if not self._tx().bumps:
            raise RuntimeError("_bump_rev in a transaction opened with bumps=False")
        cur = await (await self._locked()).execute(
            "WITH r AS (UPDATE meta SET value = value + 1 WHERE key = 'rev' RETURNING value) "
            "SELECT value, pg_notify(%s, value::text) FROM r",
            (CHANNEL,),
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def wait_for_change(self, since_rev: int, timeout: float) -> int:  # noqa: ASYNC109
        """Wait for a ``NOTIFY`` from a committing change (no polling while the LISTEN
        connection is up; every :data:`FALLBACK_POLL_SECONDS` while it reconnects)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._listener.start()
        while True:
            changed = self._listener.changed()  # taken before the read: no wake-up lost
            rev = await self.rev()
            left = deadline - loop.time()
            if rev > since_rev or left <= 0:
                return rev
            wait = left if self._listener.listening else min(left, FALLBACK_POLL_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)

    async def data_version(self) -> int:
        """PostgreSQL: the change counter. Every commit a waiter could be looking for (a
        decision, a withdrawal, an append) moves it."""
        return await self.rev()


class _Retry:
    """The waits of one operation's attempts, until :data:`RETRY_SECONDS` have passed."""

    def __init__(self) -> None:
        self.attempts = 0
        self.delay = FIRST_DELAY
        self.give_up_at = time.monotonic() + RETRY_SECONDS

    async def wait(self, where: str, exc: BaseException) -> None:
        """Wait before the next attempt, or raise :class:`StoreError` when out of time."""
        self.attempts += 1
        if time.monotonic() + self.delay > self.give_up_at:
            raise StoreUnavailable(
                f"{where}: gave up after {self.attempts} attempts: {_one_line(exc)}"
            ) from exc
        log.warning("store: %s; retrying (%d)", _one_line(exc), self.attempts)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_DELAY)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
