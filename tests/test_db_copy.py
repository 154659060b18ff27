"""``swarmdeck db init`` and ``db copy``: a SQLite history into PostgreSQL and back, whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from swarmdeck.store.db import SqliteStore, Store
from swarmdeck.store.governance import Revealable, expire, set_escalation, vault_put
from swarmdeck.store.notify import Claim, claim_pushes, use_link
from swarmdeck.store.opening import open_store
from swarmdeck.store.postgres import PostgresStore
from swarmdeck.store.transfer import TABLES, _order, row_counts, verify_copy
from tests.conftest import PgDatabases
from tests.helpers import ev, raise_escalation

pytestmark = pytest.mark.slow


def swarmdeck(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmdeck", *map(str, args)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120, check=False,
    )  # fmt: skip


async def fill(store: Store) -> None:
    """A history touching every table a copy must carry."""
    await store.append_with_state(
        [
            ev("agent.seen", agent="coder-1", data={"name": "coder-1", "role": "coder"}),
            ev("task.created", task="T-1", workflow="wf", data={"title": "t", "depends_on": []}),
            ev("task.created", task="T-2", workflow="wf",
               data={"title": "u", "depends_on": ["T-1"]}),
            ev("usage", agent="coder-1", task="T-1", data={"tokens_in": 5, "cost_usd": 0.25}),
            raise_escalation("E1"),
            raise_escalation("E2"),
            raise_escalation("E3", deadline="2026-01-01T00:00:00Z"),
        ],
        origin="bots",
        state={"offset": "7"},
        rejected=[("f:9", b"\x00\xffraw bytes", "invalid JSON")],
    )  # fmt: skip
    await store.decide("E1", "approve", actor="alice", host="laptop")
    await store.decide("E2", "reject", actor="bob", reason="no")
    [first, second] = await store.due_deliveries()
    await store.delivery_succeeded(first.outbox_id)
    await store.delivery_failed(second.outbox_id, "503", store.clock() + 60)
    await store.set_health("bots", "http", "running")
    deadline = (await store.escalation("E3")).deadline
    assert deadline is not None
    assert await expire(store, "E3", deadline, actor="policy:deadline", detail={}) == "high"
    assert await set_escalation(store, "E3", actor="policy:p", action="policy.escalate",
                                severity="high", rule="r1")  # fmt: skip
    await vault_put(
        store,
        [Revealable("v-1", 1.0, "test", "e1", "E3", "coder-1", None, "data.body",
                    "aws", "[secret:aws …]", "AKIA...")],
    )  # fmt: skip
    await claim_pushes(store, "phone", [Claim("escalation:E3", "waited", "high")], 5.0)
    assert await use_link(store, "nonce-1", "E1", "phone", "alice", 6.0) is None
    await store.try_lead("bots", "host-a", ttl=30)
    await store.audit("alice", "guardrail.reveal", "E3", {"why": "check"})


async def table_rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    rows = {}
    for table in TABLES:
        found = await store._fetchall(
            f"SELECT {table.columns} FROM {table.name} ORDER BY {_order(store, table)}"
        )
        rows[table.name] = [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                            for r in found]  # fmt: skip
    return rows


async def test_copy_sqlite_to_postgres_and_back_is_whole(
    tmp_path: Path, pg_databases: PgDatabases
) -> None:
    source = tmp_path / "source.db"
    async with await SqliteStore.open(source) as store:
        await fill(store)
        before = await table_rows(store)
        rev = await store.rev()
    assert all(before[t.name] for t in TABLES), [t.name for t in TABLES if not before[t.name]]
    url = pg_databases.server.create_database("copy_target")  # never opened: db init makes it
    try:
        init = swarmdeck("db", "init", url)
        assert init.returncode == 0, init.stderr
        assert "schema version 0 -> 1 (ran migration 1" in init.stdout
        assert "already at schema version 1" in swarmdeck("db", "init", url).stdout

        up = swarmdeck("db", "copy", source, url)
        assert up.returncode == 0, up.stderr
        assert "verified" in up.stdout and "  audit: " in up.stdout
        async with await PostgresStore.open(url) as pg:
            assert await table_rows(pg) == before
            assert await pg.rev() == rev
            assert (await pg.audit_verify()).ok

        again = swarmdeck("db", "copy", source, url)
        assert again.returncode == 2 and "is not empty" in again.stderr

        back = tmp_path / "back.db"
        down = swarmdeck("db", "copy", url, back)
        assert down.returncode == 0, down.stderr
        async with await SqliteStore.open(back) as copy:
            assert await table_rows(copy) == before
            assert await copy.rev() == rev

        async with await PostgresStore.open(url) as pg:  # ids go on after the copied ones
            await pg.append([raise_escalation("E4")], origin="bots")
            assert (await pg.decide("E4", "approve", actor="carol")).id == 3
            assert (await pg.audit_verify()).ok
    finally:
        pg_databases.server.drop_database("copy_target")


async def test_a_copy_that_differs_is_named(tmp_path: Path, pg_url: str) -> None:
    source = await open_store(tmp_path / "s.db")
    target = await open_store(pg_url)
    try:
        await fill(source)
        counts = await row_counts(source)
        assert await verify_copy(source, target) == [
            f"{name}: {count} rows in the source, 0 in the copy"
            for name, count in counts.items()
            if count
        ] + [f"rev: {await source.rev()} in the source, 0 in the copy"]
    finally:
        await source.close()
        await target.close()
