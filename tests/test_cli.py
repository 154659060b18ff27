"""The CLI as a user meets it: real subprocesses, real files, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def run(
    *args: str | Path,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "swarmdeck", *map(str, args)],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def line(**fields: object) -> str:
    base = {"v": 1, "ts": "2026-11-23T10:00:00Z", "source": "cli-test"}
    return json.dumps({**base, **fields})


def write_events(path: Path) -> None:
    path.write_text(
        "\n".join(
            [
                line(
                    id="1",
                    kind="agent.seen",
                    agent="coder-1",
                    data={"name": "coder-1", "role": "coder"},
                ),
                line(
                    id="2",
                    kind="agent.status",
                    agent="coder-1",
                    data={
                        "state": "blocked",
                        "activity": "waiting \x1b]52;c;cHduZWQ=\x07for approval",
                    },
                ),
                "this is not json",
                line(
                    id="3",
                    kind="escalation.raised",
                    agent="coder-1",
                    task="T-1",
                    data={
                        "id": "E-1",
                        "kind": "approval",
                        "title": "Push to main?",
                        "severity": "high",
                    },
                ),
                line(id="4", kind="task.exploded", task="T-1"),
                "",
            ]
        )
        + "\n"
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def assert_one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("swarmdeck: error: ")
    assert fragment in lines[0], lines[0]


def test_ingest_counts_dead_letters_and_exit_status(tmp_path: Path, db: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_events(events)
    first = run("ingest", events, "--db", db)
    assert first.returncode == 1
    assert first.stdout.strip() == "accepted 3, duplicate 0, rejected 2"
    assert "line 3: not valid JSON" in first.stderr
    assert "line 5: kind: unknown kind 'task.exploded'" in first.stderr
    again = run("--db", db, "ingest", events, "--json")
    assert json.loads(again.stdout)["duplicates"] == 3
    letters = json.loads(run("ls", "dead-letters", "--json", "--db", db).stdout)
    assert {d["location"] for d in letters} >= {"events.jsonl:3", "events.jsonl:5"}
    clean = tmp_path / "clean.jsonl"
    clean.write_text(line(id="9", kind="log", agent="a", data={"text": "x"}) + "\n")
    assert run("ingest", "-", "--db", db, stdin=clean.read_bytes()).returncode == 0


def test_ls_json_uses_field_names_and_tables_are_sanitised(tmp_path: Path, db: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_events(events)
    run("ingest", events, "--db", db)
    agents = json.loads(run("ls", "agents", "--json", "--db", db).stdout)
    assert agents[0]["name"] == "coder-1" and agents[0]["state"] == "blocked"
    escalations = json.loads(
        run("ls", "escalations", "--state", "open", "--json", "--db", db).stdout
    )
    assert [(e["id"], e["state"], e["severity"], e["agent"], e["kind"]) for e in escalations] == [
        ("E-1", "open", "high", "coder-1", "approval")
    ]
    assert "decided_by" in escalations[0]
    table = run("ls", "agents", "--db", db).stdout
    assert "\x1b" not in table and "\x07" not in table
    assert "waiting for approval" in table
    assert (
        run("ls", "escalations", "--state", "decided", "--json", "--db", db).stdout.strip() == "[]"
    )


def test_decide_first_wins_and_the_loser_learns_who(tmp_path: Path, db: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_events(events)
    run("ingest", events, "--db", db)
    no_reason = run("decide", "E-1", "reject", "--db", db)
    assert no_reason.returncode == 2
    assert_one_line_error(no_reason, "reject needs a reason")
    won = run(
        "decide",
        "E-1",
        "reject",
        "--reason",
        "not on a Friday",
        "--db",
        db,
        env={"SWARMDECK_ACTOR": "alice@laptop"},
    )
    assert won.returncode == 0, won.stderr
    lost = run("decide", "E-1", "approve", "--db", db, env={"SWARMDECK_ACTOR": "bob@desk"})
    assert lost.returncode == 3
    assert_one_line_error(lost, "already decided by alice@laptop")
    missing = run("decide", "E-404", "approve", "--db", db)
    assert missing.returncode == 1
    assert_one_line_error(missing, "no escalation 'E-404'")
    [esc] = json.loads(run("ls", "escalations", "--json", "--db", db).stdout)
    assert (esc["decided_by"], esc["action"], esc["reason"]) == (
        "alice@laptop",
        "reject",
        "not on a Friday",
    )


def test_audit_verify_and_export(tmp_path: Path, db: Path) -> None:
    events = tmp_path / "events.jsonl"
    write_events(events)
    run("ingest", events, "--db", db)
    run("decide", "E-1", "approve", "--db", db, env={"SWARMDECK_ACTOR": "alice@laptop"})
    ok = run("audit", "verify", "--db", db)
    assert ok.returncode == 0 and "intact: 1 records" in ok.stdout
    exported = run("audit", "export", "--db", db).stdout.splitlines()
    record = json.loads(exported[0])
    assert (record["actor"], record["action"], record["subject"]) == (
        "alice@laptop",
        "decide.approve",
        "E-1",
    )
    csv_out = run("audit", "export", "--format", "csv", "--since", "1d", "--db", db).stdout
    assert csv_out.splitlines()[0].startswith("seq,time,actor,action")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE audit SET actor = 'mallory'")
    conn.commit()
    conn.close()
    bad = run("audit", "verify", "--db", db)
    assert bad.returncode == 1
    assert "TAMPERED: record 1" in bad.stdout


def test_schema_adapters_and_config(tmp_path: Path) -> None:
    schema = json.loads(run("schema").stdout)
    assert "escalation.raised" in json.dumps(schema)
    listing = json.loads(run("adapters", "--json").stdout)
    types = {t["type"] for t in listing["types"]}
    assert {"demo", "jsonl"} <= types
    # No database yet: nobody leads anything, nothing has reported health.
    assert listing["instances"] == [
        {"name": "demo", "type": "demo", "enabled": True, "state": None, "leader": None,
         "epoch": None, "lease": "-"}
    ]  # fmt: skip
    assert listing["services"] == []
    unknown = run("adapters", "nope")
    assert_one_line_error(unknown, "unknown adapter type 'nope'")


@pytest.mark.parametrize(
    ("args", "fragment", "code"),
    [
        (["ingest", "missing.jsonl"], "no such file: missing.jsonl", 2),
        (["ls", "agents", "--config", "absent.toml"], "no such config file", 2),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path, db: Path, args: list[str], fragment: str, code: int
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "swarmdeck", *args, "--db", str(db)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert proc.returncode == code
    assert_one_line_error(proc, fragment)


def test_bad_databases_are_refused_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"definitely not sqlite" * 300)
    assert_one_line_error(run("ls", "agents", "--db", junk), "is not a usable swarmdeck database")
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA application_id = 1398229828")  # swarmdeck's, from a newer release
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    assert_one_line_error(run("ls", "agents", "--db", newer), "upgrade swarmdeck to open it")
    locked_dir = tmp_path / "ro"
    locked_dir.mkdir()
    locked_dir.chmod(0o500)
    try:
        if os.geteuid() != 0:  # root ignores directory permissions
            assert_one_line_error(run("ls", "agents", "--db", locked_dir / "sub" / "x.db"), "")
    finally:
        locked_dir.chmod(0o700)


def test_bad_config_value_names_the_field(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[tui]\ntheme = "x"\nbell = "loud"\n')
    proc = run("ls", "agents", "--db", db, "--config", config)
    assert proc.returncode == 2
    assert_one_line_error(proc, "tui.bell: Input should be a valid boolean")
    config.write_text('[[adapters]]\nname = "x"\n')
    assert_one_line_error(
        run("ls", "agents", "--db", db, "--config", config), "adapters.0.type: Field required"
    )
    config.write_text("not = [valid")
    assert_one_line_error(run("ls", "agents", "--db", db, "--config", config), "not valid TOML")


def test_serve_is_exclusive_per_database(tmp_path: Path, db: Path) -> None:
    env = {**os.environ, "SWARMDECK_DEMO__RATE": "50"}
    first = subprocess.Popen(
        [sys.executable, "-m", "swarmdeck", "serve", "--db", str(db)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert first.stderr is not None
        assert "collecting into" in first.stderr.readline()
        second = run("serve", "--db", db)
        assert second.returncode == 1
        assert_one_line_error(second, f"another collector (pid {first.pid}) already runs")
        # The demo swarm flows through the collector into the store.
        for _ in range(100):
            agents = json.loads(run("ls", "agents", "--json", "--db", db).stdout or "[]")
            if agents:
                break
        assert agents
    finally:
        first.terminate()
        first.wait(timeout=20)
    assert first.returncode == 0
    health = sqlite3.connect(db).execute("SELECT name, state FROM adapter_health").fetchall()
    assert ("demo", "stopped") in health


def test_secrets_in_rejected_lines_are_masked_in_dead_letters(tmp_path: Path, db: Path) -> None:
    key = "AKIA" + "Q7ZXW3KJ5T2LMNRV"  # an AWS access key id shape (split: no scanner alarm)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "kind": "log", "data": {"text": "creds ' + key + '"\n')
    assert run("ingest", bad, "--db", db).returncode == 1
    letters = run("ls", "dead-letters", "--json", "--db", db).stdout
    assert key not in letters
    assert "[secret:" in json.loads(letters)[0]["raw"]


def test_ingest_errors_quoting_the_input_are_cleaned(tmp_path: Path, db: Path) -> None:
    evil = tmp_path / "evil.jsonl"
    key = "\x1b]52;c;SGVsbG8=\x07\x1b[2J"
    evil.write_text(line(id="1", kind="log", agent="a", data={"text": "x", key: 1}) + "\n")
    proc = run("ingest", evil, "--db", db)
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr
    assert "\x07" not in proc.stderr
    assert "Extra inputs are not permitted" in proc.stderr


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_hook_timeout_that_is_no_duration_is_refused_at_once(tmp_path: Path, value: str) -> None:
    """--timeout nan used to pass the range check (NaN compares false) and never return."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "swarmdeck"), "hook", "claude-code",
         "--db", str(tmp_path / "d.db"), "--timeout", value],
        input=b"{}", capture_output=True, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 2  # Claude Code treats exit 2 as blocked: never an allow
    assert b"--timeout" in proc.stderr
