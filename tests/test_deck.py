"""The shell's collector launcher: what the TUI is handed so that it never imports one."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from swarmdeck.cli.deck import CollectorLauncher
from swarmdeck.collector import Collector, lock_holder
from swarmdeck.config import DemoSettings, Settings


def _settings(db: Path, *, spawn: bool = False) -> Settings:
    settings = Settings(db=db, demo=DemoSettings(enabled=False))
    settings.collector.spawn = spawn
    return settings


async def test_in_process_collector_runs_until_stopped(db_path: Path) -> None:
    launcher = CollectorLauncher(_settings(db_path))
    launcher.start()
    assert launcher.status() == "this process"
    assert launcher.collector is not None
    await asyncio.wait_for(launcher.collector.started.wait(), 10)
    assert lock_holder(db_path) == os.getpid()
    # A second TUI on the same database starts nothing and names who collects.
    second = CollectorLauncher(_settings(db_path))
    second.start()
    assert second.status() == f"pid {os.getpid()}"
    await second.stop()
    await launcher.stop()
    assert lock_holder(db_path) is None
    assert CollectorLauncher(_settings(db_path)).status() == "no collector"


async def test_a_collector_that_dies_says_why(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Collector, store: object = None) -> None:
        raise RuntimeError("adapter 'x': \x1b[31mbad\x1b[0m option")

    monkeypatch.setattr(Collector, "run", broken)
    launcher = CollectorLauncher(_settings(db_path))
    launcher.start()
    assert launcher.task is not None
    await asyncio.wait([launcher.task])
    assert launcher.status() == "failed: adapter 'x': bad option"  # cleaned for the screen
    await launcher.stop()


async def test_spawn_mode_leaves_a_running_collector_alone(db_path: Path) -> None:
    holder = Collector(_settings(db_path))
    assert holder.try_acquire()
    try:
        launcher = CollectorLauncher(_settings(db_path, spawn=True))
        launcher.start()
        assert launcher.spawned is None
        assert launcher.status() == f"pid {os.getpid()}"
        await launcher.stop()
    finally:
        holder.release()
