"""Fixtures for the TUI tests: a filled database, settings, and an app factory."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.config import Settings, TuiSettings
from swarmdeck.store.db import SqliteStore
from swarmdeck.tui.app import SwarmdeckApp
from tests.tui.swarm_data import NOW, make_db


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the developer's config, themes or colours; no cursor blink."""
    (tmp_path / "empty-config.toml").write_text("")
    monkeypatch.setenv("SWARMDECK_CONFIG", str(tmp_path / "empty-config.toml"))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tui-template") / "swarm.db"
    asyncio.run(make_db(path))
    return path


@pytest.fixture
def db_path(template_db: Path, tmp_path: Path) -> Path:
    """A private copy of the filled database (tests decide on it)."""
    target = tmp_path / "data" / "swarm.db"
    target.parent.mkdir(mode=0o700)
    shutil.copy(template_db, target)
    return target


def frozen() -> float:
    return NOW


def make_settings(db: Path, **tui: Any) -> Settings:
    return Settings(db=db, tui=TuiSettings(**tui))


def make_app(db: Path, *, store: SqliteStore | None = None, **tui: Any) -> SwarmdeckApp:
    return SwarmdeckApp(
        store,
        make_settings(db, **tui),
        clock=frozen,
        actor="tester@deck",
        themes_dir=None,
        ascii_only=False,
    )


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(db_path, clock=frozen)
    try:
        yield s
    finally:
        await s.close()


AppFactory = Callable[..., SwarmdeckApp]


@pytest.fixture
def app_factory(db_path: Path, store: SqliteStore) -> AppFactory:
    def factory(**tui: Any) -> SwarmdeckApp:
        return make_app(db_path, store=store, **tui)

    return factory
