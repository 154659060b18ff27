"""Item 8: bad databases get one clear line, and another program's database is never written.

A read-only database file gave ``internal error: OperationalError`` and ``serve``
crash-looped with tracebacks; a foreign SQLite file silently got swarmdeck's tables.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from tests.doors.conftest import cli, good_line, one_line_error, read_only

pytestmark = pytest.mark.slow


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    feed = tmp_path / "in"
    feed.mkdir(exist_ok=True)
    config.write_text(f'[[adapters]]\nname = "tail"\ntype = "jsonl"\npath = "{feed}"\n')
    return config


def test_a_read_only_database_is_one_line(tmp_path: Path, clean_env: dict[str, str]) -> None:
    db = tmp_path / "db.sqlite"
    assert cli("ingest", "-", "--db", db, env=clean_env, stdin=good_line(1)).returncode == 0
    config = _config(tmp_path)
    with read_only(db):
        ingest = cli("ingest", "-", "--db", db, env=clean_env, stdin=good_line(2))
        assert ingest.returncode != 0
        assert "read-only" in one_line_error(ingest)
        serve = cli("serve", "--db", db, "--config", config, env=clean_env, timeout=20)
        assert serve.returncode != 0  # refused at start, not a collector that cannot write
        assert "read-only" in one_line_error(serve)
        listing = cli("ls", "agents", "--db", db, env=clean_env)
        assert listing.returncode == 0  # reading a read-only copy still works
        assert b"after-the-bad-one" in listing.stdout


def test_a_foreign_sqlite_file_is_never_written(tmp_path: Path, clean_env: dict[str, str]) -> None:
    foreign = tmp_path / "places.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)")
    conn.execute("INSERT INTO moz_places(url) VALUES ('https://example.org')")
    conn.commit()
    conn.close()
    before = hashlib.sha256(foreign.read_bytes()).hexdigest()
    config = _config(tmp_path)
    for args in (
        ("ls", "agents"),
        ("ingest", "-"),
        ("serve", "--config", config),
        ("decide", "E-1", "approve"),
        ("audit", "verify"),
    ):
        proc = cli(*args, "--db", foreign, env=clean_env, stdin=good_line(1), timeout=20)
        assert proc.returncode != 0, args
        assert "not swarmdeck's" in one_line_error(proc), args
    assert hashlib.sha256(foreign.read_bytes()).hexdigest() == before
    assert not Path(f"{foreign}-wal").exists()  # not even switched to WAL
