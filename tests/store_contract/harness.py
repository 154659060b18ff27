"""What the contract tests hold: a factory of stores on one fresh database, and a clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from swarmdeck.store.db import Store
from tests.store_contract.backends import Backend, Tamper


@dataclass
class ManualClock:
    """A clock the test moves: ``clock()`` is now, ``clock.now += 60`` a minute later."""

    now: float

    def __call__(self) -> float:
        return self.now


class StoreFactory:
    """Connections to one fresh database of one backend; each call opens another one
    (two managers, a collector and a TUI), and every store opened is closed after the test."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.location = backend.new_database()
        self._opened: list[Store] = []

    async def __call__(self, *, clock: Callable[[], float] = time.time) -> Store:
        store = await self.backend.open(self.location, clock=clock)
        self._opened.append(store)
        return store

    def tamper(self) -> Tamper:
        """Alter this database's audit records behind the store's back."""
        return self.backend.tamper(self.location)

    async def close_all(self) -> None:
        for store in self._opened:
            await store.close()
        self._opened.clear()
        self.backend.dispose(self.location)
