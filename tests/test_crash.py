"""Kill -9 in the middle of ingest: what was acknowledged survives, nothing is duplicated.

Both paths a user meets: ``swarmdeck ingest`` (acknowledges committed line ranges
with ``--progress``) and ``swarmdeck serve`` tailing a JSONL file (positions saved
in the same transaction as the events). After the crash and a restart, the store
holds every event exactly once, and the projections were applied exactly once
(the per-agent event counters add up to the number of stored events).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

EVENTS = 60_000


def make_file(path: Path, count: int = EVENTS, start: int = 0) -> None:
    with path.open("a") as fh:
        for i in range(start, start + count):
            fh.write(
                json.dumps(
                    {
                        "v": 1,
                        "id": f"e{i}",
                        "ts": "2026-11-23T10:00:00Z",
                        "source": "crash",
                        "kind": "usage",
                        "agent": f"a{i % 50}",
                        "data": {"tokens_in": 1, "tokens_out": 0, "cost_usd": 0},
                    }
                )
                + "\n"
            )


def counts(db: Path) -> tuple[int, int, int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT eid) FROM events").fetchone()
        tokens = conn.execute("SELECT COALESCE(SUM(tokens_in), 0) FROM agents").fetchone()[0]
    finally:
        conn.close()
    return rows[0], rows[1], tokens


def test_sigkill_during_cli_ingest(tmp_path: Path) -> None:
    source = tmp_path / "events.jsonl"
    make_file(source)
    db = tmp_path / "crash.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmdeck", "ingest", str(source), "--progress", "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    acked = 0
    for raw in proc.stderr:
        if raw.startswith("committed lines"):
            acked = int(raw.split("-")[-1])
            if acked >= 5_000:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 0 < acked < EVENTS, "the kill must land mid-ingest"
    stored, distinct, tokens = counts(db)
    assert stored >= acked  # everything acknowledged is there
    assert stored == distinct == tokens  # projections match the events, exactly once
    # The restart completes the file; the already stored part counts as duplicates.
    done = subprocess.run(
        [sys.executable, "-m", "swarmdeck", "ingest", str(source), "--json", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["accepted"] + result["duplicates"] == EVENTS
    assert result["duplicates"] == stored
    assert counts(db) == (EVENTS, EVENTS, EVENTS)


def test_sigkill_of_the_collector_tailing_a_file(tmp_path: Path) -> None:
    source = tmp_path / "agents.jsonl"
    make_file(source, 20_000)
    db = tmp_path / "serve.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[[adapters]]\nname = "tail"\ntype = "jsonl"\npath = "{source}"\n')
    cmd = [sys.executable, "-m", "swarmdeck", "serve", "--db", str(db), "--config", str(config)]

    def wait_for(condition: object, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if db.exists():
                try:
                    if condition(counts(db)):  # type: ignore[operator]
                        return
                except sqlite3.OperationalError:
                    pass  # schema not created yet
            time.sleep(0.05)
        raise AssertionError(f"timed out; store has {counts(db)}")

    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda c: c[0] > 0)
        make_file(source, 60_000, start=20_000)  # more arrives while it runs
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = counts(db)
    assert partial[0] == partial[1] == partial[2]
    assert partial[0] < 80_000, "the kill must land mid-ingest"
    restarted = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda c: c[0] >= 80_000)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    assert counts(db) == (80_000, 80_000, 80_000)
    assert restarted.returncode == 0
