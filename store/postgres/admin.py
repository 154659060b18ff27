"""Server administration a deck's tooling needs: databases created and dropped, a query.

Kept in the store (no SQL is written above it) for :mod:`swarmdeck.testing.postgres`,
which starts throwaway servers, and for anyone scripting a server for swarmdeck.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql


def run(url: str, statement: str) -> list[tuple[Any, ...]]:
    """Run one trusted statement (autocommit) on the database at ``url``; its rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement.encode())
        return cur.fetchall() if cur.description is not None else []


def create_database(url: str, name: str, *, template: str | None = None) -> None:
    """Create database ``name`` (a copy of ``template`` when given), connected at ``url``."""
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(create)


def drop_database(url: str, name: str) -> None:
    """Drop database ``name``, ending any connection still open to it."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(drop)
