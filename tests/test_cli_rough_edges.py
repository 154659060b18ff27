"""The CLI's rough edges a new user hit (issue 14.8, 10.9), each with its regression test.

In-process (``swarmdeck.cli.main``) for speed: the same entry point the console script
runs, exit status and one-line errors included.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from swarmdeck.cli import main
from swarmdeck.store.db import Store
from tests.tui.swarm_data import make_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in [k for k in os.environ if k.startswith("SWARMDECK_")]:
        monkeypatch.delenv(key)
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("SWARMDECK_CONFIG", str(config))
    return config


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "deck.db"
    asyncio.run(make_db(path))
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main([str(a) for a in args])
    out = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out.out, out.err


# --------------------------------------------------------------------------- 14.8


def test_ls_refuses_a_state_that_does_not_exist(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    code, _out, err = cli(capsys, "--db", db, "ls", "agents", "--state", "bogus")
    assert code == 2
    assert "no agents state 'bogus'; use one of: idle, working, blocked" in err
    code, _out, err = cli(capsys, "--db", db, "ls", "workflows", "--state", "open")
    assert code == 2 and "--state does not apply to workflows" in err
    code, out, _err = cli(capsys, "--db", db, "ls", "agents", "--state", "blocked")
    assert code == 0 and "coder-3" in out


def test_reingesting_a_file_keeps_its_dead_letters_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    db = tmp_path / "ingest.db"
    lines = tmp_path / "events.jsonl"
    lines.write_text('{"bad": 1}\nnot json\n')
    for _ in range(2):
        code, out, _err = cli(capsys, "--db", db, "ingest", lines)
        assert code == 1 and "rejected 2" in out
    code, out, _err = cli(capsys, "--db", db, "ls", "dead-letters", "--json")
    assert code == 0
    assert sorted(d["location"] for d in json.loads(out)) == ["events.jsonl:1", "events.jsonl:2"]


def test_an_environment_mistake_names_the_variable_not_the_file(
    capsys: pytest.CaptureFixture[str], db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWARMDECK_DEMO__AGENTS", "0")
    code, _out, err = cli(capsys, "--db", db, "ls", "agents")
    assert code == 2
    assert "environment SWARMDECK_DEMO__AGENTS: demo.agents" in err
    assert "config.toml" not in err


def test_adapter_options_show_readable_types(capsys: pytest.CaptureFixture[str], db: Path) -> None:
    code, out, _err = cli(capsys, "--db", db, "adapters", "jsonl")
    assert code == 0
    decisions = next(line for line in out.splitlines() if line.startswith("decisions_file"))
    assert "path | null" in decisions
    assert "{" not in out and "[" not in out.split("DESCRIPTION", 1)[1].split("\n", 2)[1]


def test_the_readme_lists_each_command_once() -> None:
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `swarmdeck ?([a-z-]*)(?: ([a-z-]+))?", table, re.MULTILINE)
    commands = [f"{name} {sub}".strip() for name, sub in rows]
    assert len(commands) == len(set(commands)), commands
    for command in ("policy check", "policy test", "report", "reveal"):
        assert commands.count(command) == 1, command


def test_decide_answer_must_be_one_of_the_options(
    capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    code, _out, err = cli(capsys, "--db", db, "decide", "esc-db", "answer", "--answer", "Mongo")
    assert code == 2
    assert "'Mongo' is not one of the options: 'Redis', 'Memcached', 'Postgres'" in err
    code, _out, err = cli(capsys, "--db", db, "decide", "esc-db", "answer", "--answer", "redis")
    assert code == 0, err

    async def recorded() -> str | None:
        async with await Store.open(db) as store:
            return (await store.decisions("esc-db"))[0].answer

    assert asyncio.run(recorded()) == "Redis"  # as the agent spelled it


# --------------------------------------------------------------------------- 10.9


@pytest.mark.parametrize(
    "args",
    [
        ["decide", "esc-db", "approve"],
        ["reveal", "esc-secret", "--reason", "look"],
        ["ingest", "-"],
        ["serve"],
        ["install", "claude-code", "--project", "."],
        ["audit", "anchor"],
    ],
)
def test_read_only_refuses_what_writes_or_reveals(
    capsys: pytest.CaptureFixture[str], db: Path, args: list[str]
) -> None:
    async def decisions() -> int:
        async with await Store.open(db) as store:
            return len(await store.decisions())

    before = asyncio.run(decisions())
    code, _out, err = cli(capsys, "--db", db, "--read-only", *args)
    assert code == 2
    assert "--read-only" in err and "writes or reveals" in err
    assert asyncio.run(decisions()) == before


@pytest.mark.parametrize(
    "args", [["ls", "agents"], ["audit", "verify"], ["report"], ["decide", "--help"]]
)
def test_read_only_still_reads(
    capsys: pytest.CaptureFixture[str], db: Path, args: list[str]
) -> None:
    code, _out, err = cli(capsys, "--db", db, "--read-only", *args)
    assert code == 0, err
