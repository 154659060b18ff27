"""The store every part of swarmdeck holds: one class, its jobs in one module each.

:class:`Store` is the facade; each base class below is one job of the hub:

=====================================  ==============================================
:mod:`~swarmdeck.store.connection`     open, migrate, transactions, the in-process
                                       lock, ``rev`` and ``data_version``
:mod:`~swarmdeck.store.append`         append events, fold projections, positions
:mod:`~swarmdeck.store.dead_letters`   input that could not be stored
:mod:`~swarmdeck.store.adapter_state`  adapter positions and health
:mod:`~swarmdeck.store.decide`         decisions: compare-and-set
:mod:`~swarmdeck.store.outbox`         delivery of decisions, backoff, outcomes
:mod:`~swarmdeck.store.audit_log`      the tamper-evident audit chain
:mod:`~swarmdeck.store.feed`           the change feed over events, retention
:mod:`~swarmdeck.store.reads`          agents, tasks, escalations, workflows
=====================================  ==============================================

Service-specific reads (policy, dry run, metrics, sessions, what an adapter left
behind) are named functions in :mod:`swarmdeck.store.queries`; governance writes
(vault, severity, deadlines) are in :mod:`swarmdeck.store.governance`. No SQL is
written outside ``swarmdeck.store``; the contract every backend must pass is
``tests/store_contract``.
"""

from __future__ import annotations

from swarmdeck.store.append import AppendMixin
from swarmdeck.store.dead_letters import DEAD_LETTER_RAW_LIMIT
from swarmdeck.store.decide import DecideMixin
from swarmdeck.store.feed import FeedMixin
from swarmdeck.store.interim_fleet import InterimFleetMixin
from swarmdeck.store.outbox import DELIVERY_STATES, OutboxMixin
from swarmdeck.store.rows import stored_event

__all__ = ["DEAD_LETTER_RAW_LIMIT", "DELIVERY_STATES", "Store", "stored_event"]


class Store(InterimFleetMixin, AppendMixin, DecideMixin, OutboxMixin, FeedMixin):
    """An open swarmdeck database. Use :meth:`open`; close with :meth:`close` or ``async with``.

    Every public method is part of the store contract (``tests/store_contract``).
    """
