"""Whose SQLite database is this, and can we write it? Asked before swarmdeck writes a byte.

A path given by mistake (``--db ~/.mozilla/.../places.sqlite``) must not silently
receive swarmdeck's tables: a file that is neither empty nor swarmdeck's is refused
untouched. Ours is recognised by SQLite's ``application_id`` header field, set on
every database swarmdeck opens, or, for one created before the field was set, by
its schema version and its own tables.

SQLite's write errors are turned into one line a person can act on: a read-only
file or directory, a full disk or a file-size limit (``ulimit -f``).
:func:`check_writable` is for both backends (PostgreSQL's own identity check is in
:mod:`swarmdeck.store.postgres.schema`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite

from swarmdeck.store.base import StoreCore
from swarmdeck.store.errors import ForeignDatabase, StoreUnwritable

#: ``PRAGMA application_id`` of a swarmdeck database: "SWKD".
APPLICATION_ID = 0x53574B44
#: Tables every swarmdeck database has had since its first schema version.
_OWN_TABLES = frozenset({"meta", "events", "agents", "tasks", "escalations", "outbox", "audit"})


async def _pragma(conn: aiosqlite.Connection, name: str) -> int:
    async with conn.execute(f"PRAGMA {name}") as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def check_identity(conn: aiosqlite.Connection, path: Path) -> None:
    """Refuse a database that is neither empty nor swarmdeck's; reads only.

    Raises:
        ForeignDatabase: naming what was found and what to do.
    """
    app_id = await _pragma(conn, "application_id")
    if app_id == APPLICATION_ID:
        return
    advice = "swarmdeck never writes into another program's database; choose another --db"
    if app_id != 0:
        raise ForeignDatabase(
            f"{path} belongs to another program (SQLite application id {app_id:#x}); {advice}"
        )
    async with conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ) as cur:
        tables = {str(r[0]) for r in await cur.fetchall()}
    version = await _pragma(conn, "user_version")
    if not tables and version == 0:
        return  # empty: ours to create
    if version > 0 and tables >= _OWN_TABLES:
        async with conn.execute("SELECT 1 FROM meta WHERE key = 'rev'") as cur:
            if await cur.fetchone() is not None:
                return  # ours, from before the application id was set
    shown = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
    raise ForeignDatabase(
        f"{path} is an SQLite database that is not swarmdeck's "
        f"(tables: {shown or 'none'}, schema version {version}); {advice}"
    )


async def mark_ours(conn: aiosqlite.Connection) -> None:
    """Stamp the application id (once) so the file says whose it is."""
    if await _pragma(conn, "application_id") == APPLICATION_ID:
        return
    try:
        await conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    except sqlite3.OperationalError as exc:
        if unwritable(Path(), exc) is None:
            raise
        # A read-only copy of an older database: reading it is still fine.


def unwritable(path: Path, exc: sqlite3.OperationalError) -> StoreUnwritable | None:
    """One actionable line for an error that means "this database cannot be written"."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return StoreUnwritable(
            f"{path} is read-only; swarmdeck needs to write its database "
            "(check the permissions of the file and of its directory)"
        )
    if "disk is full" in text or "disk I/O error" in text:
        return StoreUnwritable(
            f"{path}: cannot write ({text}): the disk is full or a file-size limit "
            "(ulimit -f) was reached"
        )
    if "unable to open database file" in text:
        return StoreUnwritable(
            f"{path}: cannot open for writing (its directory may be read-only: SQLite needs "
            "to create the -wal and -shm files beside it)"
        )
    return None


async def check_writable(store: StoreCore) -> None:
    """Write nothing, for real: a collector must learn at start that it cannot write,
    not crash-loop on its first batch (SQLite's BEGIN alone succeeds on a read-only
    file; a PostgreSQL role may be allowed to read only).

    Raises:
        StoreUnavailable: read-only file, directory, server or role; a full disk.
    """
    await store._transact(
        lambda: store._exec("UPDATE meta SET value = value WHERE key = 'rev'"), bumps=False
    )
