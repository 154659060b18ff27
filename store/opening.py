"""Opening a store: a path is a SQLite file, a ``postgresql://`` URL a PostgreSQL database.

This is the one place that chooses a backend, so ``--db``, ``db`` in the config file
and ``SWARMDECK_DB`` all take either. PostgreSQL's driver is imported only when a URL
asks for it: a hook process on SQLite never pays for loading it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from swarmdeck.store.db import SqliteStore, Store

#: URL schemes that name a PostgreSQL database (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(target: str | os.PathLike[str]) -> bool:
    """Whether ``target`` is a PostgreSQL URL rather than a file path."""
    text = os.fspath(target)
    return isinstance(text, str) and text.split("://", 1)[0].lower() in POSTGRES_SCHEMES


def display_location(target: str | os.PathLike[str]) -> str:
    """``target`` fit to print or log: a URL loses its password."""
    text = os.fspath(target)
    if not isinstance(text, str) or not is_postgres_url(text):
        return str(text)
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


async def open_store(
    target: str | os.PathLike[str],
    *,
    create: bool = True,
    clock: Callable[[], float] = time.time,
) -> Store:
    """Open (creating and migrating as needed) the store at ``target``.

    Args:
        target: a SQLite file path, or a ``postgresql://user@host/db`` URL (a database
            that exists; its tables are created on first open).
        create: SQLite only: create the file if it does not exist.

    Raises:
        StoreError: unreachable, unreadable or not a swarmdeck database.
        SchemaTooNew: written by a newer swarmdeck.
    """
    if is_postgres_url(target):
        from swarmdeck.store.postgres import PostgresStore

        return await PostgresStore.open(os.fspath(target), clock=clock)
    return await SqliteStore.open(target, create=create, clock=clock)
