"""Waiting for another process's write lock: in asyncio, bounded, and cancellable.

SQLite's own busy handler sleeps inside the C call, in aiosqlite's thread, where
neither a cancellation nor ``sqlite3_interrupt`` reaches it: with a 10 s
``busy_timeout`` a collector told to stop while another process held the write
lock could not stop for 10 s, twice over (the batch in flight, then the flush).
So SQLite waits only briefly per attempt, and the rest of the wait is an
``asyncio.sleep`` between attempts, which a shutdown cancels at once and which
ends with :class:`~swarmdeck.store.errors.StoreBusy`, one line, after
:data:`BUSY_TIMEOUT` seconds.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from swarmdeck.store.errors import StoreBusy

#: Longest wait, in seconds, for a lock another process holds before a statement gives up.
BUSY_TIMEOUT = 10.0
#: SQLite's own wait per attempt (``PRAGMA busy_timeout``), in milliseconds.
SQLITE_BUSY_MS = 100
#: Pause between two attempts.
_RETRY_EVERY = 0.02

T = TypeVar("T")


def is_busy(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: someone else holds a lock we need; waiting may help."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc)
    return "locked" in text or "busy" in text


async def retry_busy(attempt: Callable[[], Awaitable[T]], *, within: float, what: str) -> T:
    """Run ``attempt`` until it does not fail busy, for at most ``within`` seconds.

    Raises:
        StoreBusy: still locked after ``within`` seconds (naming ``what``).
    """
    deadline: float | None = None
    while True:
        try:
            return await attempt()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            now = time.monotonic()
            if deadline is None:
                deadline = now + within
            elif now >= deadline:
                raise StoreBusy(
                    f"{what}: the database is locked (another process held its write lock "
                    f"for more than {within:g}s)"
                ) from None
            await asyncio.sleep(_RETRY_EVERY)
