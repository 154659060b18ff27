"""The change feed pushed, not polled: one connection per store ``LISTEN``s for commits.

Every transaction that bumps ``rev`` also runs ``pg_notify`` on the store's channel;
PostgreSQL delivers the notification at commit, and never for a rollback. A store
that someone waits on (:meth:`PostgresCore.wait_for_change`: the TUI's refresh loop,
a hook waiting for its decision) opens one extra connection that listens, and wakes
every waiter on each notification. Waiters read ``rev`` themselves, so the payload
does not matter and a notification that is missed while the connection reconnects
costs nothing: on reconnecting, the listener wakes everyone to look again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

#: How long :meth:`ChangeListener.start` waits for the first LISTEN to be in place.
START_TIMEOUT = 5.0


class ChangeListener:
    """A ``LISTEN`` connection that turns notifications into an :class:`asyncio.Event`."""

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._changed = asyncio.Event()
        #: Whether the LISTEN is in place now (else waiters fall back to polling).
        self.listening = False

    async def start(self) -> None:
        """Start listening (once); return when the LISTEN is in place or has failed."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="swarmdeck-pg-listen")
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), START_TIMEOUT)

    def changed(self) -> asyncio.Event:
        """The event the next notification sets (take it *before* reading ``rev``)."""
        return self._changed

    def _wake(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _run(self) -> None:
        backoff = 0.1
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._url, autocommit=True)
                async with conn:
                    await conn.execute(listen)
                    self.listening = True
                    self._ready.set()
                    self._wake()  # anything committed while we were away: look again
                    backoff = 0.1
                    async for _note in conn.notifies():
                        self._wake()
            except psycopg.Error as exc:
                log.info("store: change listener lost its connection (%s); reconnecting", exc)
            finally:
                self.listening = False
            self._ready.set()  # a waiter polls meanwhile instead of hanging
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
