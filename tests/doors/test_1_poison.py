"""Item 1: one line must not stop the collector.

A usage event with ``tokens_in`` >= 2^63 made the writer retry its batch forever (nothing
landed any more, and serve ignored SIGTERM); a deadline of "99999999999999d" raised
OverflowError ("internal error" in ingest, a crash loop in the adapters); Infinity and
1e999 were accepted and came back out of ``ls --json`` as invalid JSON.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

from swarmdeck.adapters.base import Adapter, AdapterOptions, Batch
from swarmdeck.adapters.jsonl import JsonlAdapter
from swarmdeck.adapters.supervisor import Instance
from swarmdeck.store.db import Store
from swarmdeck.store.events import AgentStatus, AgentStatusData, Event
from tests.doors.conftest import (
    SWARMDECK,
    cli,
    event_line,
    good_line,
    instance,
    landed,
    supervised,
)
from tests.helpers import ev

HUGE = 2**63
DEEP_DEADLINE = {"id": "E-far", "kind": "approval", "title": "t", "deadline": "99999999999999d"}


async def test_an_int64_overflow_line_is_dead_lettered_and_the_next_line_lands(
    store: Store, tmp_path: Path
) -> None:
    feed = tmp_path / "events.jsonl"
    feed.write_bytes(
        event_line(id="big", kind="usage", agent="a", data={"tokens_in": HUGE})
        + event_line(id="far", kind="escalation.raised", data=DEEP_DEADLINE)
        + event_line(id="inf", kind="usage", agent="a", data={"cost_usd": 1e999})
        + good_line(1)
    )
    async with supervised(store, instance("tail", JsonlAdapter, path=str(feed))) as sup:
        await landed(store, "after-the-bad-one")
        assert sup.states["tail"] == "running"  # never crashed on the deadline
    errors = " | ".join(d.error for d in await store.dead_letters())
    assert "data.tokens_in" in errors
    assert "data.deadline" in errors
    assert "data.cost_usd" in errors


class _Poisoned(Adapter):
    """Yields one batch holding an event validation did not see (built without it)."""

    type_name: ClassVar[str] = "poisoned"

    async def events(self) -> AsyncIterator[Event | Batch]:
        # A lone surrogate: SQLite cannot bind it (UnicodeEncodeError), whatever the bounds.
        bad = AgentStatus.model_construct(
            v=1, id="poison", ts=ev("log", data={"text": "x"}).ts, source="p", agent="victim",
            task=None, workflow=None, kind="agent.status",
            data=AgentStatusData.model_construct(state="working", activity="\ud800"),
        )  # fmt: skip
        yield Batch(
            events=[
                ev("agent.status", agent="before", data={"state": "working"}),
                bad,
                ev("agent.status", agent="beside", data={"state": "working"}),
            ]
        )
        yield ev("agent.status", agent="later", data={"state": "working"})
        await asyncio.Event().wait()


async def test_a_batch_the_store_refuses_is_split_and_the_rest_lands(store: Store) -> None:
    async with supervised(store, Instance("p", _Poisoned, AdapterOptions())):
        await landed(store, "later")
    names = {a.name for a in await store.agents()}
    assert {"before", "beside", "later"} <= names
    [letter] = await store.dead_letters()
    assert letter.location == "event p/poison"
    assert "UnicodeEncodeError" in letter.error


def test_ingest_says_why_a_deadline_is_refused_and_keeps_the_rest(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    feed = tmp_path / "far.jsonl"
    feed.write_bytes(
        event_line(id="far", kind="escalation.raised", data=DEEP_DEADLINE) + good_line(1)
    )
    db = tmp_path / "db.sqlite"
    proc = cli("ingest", feed, "--db", db, env=clean_env)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "internal error" not in err and "Traceback" not in err
    assert "line 1: data.deadline" in err
    assert b"accepted 1" in proc.stdout


def test_infinity_is_refused_at_the_door(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """(That a non-finite value already stored still comes out of ``--json`` as JSON is
    the output cleaning of item 5, ported with the text piece.)"""
    db = tmp_path / "db.sqlite"
    feed = tmp_path / "inf.jsonl"
    feed.write_bytes(
        b'{"v":1,"id":"i1","ts":"2026-11-23T10:00:00Z","source":"s","kind":"usage",'
        b'"agent":"spender","data":{"cost_usd":Infinity}}\n'
        + event_line(id="i2", kind="usage", agent="spender", data={"cost_usd": 1e999})
        + event_line(id="ok", kind="usage", agent="spender", data={"cost_usd": 1.5})
    )
    proc = cli("ingest", feed, "--db", db, env=clean_env)
    assert proc.returncode == 1
    assert b"rejected 2" in proc.stdout
    assert b"data.cost_usd" in proc.stderr
    out = cli("ls", "agents", "--json", "--db", db, env=clean_env)
    assert out.returncode == 0, out.stderr
    [row] = json.loads(out.stdout)
    assert row["cost_usd"] == 1.5


def test_serve_stops_within_seconds_of_sigterm_while_the_writer_is_stuck(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db = tmp_path / "db.sqlite"
    feed = tmp_path / "in"
    feed.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[[adapters]]\nname = "tail"\ntype = "jsonl"\npath = "{feed}"\n')
    assert cli("ingest", "-", "--db", db, env=clean_env, stdin=good_line(0)).returncode == 0
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(SWARMDECK), "serve", "--db", str(db), "--config", str(config)],
        env=clean_env,
        stderr=log,
    )
    blocker = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        wait_until_running(db, "tail", proc)
        blocker.execute("BEGIN IMMEDIATE")  # the writer now waits for this lock
        (feed / "a.jsonl").write_bytes(b"".join(good_line(n) for n in range(1, 200)))
        time.sleep(1.5)  # the tail read them; the writer is stuck on the lock
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        took = time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
        log.close()
    assert took < 6.0, f"serve took {took:.1f}s to stop"
    assert b"Traceback" not in (tmp_path / "serve.log").read_bytes()


def wait_until_running(db: Path, adapter: str, proc: subprocess.Popen[bytes]) -> None:
    """Until the collector reports ``adapter`` running (read straight from the file)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited"
        try:
            conn = sqlite3.connect(db, timeout=1)
            row = conn.execute(
                "SELECT state FROM adapter_health WHERE name = ?", (adapter,)
            ).fetchone()
            conn.close()
        except sqlite3.Error:
            row = None
        if row is not None and row[0] in ("running", "degraded"):
            return
        time.sleep(0.05)
    raise AssertionError(f"{adapter} never ran")


async def test_the_collector_keeps_stopping_while_a_flush_cannot_be_stored(
    store: Store, db_path: Path
) -> None:
    """The shutdown writes are bounded: a lock held by someone else does not keep it running."""
    blocker = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    async with supervised(store, Instance("p", _Poisoned, AdapterOptions()), flush_timeout=1.0):
        await landed(store, "later")
        blocker.execute("BEGIN IMMEDIATE")
        start = time.monotonic()
    took = time.monotonic() - start
    blocker.execute("ROLLBACK")
    blocker.close()
    assert took < 5.0, f"the supervisor took {took:.1f}s to stop"
