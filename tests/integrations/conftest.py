"""Shared fixtures of the integration tests: real store files, real subprocesses."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import SqliteStore, Store
from swarmdeck.store.models import Escalation

FIXTURES = Path(__file__).parent / "fixtures"
SWARMDECK = Path(sys.executable).parent / "swarmdeck"


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: no user config, data under tmp_path."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    out["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    out["XDG_DATA_HOME"] = str(tmp_path / "data")
    out["HOME"] = str(tmp_path / "home")
    return out


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "swarm.db")
    try:
        yield s
    finally:
        await s.close()


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 15.0, every: float = 0.05
) -> Any:
    """Poll ``probe`` until it returns something truthy (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


async def open_escalations(store: Store, count: int = 1, timeout: float = 15.0) -> list[Escalation]:
    async def probe() -> list[Escalation] | None:
        found = await store.escalations(state="open")
        return found if len(found) >= count else None

    result: list[Escalation] = await eventually(probe, timeout=timeout)
    return result
