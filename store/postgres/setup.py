"""Preparing a PostgreSQL database on purpose (``swarmdeck db init URL``).

Every store migrates on open, so this is the same migration, run by whoever owns the
database, with a report of what it found and did.
"""

from __future__ import annotations

import psycopg

from swarmdeck.store.errors import StoreError
from swarmdeck.store.opening import display_location
from swarmdeck.store.postgres.connection import CONNECT_TIMEOUT
from swarmdeck.store.postgres.schema import SCHEMA_VERSION, migrate, schema_version


async def prepare(url: str) -> str:
    """Migrate the database at ``url``; one line saying what was done.

    Raises:
        StoreError: unreachable, or refused (no such database, no privilege to create).
        SchemaTooNew: written by a newer swarmdeck.
    """
    where = display_location(url)
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=int(CONNECT_TIMEOUT)
        )
        async with conn:
            before = await schema_version(conn)
            ran = await migrate(conn, where)
            server = conn.info.parameter_status("server_version") or "?"
    except psycopg.Error as exc:
        raise StoreError(f"{where}: {str(exc).strip().splitlines()[0]}") from None
    if not ran:
        return f"{where}: already at schema version {SCHEMA_VERSION} (PostgreSQL {server})"
    steps = ", ".join(str(n) for n in ran)
    return (
        f"{where}: schema version {before} -> {SCHEMA_VERSION} "
        f"(ran migration {steps}; PostgreSQL {server})"
    )
