"""The backends the store contract runs against, and how each one is set up and tampered with.

This is the one file of the contract suite that knows what a backend is made of:
the tests themselves only see the store API. A backend provides a fresh, empty
database per test (or per hypothesis example), opens stores on it, and can alter
its audit records behind the store's back, the way an attacker with write access
to the database would.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg
import pytest

from swarmdeck.store.db import Store
from swarmdeck.store.postgres import PostgresStore
from tests.conftest import PgDatabases


class Tamper(Protocol):
    """Edits to one database's audit records that bypass the store."""

    def edit_actor(self, seq: int, actor: str) -> None:
        """Change the actor of record ``seq`` (its hash is left as it was)."""

    def delete(self, seq: int) -> None:
        """Delete record ``seq``."""

    def swap(self, a: int, b: int) -> None:
        """Swap the positions of records ``a`` and ``b`` in the chain."""

    def truncate_from(self, seq: int) -> None:
        """Delete record ``seq`` and every later one (the audit count is left alone)."""


class Backend(Protocol):
    """How the contract suite gets stores of one backend."""

    name: str

    def new_database(self) -> str:
        """A location no store has used yet (a file path, a database name)."""

    async def open(self, location: str, *, clock: Callable[[], float] = time.time) -> Store:
        """Open a store on ``location``, creating and migrating it as needed."""

    def tamper(self, location: str) -> Tamper:
        """Tampering with the database at ``location``."""

    def dispose(self, location: str) -> None:
        """Forget a database no store has open any more."""


class _StatementTamper:
    """The attacks, as statements; each backend runs them in one transaction of its own."""

    def _run(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        raise NotImplementedError

    def edit_actor(self, seq: int, actor: str) -> None:
        self._run(("UPDATE audit SET actor = ? WHERE seq = ?", (actor, seq)))

    def delete(self, seq: int) -> None:
        self._run(("DELETE FROM audit WHERE seq = ?", (seq,)))

    def swap(self, a: int, b: int) -> None:
        parked = -a
        self._run(
            ("UPDATE audit SET seq = ? WHERE seq = ?", (parked, a)),
            ("UPDATE audit SET seq = ? WHERE seq = ?", (a, b)),
            ("UPDATE audit SET seq = ? WHERE seq = ?", (b, parked)),
        )

    def truncate_from(self, seq: int) -> None:
        self._run(("DELETE FROM audit WHERE seq >= ?", (seq,)))


@dataclass
class _SqliteTamper(_StatementTamper):
    path: Path

    def _run(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        conn = sqlite3.connect(self.path)
        try:
            for sql, params in statements:
                conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()


@dataclass
class SqliteBackend:
    """One SQLite file per database, under a temporary directory."""

    root: Path
    name: str = "sqlite"
    _numbers: itertools.count[int] = field(default_factory=itertools.count)

    def new_database(self) -> str:
        return str(self.root / f"db{next(self._numbers)}" / "swarmdeck.db")

    async def open(self, location: str, *, clock: Callable[[], float] = time.time) -> Store:
        return await Store.open(location, clock=clock)

    def tamper(self, location: str) -> Tamper:
        return _SqliteTamper(Path(location))

    def dispose(self, location: str) -> None:
        """Nothing to do: the file goes with the test's temporary directory."""


@dataclass
class _PostgresTamper(_StatementTamper):
    url: str

    def _run(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        with psycopg.connect(self.url) as conn:  # one transaction, committed on exit
            for sql, params in statements:
                conn.execute(sql.replace("?", "%s").encode(), params)


@dataclass
class PostgresBackend:
    """One database per test on the session's server, copied from a migrated template."""

    databases: PgDatabases
    name: str = "postgres"

    def new_database(self) -> str:
        return self.databases.new()

    async def open(self, location: str, *, clock: Callable[[], float] = time.time) -> Store:
        return await PostgresStore.open(location, clock=clock)

    def tamper(self, location: str) -> Tamper:
        return _PostgresTamper(location)

    def dispose(self, location: str) -> None:
        self.databases.drop(location)


#: Backend names the suite is parametrised over; ``make(name, request)`` builds one.
BACKENDS = ("sqlite", "postgres")


def make(name: str, request: pytest.FixtureRequest) -> Backend:
    """The backend ``name``; PostgreSQL asks for the session's server (or skips)."""
    if name == "sqlite":
        tmp: Path = request.getfixturevalue("tmp_path")
        return SqliteBackend(tmp)
    if name == "postgres":
        return PostgresBackend(request.getfixturevalue("pg_databases"))
    raise ValueError(f"unknown store backend {name!r}")
