"""Fixtures for every test: isolation from the real user's config and data."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from swarmdeck.store.db import SqliteStore
from swarmdeck.testing.postgres import INSTALL_HINT, PostgresServer, PostgresUnavailable, start


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Point platform dirs at a temporary home so no test reads or writes the user's files."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for var in list(__import__("os").environ):
        if var.startswith("SWARMDECK_"):
            monkeypatch.delenv(var)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "swarmdeck.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(db_path)
    try:
        yield s
    finally:
        await s.close()


@dataclass
class PgDatabases:
    """Fresh databases on the session's PostgreSQL server, each a copy of a migrated
    template (``CREATE DATABASE ... TEMPLATE``: ~30 ms, against ~0.3 s to migrate anew)."""

    server: PostgresServer
    template: str

    def new(self) -> str:
        """The URL of a fresh, migrated, empty database."""
        return self.server.create_database(f"t_{uuid.uuid4().hex[:16]}", template=self.template)

    def drop(self, url: str) -> None:
        self.server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL server per test session (initdb + pg_ctl, no Docker).

    With ``CI=true`` a missing server fails the tests that need it; locally they skip
    and say what to install.
    """
    try:
        server = start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI must run the PostgreSQL tests)")
        pytest.skip(f"PostgreSQL tests need a server: {INSTALL_HINT}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_databases(pg_server: PostgresServer) -> PgDatabases:
    """Fresh migrated databases on demand (``pg_databases.new()``)."""
    from swarmdeck.store.postgres import PostgresStore

    template = "swarmdeck_template"
    url = pg_server.create_database(template)

    async def migrate() -> None:
        store = await PostgresStore.open(url)
        await store.close()

    asyncio.run(migrate())
    return PgDatabases(pg_server, template)


@pytest.fixture
def pg_url(pg_databases: PgDatabases) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test, dropped after it."""
    url = pg_databases.new()
    try:
        yield url
    finally:
        pg_databases.drop(url)


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """A subprocess environment with no user config and data under tmp_path."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    out["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out["XDG_DATA_HOME"] = str(tmp_path / "data")
    out["HOME"] = str(tmp_path / "home")
    return out
