"""Item 7: nothing hangs.

``ingest`` waited forever, silently, when the disk was full, under ``ulimit -f`` or while
another process held the write lock past the busy timeout; ``hook claude-code --timeout
nan`` never returned; ``ingest -`` on a live pipe kept the database write-locked while it
waited for input.
"""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.doors.conftest import SWARMDECK, cli, good_line, one_line_error
from tests.helpers.hooks import payload

pytestmark = pytest.mark.slow


def _lines(n: int) -> bytes:
    return b"".join(good_line(i, agent=f"agent-{i % 50}") for i in range(n))


def test_ingest_under_a_file_size_limit_stops_with_one_line(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    feed = tmp_path / "many.jsonl"
    feed.write_bytes(_lines(40_000))
    db = tmp_path / "db.sqlite"

    def limit() -> None:  # ulimit -f: writes beyond 3 MB fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))

    start = time.monotonic()
    proc = subprocess.run(
        [str(SWARMDECK), "ingest", str(feed), "--db", str(db)],
        env=clean_env, capture_output=True, preexec_fn=limit, timeout=60, check=False,
    )  # fmt: skip
    assert time.monotonic() - start < 30
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "file-size limit" in line or "disk is full" in line
    kept = int(line.split("lines 1-")[1].split(" ")[0]) if "lines 1-" in line else 0
    conn = sqlite3.connect(db)
    (stored,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    conn.close()
    assert stored == kept  # what it acknowledged is there, and nothing claimed beyond it


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs mounted for the test (root only; skipped elsewhere): a real full disk."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def test_ingest_on_a_full_disk_stops_with_one_line(
    full_disk: Path, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    feed = tmp_path / "many.jsonl"
    feed.write_bytes(_lines(40_000))
    db = full_disk / "db.sqlite"
    start = time.monotonic()
    proc = cli("ingest", feed, "--db", db, env=clean_env, timeout=60)
    assert time.monotonic() - start < 30
    assert proc.returncode == 1
    line = one_line_error(proc)
    assert "disk is full" in line or "full" in line, line
    kept = int(line.split("lines 1-")[1].split(" ")[0]) if "lines 1-" in line else 0
    conn = sqlite3.connect(db)
    (stored,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
    conn.close()
    assert stored == kept  # what it acknowledged is there, and nothing claimed beyond it


def test_ingest_gives_up_on_a_lock_held_past_the_busy_timeout(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-", "--db", db, env=clean_env, stdin=good_line("x")).returncode == 0
    feed = tmp_path / "many.jsonl"
    feed.write_bytes(_lines(10_000))
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        proc = cli("ingest", feed, "--db", db, env=clean_env, timeout=60)
        took = time.monotonic() - start
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert proc.returncode == 1
    assert "locked" in one_line_error(proc)
    assert took < 20


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e999"])
def test_hook_timeout_must_be_a_duration(
    value: str, tmp_path: Path, clean_env: dict[str, str]
) -> None:
    proc = cli(
        "hook", "claude-code", "--timeout", value, "--db", tmp_path / "db.sqlite",
        env=clean_env, stdin=json.dumps(payload("pretooluse_write")).encode(), timeout=20,
    )  # fmt: skip
    assert proc.returncode == 2  # refused before it starts; 2 also blocks the call
    assert b"--timeout" in proc.stderr  # names what is wrong (main's wording, either path)
    assert not (tmp_path / "db.sqlite").exists()


def test_ingest_from_a_live_pipe_holds_no_lock_while_it_waits(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-", "--db", db, env=clean_env, stdin=good_line("x")).returncode == 0
    proc = subprocess.Popen(
        [str(SWARMDECK), "ingest", "-", "--db", str(db)],
        env=clean_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None
    try:
        proc.stdin.write(_lines(2_600))  # more than one batch, then the pipe goes quiet
        proc.stdin.flush()
        time.sleep(2.0)
        other = sqlite3.connect(db, timeout=1.0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # would fail with "locked" while ingest held it
        other.execute("ROLLBACK")
        (stored,) = other.execute("SELECT COUNT(*) FROM events").fetchone()
        other.close()
        assert stored == 2_601  # committed while the pipe is still open
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
