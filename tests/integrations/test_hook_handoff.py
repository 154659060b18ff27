"""The hook's fast path: argv read without click, the collector's socket, and the fallbacks.

The point of the hand-off is what the hook process does *not* do when a collector runs:
import click, pydantic, the store. ``python -X importtime`` says what it imported, which
also proves the collector (not the store path) answered.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from swarmdeck.adapters.hooks import handoff
from swarmdeck.cli.hook_fast import HookArgs, config_path, db_path, parse_hook_args
from swarmdeck.config import default_config_dir, default_data_dir, load_settings
from swarmdeck.store.db import Store
from tests.helpers.hooks import payload
from tests.helpers.waiting import open_escalations
from tests.integrations.test_agent_hooks import Deck, start_collector

pytestmark = pytest.mark.slow

#: What the fast path must never import (the store path may).
HEAVY = ("click", "pydantic", "pydantic_settings", "textual", "mcp", "uvicorn", "starlette",
         "aiosqlite", "asyncio", "swarmdeck.store", "swarmdeck.config")  # fmt: skip


def imported(stderr: str) -> set[str]:
    return {
        line.split("|")[-1].strip()
        for line in stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def run_traced(
    deck: Deck, vendor: str, data: bytes, env: dict[str, str] | None = None
) -> tuple[int, str, set[str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "swarmdeck.cli", "--db", str(deck.db),
         "--config", str(deck.config), "hook", vendor],
        input=data, capture_output=True, env=env or deck.env, timeout=60, check=False,
    )  # fmt: skip
    err = done.stderr.decode()
    return done.returncode, done.stdout.decode(), imported(err)


def test_fast_path_hands_the_call_over_and_imports_nothing_heavy(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deck = Deck(tmp_path, env)
    collector = start_collector(deck)
    try:
        sock = Path(handoff.socket_path(deck.db))
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        code, out, modules = run_traced(
            deck, "gemini", json.dumps(payload("gemini/SessionStart")).encode()
        )
        assert (code, out) == (0, "")
        heavy = {m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)}
        assert heavy == set(), heavy
        assert "swarmdeck.adapters.hooks.handoff" in modules

        async def agent_state() -> str:
            async with await Store.open(deck.db) as store:
                return (await store.agent("gemini:project")).state

        assert asyncio.run(agent_state()) == "working"  # the collector wrote it
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)
    assert not sock.exists()  # removed on the way out


def test_collector_declines_calls_it_would_answer_differently(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deck = Deck(tmp_path, env)
    collector = start_collector(deck)
    try:
        # This hook's own settings differ from the collector's: the store path answers.
        other = {**env, "SWARMDECK_HOOKS__TIMEOUT": "0.5"}
        data = json.dumps(payload("codex/PermissionRequest")).encode()
        code, out, modules = run_traced(deck, "codex", data, other)
        assert code == 0
        assert "swarmdeck.store.db" in modules
        decision = json.loads(out)["hookSpecificOutput"]["decision"]
        assert decision["behavior"] == "deny"
        assert "timed out after 0.5s" in decision["message"]
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)


async def test_a_collector_that_stops_mid_wait_hands_back_to_the_store_path(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deck = Deck(tmp_path, env)
    collector = start_collector(deck)
    hook = await deck.hook("codex", payload("codex/PermissionRequest"))
    async with await Store.open(deck.db) as store:
        [first] = await open_escalations(store)
        collector.send_signal(signal.SIGTERM)  # the manager closed the TUI
        await asyncio.to_thread(collector.wait, 30)
        assert (await store.escalation(first.id)).state == "withdrawn"
        # The hook now waits on its own, on a fresh escalation a manager can still answer.
        [second] = await open_escalations(store)
        assert second.id != first.id
        await store.decide(second.id, "approve", actor="ana@laptop")
        code, body, _ = await hook.result()
    assert code == 0
    assert body["hookSpecificOutput"]["decision"] == {"behavior": "allow"}


# ----------------------------------------------------------------------------- argv, paths


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["hook", "codex"], HookArgs("codex")),
        (["--db", "a.db", "hook", "gemini"], HookArgs("gemini", db="a.db")),
        (["hook", "claude-code", "--db=a.db", "--config", "c.toml", "--timeout", "5"],
         HookArgs("claude-code", db="a.db", config="c.toml", timeout=5.0)),
        (["hook", "codex", "--help"], None),  # click answers that
        (["hook", "cursor"], None),
        (["hook", "codex", "--timeout", "soon"], None),
        (["hook", "codex", "--timeout", "0"], None),
        (["hook"], None),
        (["ls", "agents"], None),
        (["--timeout", "5", "hook", "codex"], None),  # not a group option
        (["hook", "codex", "--db"], None),
    ],
)  # fmt: skip
def test_only_plain_hook_command_lines_take_the_fast_path(
    argv: list[str], expected: HookArgs | None
) -> None:
    assert parse_hook_args(argv) == expected


def test_fast_path_finds_the_same_files_as_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("SWARMDECK_CONFIG", "SWARMDECK_DB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    assert config_path(None) == str(default_config_dir().resolve() / "config.toml")
    assert db_path(None, config_path(None)) == str(load_settings().db)
    assert str(default_data_dir()) == platformdirs.user_data_dir("swarmdeck", appauthor=False)

    config = tmp_path / "conf.toml"
    config.write_text('db = "~/elsewhere.db"\n')
    assert db_path(None, config_path(str(config))) == str(load_settings(config).db)
    monkeypatch.setenv("SWARMDECK_DB", str(tmp_path / "env.db"))
    assert db_path(None, config_path(str(config))) == str(load_settings(config).db)
    assert db_path("flag.db", str(config)) == "flag.db"
    monkeypatch.delenv("SWARMDECK_DB")
    config.write_text("db = ")  # not TOML: the store path will say so
    with pytest.raises(ValueError, match="Invalid value"):
        db_path(None, str(config))


def test_long_database_paths_get_a_private_socket_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = tmp_path / "s.db"
    assert handoff.socket_path(short) == f"{short}.hook.sock"
    deep = tmp_path / ("d" * 120) / "swarm.db"
    path = handoff.socket_path(deep)
    assert path.startswith(f"/tmp/swarmdeck-{os.getuid()}/")
    assert len(os.fsencode(path)) <= handoff.MAX_SOCKET_PATH
    # Both ends compute the same, whatever their environments say.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    assert handoff.socket_path(deep) == path


def test_a_collector_with_a_long_database_path_still_serves(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    deck = Deck(deep, env)
    collector = start_collector(deck, socket=Path(handoff.socket_path(deck.db)))
    try:
        sock = Path(handoff.socket_path(deck.db))
        assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
        code, _, modules = run_traced(
            deck, "codex", json.dumps(payload("codex/SessionStart")).encode()
        )
        assert code == 0
        assert "swarmdeck.store.db" not in modules  # the collector answered
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)


def test_requests_survive_any_payload_bytes() -> None:
    raw = b'{"x": "\xff\xfe caf\xc3\xa9"}'
    request = handoff.Request(
        vendor="codex", call_id="ab", payload=raw, timeout=None, config="/c", env={},
        interactive=None,
    )  # fmt: skip
    back = handoff.decode_request(handoff.encode_request(request))
    assert back.payload == raw
    with pytest.raises(ValueError, match="not a swarmdeck hook request"):
        handoff.decode_request(b'{"v": 99}')
