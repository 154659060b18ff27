"""Shared fixtures for the governance tests: a real Store in tmp_path with a controllable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from swarmdeck.store.db import Store
from tests.helpers.clock import Clock, Script


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def clocked_store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    db = await Store.open(tmp_path / "gov.db", clock=clock)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def clocked_ev(clock: Clock) -> Script:
    return Script(clock)
