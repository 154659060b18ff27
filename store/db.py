"""The store every part of swarmdeck holds: one API, two backends, its jobs in one module each.

:class:`Store` is the facade every caller types against; each base class below is one
job of the hub, written once over the SQL core of :mod:`swarmdeck.store.base`:

=====================================  ==============================================
:mod:`~swarmdeck.store.append`         append events, fold projections, positions
:mod:`~swarmdeck.store.dead_letters`   input that could not be stored
:mod:`~swarmdeck.store.adapter_state`  adapter positions and health
:mod:`~swarmdeck.store.leases`         leadership per adapter instance, fencing
:mod:`~swarmdeck.store.decide`         decisions: compare-and-set
:mod:`~swarmdeck.store.outbox`         delivery of decisions, claims, outcomes
:mod:`~swarmdeck.store.audit_log`      the tamper-evident audit chain
:mod:`~swarmdeck.store.feed`           the change feed over events, retention
:mod:`~swarmdeck.store.reads`          agents, tasks, escalations, workflows
=====================================  ==============================================

The backends are :class:`SqliteStore` (the embedded default, one file:
:mod:`~swarmdeck.store.connection` and SQLite's append) and
:class:`swarmdeck.store.postgres.PostgresStore` (a shared server, for a team).
:func:`swarmdeck.store.opening.open_store` picks one from what it is given (a path or
a ``postgresql://`` URL).

Service-specific reads (policy, dry run, metrics, sessions, what an adapter left
behind) are named functions in :mod:`swarmdeck.store.queries`; governance writes
(vault, severity, deadlines) are in :mod:`swarmdeck.store.governance`. No SQL is
written outside ``swarmdeck.store``; the contract every backend must pass is
``tests/store_contract``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from swarmdeck.store.append import AppendBase, AppendMixin
from swarmdeck.store.connection import SqliteCore
from swarmdeck.store.dead_letters import DEAD_LETTER_RAW_LIMIT
from swarmdeck.store.decide import DecideMixin
from swarmdeck.store.feed import FeedMixin
from swarmdeck.store.outbox import DELIVERY_STATES, OutboxMixin
from swarmdeck.store.rows import stored_event

__all__ = ["DEAD_LETTER_RAW_LIMIT", "DELIVERY_STATES", "SqliteStore", "Store", "stored_event"]


class Store(AppendBase, DecideMixin, OutboxMixin, FeedMixin):
    """An open swarmdeck database, of either backend; close with :meth:`close` or
    ``async with``.

    Every public method is part of the store contract (``tests/store_contract``).
    """

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> Store:
        """Open the database at ``path`` (a file, or a ``postgresql://`` URL): see
        :func:`swarmdeck.store.opening.open_store`."""
        from swarmdeck.store.opening import open_store

        return await open_store(path, create=create, clock=clock)


class SqliteStore(AppendMixin, SqliteCore, Store):
    """A store in one SQLite file (WAL; many readers, one writer at a time)."""
