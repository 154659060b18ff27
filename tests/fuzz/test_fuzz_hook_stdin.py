"""Door: ``swarmdeck hook claude-code`` with hostile stdin.

Run in this process (``run_hook``: the whole command but the stdin read) for the many
examples, and as real subprocesses for a handful, which also covers reading stdin. With
``hooks.default = allow``, the only allow is a readable permission nobody decided in time;
the exit status is 0 or 2 (anything else lets Claude Code's call through), stdout is empty
or JSON, stderr is at most one line and never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from swarmdeck.adapters.hooks.claude_code import parse_payload
from swarmdeck.adapters.hooks.core import PayloadError
from swarmdeck.cli import hook_run
from swarmdeck.cli.hook_fast import HookArgs
from tests.fuzz.conftest import FUZZ, Tally
from tests.fuzz.strategies import nested
from tests.fuzz.test_fuzz_hook_endpoint import allows, hook_body
from tests.helpers.hooks import SWARMDECK, payload

DOOR = "hook claude-code (stdin)"


@pytest.fixture
def hook_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "hook.db"
    monkeypatch.setenv("SWARMDECK_DB", str(db))
    monkeypatch.setenv("SWARMDECK_HOOKS__DEFAULT", "allow")
    return db


def run_hook(raw: bytes, timeout: float) -> tuple[int, str, str]:
    """The whole hook command but the stdin read, in this process."""
    args = HookArgs("claude-code", timeout=timeout)
    return hook_run.run_hook(args, raw, call_id=os.urandom(8).hex(), interactive=None)


def check(code: int, out: str, err: str, raw: bytes) -> bool:
    """True when the answer is clean and not a fail-open; asserts the details."""
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err and len([ln for ln in err.splitlines() if ln]) <= 1, err
    answer: Any = json.loads(out) if out.strip() else None
    try:
        readable = parse_payload(raw) is not None
    except PayloadError:
        readable = False
    if allows(answer):
        assert readable, ("an unreadable payload was allowed", raw[:200], answer)
        # Only the configured default, for a request nobody decided in time.
        assert "timed out" in err or "no decision" in json.dumps(answer), (err, answer)
    return readable


@FUZZ
@given(raw=hook_body())
def test_the_hook_command_never_fails_open(hook_env: Path, tally: Tally, raw: bytes) -> None:
    code, out, err = run_hook(raw, 0.1)
    try:
        readable = check(code, out, err, raw)
    except AssertionError:
        tally.record(DOOR, "other")
        raise
    tally.record(DOOR, "accepted" if readable else "refused cleanly")


REAL_STDIN = {
    "empty": b"",
    "garbage": b"\xff\xfe\x00not json",
    "2000 deep": (
        json.dumps(payload("pretooluse_write"))[:-1] + ', "tool_input": ' + nested(2000) + "}"
    ).encode(),
    "escapes in the command": json.dumps(
        {
            **payload("permission_request_bash"),
            "tool_input": {"command": "echo \x1b]52;c;cm0gLXJm\x07 \u202e"},
        }
    ).encode(),
    "a valid permission": json.dumps(payload("permission_request_bash")).encode(),
}


@pytest.mark.parametrize("raw", REAL_STDIN.values(), ids=REAL_STDIN.keys())
def test_the_real_hook_process(
    raw: bytes, tmp_path: Path, clean_env: dict[str, str], tally: Tally
) -> None:
    env = {**clean_env, "SWARMDECK_HOOKS__DEFAULT": "allow"}
    proc = subprocess.run(
        [str(SWARMDECK), "hook", "claude-code", "--db", str(tmp_path / "db"), "--timeout", "0.3"],
        input=raw, capture_output=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    try:
        readable = check(proc.returncode, proc.stdout.decode(), proc.stderr.decode(), raw)
    except AssertionError:
        tally.record(DOOR, "other")
        raise
    tally.record(DOOR, "accepted" if readable else "refused cleanly")
