"""The PostgreSQL backend: the store a team shares, on a server built for many writers.

:class:`PostgresStore` implements the same API as :class:`~swarmdeck.store.db.SqliteStore`
and passes the same contract (``tests/store_contract``). The jobs written in shared SQL
(deciding, the outbox, the audit chain, reads, leases) are the same code for both; what
PostgreSQL does its own way lives here, one module per job:

===========================  ==========================================================
:mod:`.connection`           the pool, retried transactions settled by
                             ``pg_xact_status``, the change counter, reads
:mod:`.listen`               ``LISTEN/NOTIFY``: :meth:`wait_for_change` without polling
:mod:`.schema`               ordered migrations under an advisory lock
:mod:`.append`               staged ``COPY``, ``ON CONFLICT DO NOTHING RETURNING``,
                             set-based projection upserts
:mod:`.sync`                 a short-lived synchronous write (the guardrail vault)
===========================  ==========================================================

Concurrency, the PostgreSQL way: ``decide`` locks the escalation row (``FOR UPDATE``)
so the loser reads who won; the audit chain is appended under a transaction-level
advisory lock, so two stores never fork it; deliveries are claimed ``FOR UPDATE SKIP
LOCKED``; leases are locked rows whose epoch fences writes.

Needs PostgreSQL 13 or newer (``pg_current_xact_id``, ``pg_xact_status``).
"""

from __future__ import annotations

from swarmdeck.store.db import Store
from swarmdeck.store.postgres.append import PostgresAppendMixin
from swarmdeck.store.postgres.connection import PostgresCore

__all__ = ["PostgresStore"]


class PostgresStore(PostgresAppendMixin, PostgresCore, Store):
    """A store in a PostgreSQL database (``postgresql://user@host:port/dbname``)."""
