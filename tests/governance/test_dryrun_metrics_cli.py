# ruff: noqa: E501  (expected CLI lines and TOML read best unbroken)
"""The dry run against a recorded history with known answers; metrics; the CLI as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swarmdeck.metrics import percentile, sparkline, velocity
from swarmdeck.policy import load_policy
from swarmdeck.policy.dryrun import dry_run
from swarmdeck.store.db import Store
from tests.helpers.history import history_event as _ev
from tests.helpers.history import record_history

RULES = {
    "rules": [
        {
            "name": "routine-reads",
            "match": {"escalation_kind": "approval", "title": "^(Read|Grep|Glob)"},
            "path": ["approve"],
        },
        {
            "name": "flaky-tests",
            "match": {"kind": "task.failed", "role": "tester", "error": "(?i)timeout"},
            "path": ["retry(max=2)", "reroute(role=senior)", "escalate(severity=high)"],
        },
    ]
}


async def test_dry_run_reports_known_answers(tmp_path: Path) -> None:
    now = time.time()
    async with await Store.open(tmp_path / "h.db") as store:
        await record_history(store, now)
        report = await dry_run(store, load_policy(RULES), since=now - 86400)
    reads, flaky = report.rules
    assert reads.matched == 42
    assert reads.human_agreed == 37
    assert dict(reads.human_differed) == {"reject": 3}
    assert reads.still_open == 2
    # It says what it matched before what humans did: "37 of 40" alone read against
    # "matched 42" in the JSON.
    assert reads.headline() == (
        "rule routine-reads matched 42 requests and would have auto-approved them; "
        "of the 40 a human decided, 37 were approved and 3 were rejected (2 still open)"
    )
    assert str(reads.to_dict()["matched"]) in reads.to_dict()["summary"]
    assert flaky.matched == 4
    assert dict(flaky.would) == {"retry": 2, "reroute": 1, "escalate": 1}
    assert flaky.tasks_completed == 1
    assert report.requests == 47
    assert report.unmatched_requests() == 5
    # A window that starts after everything replays nothing.
    async with await Store.open(tmp_path / "h.db") as store:
        empty = await dry_run(store, load_policy(RULES), since=now + 1)
    assert empty.rules[0].headline() == "rule routine-reads matched nothing in this period"


async def test_velocity_numbers(tmp_path: Path) -> None:
    now = time.time()
    async with await Store.open(tmp_path / "v.db") as store:
        await record_history(store, now)
        await store.append(
            [
                _ev("usage", 900, now - 60, agent="coder-1", task="T-9",
                    data={"tokens_in": 10, "tokens_out": 5, "cost_usd": 0.5}),
            ],
            origin="demo",
        )  # fmt: skip
        v = await velocity(store, since=now - 6 * 3600, until=now, buckets=6)
    assert v.completed == 1
    assert v.completed_per_hour == pytest.approx(1 / 6)
    assert v.human_decisions == 45
    assert v.policy_decisions == 0
    assert v.auto_ratio == 0.0
    # Request i was raised at t + 60 i and decided at t + 4000 + 30 i: waits 4000 - 30 i.
    waits = [4000 - 30 * i for i in range(47) if i not in (40, 41)]
    assert v.wait_median == pytest.approx(sorted(waits)[len(waits) // 2])
    assert v.wait_p90 == pytest.approx(percentile([float(w) for w in waits], 90))
    assert v.cost_per_completed == pytest.approx(0.5)
    assert sum(v.series["completed"]) == 1
    assert len(v.series["cost"]) == 6


def test_sparkline_and_percentile() -> None:
    assert sparkline([0, 1, 2, 4]) == "▁▃▅█"
    assert sparkline([0, 0]) == "▁▁"
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == 9
    assert percentile([], 50) is None


# ----------------------------------------------------------------------------- the CLI


def swarmdeck(
    *args: str, config: Path, db: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SWARMDECK_ACTOR": "ann@box"}
    env.pop("SWARMDECK_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "swarmdeck", "--db", str(db), "--config", str(config), *args],
        input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        "[demo]\nenabled = false\n"
        '[[policy.rules]]\nname = "routine-reads"\n'
        'match = { escalation_kind = "approval", title = "^(Read|Grep|Glob)" }\npath = ["approve"]\n'
    )
    return path


@pytest.mark.slow
async def test_cli_policy_report_and_masking(tmp_path: Path, config_file: Path) -> None:
    db = tmp_path / "cli.db"
    now = time.time()
    async with await Store.open(db) as store:
        await record_history(store, now)

    out = swarmdeck("policy", "test", "--since", "1d", config=config_file, db=db)
    assert out.returncode == 0, out.stderr
    assert (
        "rule routine-reads matched 42 requests and would have auto-approved them; "
        "of the 40 a human decided, 37 were approved and 3 were rejected" in out.stdout
    )

    out = swarmdeck("policy", "test", "--since", "1d", "--json", config=config_file, db=db)
    assert out.returncode == 0, out.stderr
    [reads] = json.loads(out.stdout)["rules"]
    assert (reads["human_agreed"], reads["human_differed"]) == (37, {"reject": 3})

    out = swarmdeck("policy", "check", config=config_file, db=db)
    assert out.returncode == 0, out.stderr
    assert "routine-reads (escalation.raised): approve" in out.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[[rules]]\nname = "routine-reads"\nmatch = { kind = "task.failed" }\npath = ["retri"]\n'
    )
    out = swarmdeck("policy", "check", "--rules", str(bad), config=config_file, db=db)
    assert out.returncode == 2
    assert "policy.rules[routine-reads].path[0]: unknown step 'retri'" in out.stderr

    out = swarmdeck("report", "--since", "24h", "--json", config=config_file, db=db)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["completed"] == 1
    assert data["human_decisions"] == 45
    out = swarmdeck("report", config=config_file, db=db)
    assert "human wait (median)" in out.stdout

    # Masking at ingest, proven where a user looks: ls, audit export, reveal.
    secret = "ghp_R8fXq2LmZ0aB3cD4eF5gH6iJ7kL8mN9oP0qR"
    line = json.dumps({
        "id": "leak-1", "ts": "2026-11-23T10:00:00Z", "source": "ci", "kind": "log",
        "agent": "coder-1", "task": "T-9", "data": {"level": "info", "text": f"token={secret}"},
    })  # fmt: skip
    out = swarmdeck("ingest", "-", config=config_file, db=db, stdin=line + "\n")
    assert out.returncode == 0, out.stderr
    listing = swarmdeck("ls", "escalations", "--json", config=config_file, db=db)
    assert secret not in listing.stdout
    [guard] = [e for e in json.loads(listing.stdout) if e["kind"] == "guardrail"]
    assert "[secret:github-token …P0qR]" in guard["title"]
    assert "task T-9 / log text" in guard["title"]

    out = swarmdeck("reveal", guard["id"], "--reason", "rotate", config=config_file, db=db)
    assert out.returncode == 0, out.stderr
    assert secret in out.stdout
    for fmt in ("jsonl", "csv"):
        export = swarmdeck("audit", "export", "--format", fmt, config=config_file, db=db)
        assert export.returncode == 0, export.stderr
        assert "guardrail.reveal" in export.stdout
        assert secret not in export.stdout
    async with await Store.open(db) as store:
        rows = await store._fetchall("SELECT data FROM events WHERE eid = 'leak-1'")
        assert secret not in rows[0][0]
        assert (await store.audit_verify()).ok
