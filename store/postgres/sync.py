"""A synchronous write for a caller with no store open (the guardrail vault of a hook).

Guardrail hits are rare; opening one connection for the batch that has them and closing
it at once leaves nothing behind in a short-lived process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from swarmdeck.store.errors import StoreError
from swarmdeck.store.opening import display_location
from swarmdeck.store.postgres.connection import CONNECT_TIMEOUT, pg_sql


def execute_many(url: str, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Run shared SQL (``?`` placeholders) once per row, in one transaction."""
    try:
        with (
            psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT)) as conn,
            conn.cursor() as cur,
        ):
            cur.executemany(pg_sql(sql), rows)
    except psycopg.Error as exc:
        raise StoreError(f"{display_location(url)}: {exc}") from None
