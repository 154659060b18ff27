"""Bounded waits for what another process or task writes to the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from swarmdeck.store.db import Store
from swarmdeck.store.models import Escalation


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
