"""Door: ``swarmdeck ingest`` (the CLI entry point, in this process, on a real store file).

Every hostile line is either stored (valid after all) or in the dead letters with its
reason; the command never prints a traceback or "internal error"; the good line after the
bad ones lands.
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from swarmdeck.cli import main
from tests.fuzz.conftest import FUZZ, Tally, unique
from tests.fuzz.strategies import hostile_line


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


@FUZZ
@given(lines=st.lists(hostile_line(), min_size=1, max_size=6))
def test_ingest_refuses_every_bad_line_cleanly(
    tmp_path: Path, tally: Tally, lines: list[bytes]
) -> None:
    db = tmp_path / "fuzz.db"
    n = unique()
    feed = tmp_path / f"feed-{n}.jsonl"
    sentinel = f"sentinel-{n}"
    good = json.dumps({"v": 1, "id": sentinel, "ts": "2026-11-23T10:00:00Z", "source": "s",
                       "kind": "agent.status", "agent": sentinel,
                       "data": {"state": "working"}})  # fmt: skip
    feed.write_bytes(b"\n".join([*lines, good.encode()]) + b"\n")
    letters_before = (
        _count(db, "SELECT COALESCE(MAX(id), 0) FROM dead_letters") if db.exists() else 0
    )
    code, out, err = run_cli("ingest", str(feed), "--db", str(db), "--json")
    clean = code in (0, 1) and "Traceback" not in err and "internal error" not in err
    if not clean:
        tally.record("ingest (CLI)", "other", len(lines))
    assert clean, (code, err)
    counts = json.loads(out)
    refused = {line for line, _ in counts["errors"]}
    assert all(reason for _, reason in counts["errors"])  # every refusal says why
    # Stored but not applied (a re-raise of an escalation id an earlier example used):
    # in the dead letters as "event <source>/<id>", with the reason.
    conn = sqlite3.connect(db)
    unapplied = {
        str(loc): str(err)
        for loc, err in conn.execute(
            "SELECT location, error FROM dead_letters WHERE id > ?", (letters_before,)
        )
        if str(loc).startswith("event ")
    }
    conn.close()
    assert all(unapplied.values())
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if number in refused or _location(raw) in unapplied:
            tally.record("ingest (CLI)", "refused cleanly")
        else:
            tally.record("ingest (CLI)", "accepted")
    letters = _count(db, "SELECT COUNT(*) FROM dead_letters WHERE id > " + str(letters_before))
    assert letters == counts["rejected"] + len(unapplied)  # all kept, each with its reason
    assert _count(db, f"SELECT COUNT(*) FROM agents WHERE name = '{sentinel}'") == 1


def _location(raw: bytes) -> str | None:
    try:
        event = json.loads(raw)
        return f"event {event['source']}/{event['id']}"
    except (ValueError, KeyError, TypeError):
        return None
