"""Fixtures for every test: isolation from the real user's config and data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from swarmdeck.store.db import SqliteStore


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
