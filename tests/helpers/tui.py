"""Settings and an app for TUI tests, at the frozen time of the seeded swarm."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmdeck.config import Settings, TuiSettings
from swarmdeck.store.db import Store
from swarmdeck.tui.app import SwarmdeckApp
from tests.tui.swarm_data import NOW


def frozen() -> float:
    return NOW


def make_settings(db: Path, **tui: Any) -> Settings:
    return Settings(db=db, tui=TuiSettings(**tui))


def make_app(db: Path, *, store: Store | None = None, **tui: Any) -> SwarmdeckApp:
    return SwarmdeckApp(
        store,
        make_settings(db, **tui),
        clock=frozen,
        actor="tester@deck",
        themes_dir=None,
        ascii_only=False,
    )


AppFactory = Callable[..., SwarmdeckApp]
