"""The open database: lifecycle, migrations on open, transactions, and the in-process lock.

One store object wraps one aiosqlite connection. Several processes may open the
same file (a collector, any number of TUIs, CLI commands, hook commands); SQLite's
WAL mode lets readers proceed while one writer commits, and every write here is a
short ``BEGIN IMMEDIATE`` transaction so writers queue instead of deadlocking.

Within one process, coroutines share the connection; :meth:`StoreBase._write` holds
an asyncio lock for the span of a transaction so two coroutines can never
interleave statements inside each other's transaction.

This is SQLite's implementation of :class:`swarmdeck.store.base.StoreCore`, the
small SQL core every job of the store is written over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import aiosqlite

from swarmdeck.store.base import Dialect, StoreCore
from swarmdeck.store.busy import BUSY_TIMEOUT, SQLITE_BUSY_MS, retry_busy
from swarmdeck.store.errors import SchemaTooNew, StoreError
from swarmdeck.store.identity import check_identity, mark_ours, unwritable
from swarmdeck.store.schema import SCHEMA_VERSION, pending_statements

_PRAGMAS = (
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -65536",
    "PRAGMA temp_store = MEMORY",
    # Hot pages (agents, tasks) are rewritten by every batch: checkpointing every
    # 10,000 pages instead of 1,000 copies each back less often (~5%).
    "PRAGMA wal_autocheckpoint = 10000",
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


T = TypeVar("T")

#: How often :meth:`SqliteCore.wait_for_change` looks at the counter (one indexed read).
CHANGE_POLL_SECONDS = 0.05


class SqliteCore(StoreCore):
    """An open SQLite database. Use :meth:`open`; close with :meth:`close` or ``async with``."""

    dialect: ClassVar[Dialect] = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, path: Path, clock: Callable[[], float]) -> None:
        self._conn = conn
        self.path = path
        self.location = str(path)
        self.clock = clock
        self._write_lock = asyncio.Lock()
        self._tx_owner: asyncio.Task[Any] | None = None
        #: Seconds a statement waits for another process's lock (see :mod:`store.busy`).
        self.busy_timeout = BUSY_TIMEOUT

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> Self:
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
            await conn.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
            # Before anything writes (switching to WAL rewrites the header): a file that is
            # some other program's database is refused untouched.
            await retry_busy(
                lambda: check_identity(conn, db_path), within=BUSY_TIMEOUT, what=str(db_path)
            )

            async def configure() -> None:
                # Several processes opening a brand-new file at once (a TUI, its collector,
                # a hook) race to switch it to WAL, which needs the file to themselves.
                for pragma in _PRAGMAS:
                    await conn.execute(pragma)
                await store._migrate()
                await mark_ours(conn)

            await retry_busy(configure, within=BUSY_TIMEOUT, what=str(db_path))
        except sqlite3.OperationalError as exc:
            await conn.close()
            raise unwritable(db_path, exc) or StoreError(
                f"{db_path} is not a usable swarmdeck database: {exc}"
            ) from None
        except sqlite3.DatabaseError as exc:
            await conn.close()
            raise StoreError(f"{db_path} is not a usable swarmdeck database: {exc}") from None
        except BaseException:
            await conn.close()
            raise
        return store

    async def _user_version(self) -> int:
        async with self._conn.execute("PRAGMA user_version") as cur:
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
        async with self._write():
            version = await self._user_version()  # another process may have migrated meanwhile
            for statement in pending_statements(version):
                await self._conn.execute(statement)
            await self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    async def close(self) -> None:
        await self._conn.close()

    # ------------------------------------------------------------------ transactions

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), serialised in-process.

        Reads from other coroutines of this process wait until it ends (see
        :meth:`_reading`), so nobody here sees rows that may still roll back.
        """
        async with self._write_lock:
            try:
                await retry_busy(self._begin, within=self.busy_timeout, what=str(self.path))
            except sqlite3.OperationalError as exc:
                raise unwritable(self.path, exc) or exc from None
            self._tx_owner = asyncio.current_task()
            try:
                try:
                    yield self._conn
                except sqlite3.OperationalError as exc:
                    await self._settle("ROLLBACK")
                    raise unwritable(self.path, exc) or exc from None
                except BaseException:
                    await self._settle("ROLLBACK")
                    raise
                try:
                    await self._settle("COMMIT")
                except BaseException as exc:
                    # Never leave a transaction open on the shared connection.
                    if self._conn.in_transaction:
                        await self._settle("ROLLBACK")
                    if isinstance(exc, sqlite3.OperationalError):
                        raise unwritable(self.path, exc) or exc from None
                    raise
            finally:
                self._tx_owner = None

    async def _begin(self) -> None:
        try:
            await self._settle("BEGIN IMMEDIATE")
        except BaseException:
            # Cancelled (or failed) while waiting for the lock: BEGIN may still have
            # succeeded in aiosqlite's thread, holding the database's write lock. (A
            # connection closed meanwhile, by a shutdown, holds nothing any more.)
            if self._open_transaction():
                await self._settle("ROLLBACK")
            raise

    def _open_transaction(self) -> bool:
        try:
            return self._conn.in_transaction
        except ValueError:  # aiosqlite: "no active connection" (closed)
            return False

    async def _transact(self, body: Callable[[], Awaitable[T]], *, bumps: bool = True) -> T:
        """One write transaction around ``body`` (SQLite never needs to run it twice)."""
        async with self._write():
            return await body()

    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = await self._conn.execute(sql, params)
        return int(cur.rowcount)

    async def _exec_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(sql, rows)

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection (it never should be between calls)."""
        return self._conn.in_transaction

    async def _settle(self, statement: str) -> None:
        """Run a transaction-control statement to its end, even if we are cancelled.

        The statement runs in aiosqlite's thread whether or not the awaiting coroutine
        is cancelled; waiting for its outcome is the only way to know whether a
        transaction (and the database's write lock) is still held.
        """
        task = asyncio.ensure_future(self._conn.execute(statement))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await task
            raise

    # ------------------------------------------------------------------ reads

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
        """Rows of one query. Private to ``swarmdeck.store``: callers above it use the
        named methods and ``swarmdeck.store.queries``."""

        async def once() -> list[tuple[Any, ...]]:
            async with self._reading(), self._conn.execute(sql, params) as cur:
                return [tuple(r) for r in await cur.fetchall()]

        return await self._unless_busy(once)

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of one query, or None. Private to ``swarmdeck.store``."""

        async def once() -> tuple[Any, ...] | None:
            async with self._reading(), self._conn.execute(sql, params) as cur:
                row = await cur.fetchone()
            return None if row is None else tuple(row)

        return await self._unless_busy(once)

    async def _unless_busy(self, read: Callable[[], Awaitable[T]]) -> T:
        """A read waits for another process's lock (a checkpoint, a migration) in asyncio,
        bounded; inside this task's own transaction it cannot meet one, so it runs once."""
        if self._tx_owner is not None and self._tx_owner is asyncio.current_task():
            return await read()
        return await retry_busy(read, within=self.busy_timeout, what=str(self.path))

    # ------------------------------------------------------------------ change signals

    async def _bump_rev(self) -> int:
        """Advance the store-wide change counter; call inside :meth:`_write`.

        Every transaction that changes what a pane shows calls this exactly once and
        stamps the rows it touched with the result.
        """
        async with self._conn.execute(
            "UPDATE meta SET value = value + 1 WHERE key = 'rev' RETURNING value"
        ) as cur:
            row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def wait_for_change(self, since_rev: int, timeout: float) -> int:  # noqa: ASYNC109
        """Poll the counter every :data:`CHANGE_POLL_SECONDS` (SQLite has no push)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rev = await self.rev()
            left = deadline - loop.time()
            if rev > since_rev or left <= 0:
                return rev
            await asyncio.sleep(min(CHANGE_POLL_SECONDS, left))

    async def data_version(self) -> int:
        """A number that changes when *another* connection commits (SQLite's
        ``PRAGMA data_version``): the cheapest "look again now" signal for a process
        waiting on someone else's decision. Its value means nothing across connections."""
        row = await self._fetchone("PRAGMA data_version")
        return int(row[0]) if row else 0
