"""An ended Claude Code session goes offline and frees its name (issue 10 item 2).

``install claude-code`` registers ``SessionEnd``; the hook marks the agent offline and
releases the session's name at once, so the next run in the same directory is
``claude:<dir>`` again rather than ``claude:<dir>#<suffix>``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import Store
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import open_escalations
from tests.integrations.test_agent_hooks import Deck, start_collector
from tests.integrations.test_install import run

pytestmark = pytest.mark.slow

SESSION_END = Path(__file__).resolve().parents[1] / "real_clients" / "fixtures" / "claude-code"


def in_session(data: dict[str, Any], session_id: str) -> dict[str, Any]:
    return {**data, "session_id": session_id, "cwd": "/home/dev/shop-api"}


def session_end(session_id: str) -> dict[str, Any]:
    """The SessionEnd payload the real Claude Code 2.1.332 sent."""
    data: dict[str, Any] = json.loads((SESSION_END / "SessionEnd.json").read_text())
    return in_session(data, session_id)


async def hook(deck: Deck, data: dict[str, Any]) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        str(SWARMDECK), "--db", str(deck.db), "--config", str(deck.config), "hook",
        "claude-code", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=deck.env,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(data).encode())
    proc.stdin.close()
    return proc


async def one_approved_call(deck: Deck, store: Store, session_id: str) -> str:
    """The agent name a session's PermissionRequest was raised under, once approved."""
    proc = await hook(deck, in_session(payload("permission_request_bash"), session_id))
    [esc] = await open_escalations(store)
    await store.decide(esc.id, "approve", actor="ana@laptop")
    await asyncio.wait_for(proc.communicate(), 30)
    return esc.agent or ""


@pytest.mark.parametrize("path", ["store", "collector"])
async def test_an_ended_session_goes_offline_and_frees_its_name(
    path: str, tmp_path: Path, env: dict[str, str]
) -> None:
    deck = Deck(tmp_path, env)
    collector = start_collector(deck) if path == "collector" else None
    try:
        async with await Store.open(deck.db) as store:
            first, second = (f"sess-{os.urandom(4).hex()}" for _ in range(2))
            assert await one_approved_call(deck, store, first) == "claude:shop-api"
            end = await hook(deck, session_end(first))
            out, err = await asyncio.wait_for(end.communicate(), 30)
            assert (end.returncode, out) == (0, b""), err
            agent = await store.agent("claude:shop-api")
            assert (agent.state, agent.activity) == ("offline", "session ended")
            # The next run in the same directory, minutes later: the plain name again.
            assert await one_approved_call(deck, store, second) == "claude:shop-api"
    finally:
        if collector is not None:
            collector.send_signal(signal.SIGTERM)
            collector.wait(30)


async def test_without_session_end_the_next_run_is_suffixed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """What SessionEnd fixes: a session that ended silently still holds the name."""
    deck = Deck(tmp_path, env)
    async with await Store.open(deck.db) as store:
        assert await one_approved_call(deck, store, "sess-aaaaaa11") == "claude:shop-api"
        assert await one_approved_call(deck, store, "sess-bbbbbb22") == "claude:shop-api#sessbb"


def test_install_registers_session_end(tmp_path: Path, env: dict[str, str]) -> None:
    project = tmp_path / "repo"
    result = run(["install", "claude-code", "--project", str(project)], env, tmp_path)
    assert result.returncode == 0, result.stderr
    hooks = json.loads((project / ".claude" / "settings.json").read_text())["hooks"]
    [group] = hooks["SessionEnd"]
    [handler] = group["hooks"]
    assert handler["command"].endswith(" hook claude-code")
    assert handler["timeout"] == 30  # a status hook: nothing waits for a manager
    assert "onFailure" not in handler  # nothing to block: the session is over anyway
