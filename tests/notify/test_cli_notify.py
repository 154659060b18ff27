"""``swarmdeck notify ls|test`` as a user runs them: real subprocesses, a real receiver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.notify.receivers import http_receiver

pytestmark = pytest.mark.slow

TOKEN = "tk_live_5f3c9a7e1b2d"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmdeck", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
db = "{tmp_path / "deck.db"}"

[[notify]]
name = "on-call"
url = "ntfys://{TOKEN}@ntfy.example.com/deck-alice"
min_severity = "high"
kind = "approval"
after = "2m"
owner = "alice@example.com"

[[notify]]
name = "hook"
url = "json://127.0.0.1:{port}/in"

[[notify]]
name = "down"
url = "json://127.0.0.1:1/nothing-listens-here"
"""
    )
    return path


def test_ls_masks_urls_and_test_sends_a_sample(tmp_path: Path) -> None:
    with http_receiver() as receiver:
        config = write_config(tmp_path, receiver.port)
        listed = run("notify", "ls", "--config", config)
        assert listed.returncode == 0, listed.stderr
        assert TOKEN not in listed.stdout
        assert "ntfys://ntfy.example.com/…" in listed.stdout
        assert "severity>=high kind=approval" in listed.stdout
        as_json = json.loads(run("notify", "ls", "--json", "--config", config).stdout)
        assert [r["name"] for r in as_json] == ["on-call", "hook", "down"]
        assert TOKEN not in json.dumps(as_json)
        shown = run("config", "--config", config)
        assert TOKEN not in shown.stdout + shown.stderr

        sent = run("notify", "test", "hook", "--config", config)
        assert sent.returncode == 0, sent.stderr
        (got,) = receiver.wait(1)
        assert got.json()["title"] == "swarmdeck: test push through hook"

    failed = run("notify", "test", "down", "--config", config)
    assert failed.returncode == 1
    assert "route down: the service did not accept the push" in failed.stderr
    assert "nothing-listens-here" not in failed.stderr
    unknown = run("notify", "test", "nope", "--config", config)
    assert unknown.returncode == 2 and "no notify route named 'nope'" in unknown.stderr
