"""The SQLite store as a file: permissions, schema versions, migrations, locking, cancellation.

What any backend must do is in ``tests/store_contract``; this file keeps what only
the SQLite backend has: a file with modes, ``PRAGMA user_version`` migrations run
in place, several processes racing to create one file, and the in-process lock
around the one shared connection.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from swarmdeck.store import governance
from swarmdeck.store.db import SqliteStore
from swarmdeck.store.errors import SchemaTooNew, StoreError
from swarmdeck.store.identity import APPLICATION_ID
from swarmdeck.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.helpers import raise_escalation

FIXTURES = Path(__file__).parent / "fixtures"


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


async def test_file_permissions(db_path: Path) -> None:
    async with await SqliteStore.open(db_path):
        pass
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


async def test_refuses_newer_schema_and_non_databases(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # a newer swarmdeck's file
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer than this swarmdeck"):
        await SqliteStore.open(newer)
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="not a usable swarmdeck database"):
        await SqliteStore.open(junk)
    with pytest.raises(StoreError, match="is a directory"):
        await SqliteStore.open(tmp_path)
    with pytest.raises(StoreError, match="no database"):
        await SqliteStore.open(tmp_path / "absent.db", create=False)


async def test_two_processes_migrating_at_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    stores = await asyncio.gather(*(SqliteStore.open(path) for _ in range(4)))
    for s in stores:
        await s.close()
    assert _user_version(path) == SCHEMA_VERSION


async def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO agents(name, first_seen, last_seen, origin, rev) "
                 "VALUES ('old-agent', 0, 0, 'demo', 1)")  # fmt: skip
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    async with await SqliteStore.open(path) as s:
        assert (await s.agent("old-agent")).origin == "demo"  # data kept
        plan = await s._fetchall(
            "EXPLAIN QUERY PLAN SELECT id FROM outbox WHERE escalation = 'E' ORDER BY id DESC"
        )
        assert "outbox_escalation" in str(plan)
        assert await governance.vault_find(s) == []  # migration 3 made the vault
    assert _user_version(path) == SCHEMA_VERSION == len(MIGRATIONS)


async def test_a_version_2_database_with_governance_tables_upgrades_in_place(
    tmp_path: Path,
) -> None:
    """Releases before schema 3 created the governance tables on first use, outside the
    migrations. ``fixtures/schema2-governance.db.gz`` was written by that code (commit
    daf28f1): an escalation E1 owned by rule ``old-rule`` whose deadline expired once
    (severity normal -> high), and a guardrail escalation G1 with one vault entry."""
    path = tmp_path / "old.db"
    path.write_bytes(gzip.decompress((FIXTURES / "schema2-governance.db.gz").read_bytes()))
    assert _user_version(path) == 2
    async with await SqliteStore.open(path) as s:
        assert _user_version(path) == SCHEMA_VERSION
        [kept] = await governance.vault_find(s, escalation="G1")
        assert (kept.original, kept.detector) == ("AKIAOLD", "aws-access-key")
        assert await governance.owner(s, "E1") == "old-rule"
        e1 = await s.escalation("E1")
        assert e1.severity == "high"
        assert e1.deadline is not None
        # The expiry the old code handled stays handled: it does not fire twice.
        assert await governance.expired_unhandled(s, e1.deadline + 3600) == []
        assert (await s.audit_verify()).ok
        # And the tables take new rows as the new code writes them.
        await governance.set_owner(s, "G1", "new-rule")
        assert await governance.owner(s, "G1") == "new-rule"


async def test_reads_never_see_another_coroutines_open_transaction(store: SqliteStore) -> None:
    """The collector's coroutines share one connection: a read issued while another
    coroutine's transaction is open must wait for it, not read its uncommitted rows."""
    order: list[str] = []
    inside = asyncio.Event()

    async def writer() -> None:
        async with store._write() as db:
            await db.execute(
                "INSERT INTO events(source, eid, ts, kind) VALUES ('s', 'x', 0, 'log')"
            )
            inside.set()
            await asyncio.sleep(0.2)
            order.append("rolled back")
            raise RuntimeError("the batch fails after its rows were written")

    async def reader() -> None:
        await inside.wait()
        order.append(f"read {await store.last_seq()}")

    results = await asyncio.gather(writer(), reader(), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert order == ["rolled back", "read 0"]


async def test_cancelling_a_write_that_waits_for_the_lock_leaves_no_transaction(
    db_path: Path,
) -> None:
    """A cancelled caller (a client hanging up) must not leave BEGIN IMMEDIATE holding the
    database's write lock for every other process."""
    async with await SqliteStore.open(db_path) as s:
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        loop = asyncio.get_running_loop()
        loop.call_later(0.4, lambda: blocker.execute("COMMIT"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(s.append([raise_escalation("E1")], origin="o"), 0.1)
        assert not s.in_transaction
        if blocker.in_transaction:  # the wait is an asyncio sleep now: cancelled at once
            blocker.execute("COMMIT")
        other = sqlite3.connect(db_path, timeout=1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the lock is free again
        other.execute("ROLLBACK")
        other.close()
        blocker.close()
        assert (await s.append([raise_escalation("E2")], origin="o")).accepted == 1
