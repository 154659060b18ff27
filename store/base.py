"""What every store backend provides underneath the shared jobs: a small SQL core.

The jobs of the store (deciding, the outbox, the audit chain, the read models, leases,
...) are written once, in SQL both SQLite and PostgreSQL accept, over the few methods
declared here. Each backend implements them its own way:

* :class:`swarmdeck.store.connection.SqliteCore`: one aiosqlite connection, writers
  serialised by ``BEGIN IMMEDIATE`` and an in-process lock;
* :class:`swarmdeck.store.postgres.connection.PostgresCore`: a connection pool,
  transactions retried when a connection is lost (their outcome settled with
  ``pg_xact_status``), ``LISTEN/NOTIFY`` for the change feed.

Shared SQL uses ``?`` placeholders; the PostgreSQL core rewrites them. Where the two
dialects differ, the shared code asks :attr:`StoreCore.dialect` (a handful of places:
``FOR UPDATE``, the order of ``edges``, JSON extraction in ``queries/usage.py``).

Everything here is private to ``swarmdeck.store`` (leading underscores): code above the
store calls the named methods and query functions instead.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar, Literal, Self, TypeVar

T = TypeVar("T")

#: The SQL dialects the store speaks.
Dialect = Literal["sqlite", "postgres"]


class StoreCore(abc.ABC):
    """Transactions, statements and change signals: what each backend implements."""

    dialect: ClassVar[Dialect]
    #: Whether :meth:`wait_for_change` is woken by the committing transaction itself
    #: (a follower then needs no timer); False where it polls.
    pushes_changes: ClassVar[bool] = False
    #: What this store was opened on, fit to show (a file path, a URL without password).
    location: str
    #: The only source of "now" (tests pass a manual clock).
    clock: Callable[[], float]

    # ------------------------------------------------------------------ lifecycle

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every connection of this store."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ statements

    @abc.abstractmethod
    async def _transact(self, body: Callable[[], Awaitable[T]], *, bumps: bool = True) -> T:
        """Run ``body`` in one write transaction and return what it returned.

        ``body`` may run more than once (PostgreSQL retries it on a fresh connection
        when the previous attempt is known not to have committed), so it must do all
        its work through the store and keep no effects outside it. ``bumps=False``
        promises that the body never calls :meth:`_bump_rev` (PostgreSQL then skips
        locking the change counter, so leases and claims do not queue behind ingest).
        """

    @abc.abstractmethod
    async def _exec(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement inside :meth:`_transact`; return the rows it changed."""

    @abc.abstractmethod
    async def _exec_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run one statement per row inside :meth:`_transact`."""

    @abc.abstractmethod
    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query (inside a transaction: on its connection)."""

    @abc.abstractmethod
    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        """The first row of one query, or None."""

    async def _serialise(self, name: str) -> None:  # noqa: B027 - SQLite: a no-op by design
        """Hold ``name`` until this transaction ends; call inside :meth:`_transact`.

        For a read-then-write that row locks cannot cover (the audit chain's next
        ``seq``, a name no row holds yet). SQLite has one writer at a time already;
        PostgreSQL takes a transaction-level advisory lock on the name, so two stores
        appending at once never fork the chain.
        """

    @property
    def _for_update(self) -> str:
        """The row-lock suffix of a ``SELECT`` that a transaction is about to change."""
        return " FOR UPDATE" if self.dialect == "postgres" else ""

    # ------------------------------------------------------------------ change signals

    @abc.abstractmethod
    async def _bump_rev(self) -> int:
        """Advance the store-wide change counter; call inside :meth:`_transact`, once.

        Every transaction that changes what a pane shows calls this exactly once and
        stamps the rows it touched with the result.
        """

    async def rev(self) -> int:
        """The store-wide change counter: cheap to poll, grows with every committed change.

        It grows in commit order: a reader that saw ``rev`` N never later finds a row
        stamped N or lower that it had not seen.
        """
        row = await self._fetchone("SELECT value FROM meta WHERE key = 'rev'")
        return int(row[0]) if row else 0

    @abc.abstractmethod
    async def wait_for_change(self, since_rev: int, timeout: float) -> int:  # noqa: ASYNC109
        """Wait until :meth:`rev` is above ``since_rev`` or ``timeout`` seconds pass.

        Returns the rev then (``<= since_rev`` on timeout). SQLite polls the counter;
        PostgreSQL waits for a ``NOTIFY`` sent by the committing transaction.
        """

    @abc.abstractmethod
    async def data_version(self) -> int:
        """A number that changes when *another* connection commits: the cheapest "look
        again now" signal. Its value means nothing across connections."""

    @property
    @abc.abstractmethod
    def in_transaction(self) -> bool:
        """Whether a transaction is open on this store (it never should be between calls)."""
