"""Whatever ends a waiting request, its escalation is withdrawn with the reason, and a
decision on it is refused (issue 10 item 1).

The real processes, from outside: ``swarmdeck mcp`` spoken to over its stdin (the way a
client that exits, cancels or is killed leaves it), and ``swarmdeck hook claude-code``
whose CLI goes away (its stdout loses its reader) or which is killed outright.
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

from swarmdeck.adapters.hooks.handoff import CLI_GONE
from swarmdeck.adapters.mcp_tools import CLIENT_GONE_REASON
from swarmdeck.store.db import SqliteStore, Store
from swarmdeck.store.models import Escalation
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import eventually, open_escalations
from tests.integrations.test_agent_hooks import Deck, start_collector

pytestmark = pytest.mark.slow


def rpc(message: dict[str, Any]) -> bytes:
    return (json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode()


class McpServer:
    """``swarmdeck mcp`` on a database, spoken to line by line over its stdin."""

    def __init__(self, db: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [str(SWARMDECK), "--db", str(db), "mcp"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.send(
            {"id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                        "clientInfo": {"name": "release-bot", "version": "1"}}},
            {"method": "notifications/initialized"},
        )  # fmt: skip

    def send(self, *messages: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        for message in messages:
            self.proc.stdin.write(rpc(message))
        self.proc.stdin.flush()

    def ask_approval(self, summary: str, request_id: int = 2) -> None:
        self.send(
            {"id": request_id, "method": "tools/call",
             "params": {"name": "request_approval", "arguments": {"summary": summary}}}
        )  # fmt: skip

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it

    def finish(self, timeout: float = 15.0) -> tuple[int, str]:
        """(exit code, stderr) once it exited by itself."""
        _, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, err.decode()


def decide(db: Path, env: dict[str, str], escalation: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWARMDECK), "--db", str(db), "decide", escalation, "approve"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


async def withdrawn(store: Store, escalation: str, timeout: float = 15.0) -> Escalation:
    async def probe() -> Escalation | None:
        row = await store.escalation(escalation)
        return row if row.state == "withdrawn" else None

    result: Escalation = await eventually(probe, timeout=timeout)
    return result


def assert_refused(db: Path, env: dict[str, str], escalation: str) -> None:
    late = decide(db, env, escalation)
    assert late.returncode == 3, late.stdout + late.stderr  # EXIT_CONFLICT
    assert "withdrawn" in late.stderr, late.stderr


# ----------------------------------------------------------------------------- swarmdeck mcp


async def test_the_mcp_client_exiting_withdraws_without_a_traceback(
    store: SqliteStore, env: dict[str, str]
) -> None:
    server = McpServer(store.path, env)
    server.ask_approval("deploy api v2")
    [esc] = await open_escalations(store)
    server.close_stdin()  # the client exited: its end of the pipe closed
    code, err = await asyncio.to_thread(server.finish)
    assert (code, err) == (0, "")
    row = await withdrawn(store, esc.id)
    assert row.reason == CLIENT_GONE_REASON
    assert_refused(store.path, env, esc.id)


async def test_a_cancelled_mcp_request_withdraws_at_once(
    store: SqliteStore, env: dict[str, str]
) -> None:
    server = McpServer(store.path, env)
    server.ask_approval("deploy api v2", request_id=7)
    [esc] = await open_escalations(store)
    server.send({"method": "notifications/cancelled", "params": {"requestId": 7}})
    row = await withdrawn(store, esc.id)  # while the server still runs
    assert server.proc.poll() is None
    assert row.reason == CLIENT_GONE_REASON
    assert_refused(store.path, env, esc.id)
    server.close_stdin()
    code, err = await asyncio.to_thread(server.finish)
    assert (code, err) == (0, "")  # no "Cannot operate on a closed database"


async def test_sigterm_of_swarmdeck_mcp_withdraws_and_exits(
    store: SqliteStore, env: dict[str, str]
) -> None:
    server = McpServer(store.path, env)
    server.ask_approval("deploy api v2")
    [esc] = await open_escalations(store)
    server.proc.send_signal(signal.SIGTERM)  # stdin stays open: only the signal ends it
    code, err = await asyncio.to_thread(server.finish, 10.0)
    assert (code, err) == (0, "")
    row = await withdrawn(store, esc.id)
    assert row.reason == "swarmdeck mcp was stopped before a decision came (SIGTERM)"
    assert_refused(store.path, env, esc.id)


async def test_a_killed_swarmdeck_mcp_is_noticed_by_the_next_start(
    store: SqliteStore, env: dict[str, str]
) -> None:
    first = McpServer(store.path, env)
    first.ask_approval("deploy api v2")
    [esc] = await open_escalations(store)
    first.proc.kill()  # nothing of it runs any more: nobody withdraws
    await asyncio.to_thread(first.finish)
    assert (await store.escalation(esc.id)).state == "open"
    second = McpServer(store.path, env)
    second.ask_approval("another request")  # the first store use sweeps
    row = await withdrawn(store, esc.id)
    assert f"pid {first.proc.pid}" in (row.reason or "")
    assert "swarmdeck mcp" in (row.reason or "")
    assert_refused(store.path, env, esc.id)
    second.close_stdin()
    await asyncio.to_thread(second.finish)


# ----------------------------------------------------------------------------- swarmdeck hook


def start_hook(
    deck: Deck, data: dict[str, Any], env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [str(SWARMDECK), "--db", str(deck.db), "--config", str(deck.config), "hook",
         "claude-code"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env or deck.env,
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(data).encode())
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it
    return proc


def session(name: str) -> dict[str, Any]:
    data = payload(name)
    data["session_id"] = f"s-{os.urandom(6).hex()}"
    return data


@pytest.mark.parametrize("path", ["store", "collector"])
async def test_the_hooks_cli_going_away_withdraws_its_escalation(
    path: str, tmp_path: Path, env: dict[str, str]
) -> None:
    """Claude Code killed outright (SIGKILL) leaves its hook running; the hook notices its
    stdout has no reader any more and withdraws, on either path."""
    deck = Deck(tmp_path, env)
    collector = start_collector(deck) if path == "collector" else None
    try:
        hook = start_hook(deck, session("permission_request_bash"))
        async with await Store.open(deck.db) as store:
            [esc] = await open_escalations(store)
            assert hook.stdout is not None
            hook.stdout.close()  # what the CLI's death does to the pipe
            row = await withdrawn(store, esc.id)
            assert row.reason == CLI_GONE
            code = await asyncio.to_thread(hook.wait, 15)
            assert code == 2
            assert_refused(deck.db, env, esc.id)
    finally:
        if collector is not None:
            collector.send_signal(signal.SIGTERM)
            collector.wait(30)


async def test_a_killed_hook_is_noticed_by_the_next_hook(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deck = Deck(tmp_path, env)
    hook = start_hook(deck, session("permission_request_bash"))
    async with await Store.open(deck.db) as store:
        [esc] = await open_escalations(store)
        hook.kill()  # a SIGKILL runs no handler and no finally
        await asyncio.to_thread(hook.wait, 15)
        assert (await store.escalation(esc.id)).state == "open"
        status = start_hook(deck, session("notification_idle"))  # any later hook call
        await asyncio.to_thread(status.communicate, None, 30)
        row = await withdrawn(store, esc.id, timeout=1)
        assert f"swarmdeck hook claude-code, pid {hook.pid}" in (row.reason or "")
    assert_refused(deck.db, env, esc.id)


async def test_decide_refuses_an_escalation_whose_waiter_was_killed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deck = Deck(tmp_path, env)
    hook = start_hook(deck, session("permission_request_bash"))
    async with await Store.open(deck.db) as store:
        [esc] = await open_escalations(store)
    hook.kill()
    await asyncio.to_thread(hook.wait, 15)
    assert_refused(deck.db, env, esc.id)  # decide sweeps before it records anything


async def test_the_collector_notices_a_killed_hook(tmp_path: Path, env: dict[str, str]) -> None:
    """A hook on the store path (its settings differ from the collector's, so the collector
    declines the hand-off), killed: the running collector's sweep withdraws it in seconds."""
    deck = Deck(tmp_path, env)
    collector = start_collector(deck)
    try:
        own = {**env, "SWARMDECK_HOOKS__TIMEOUT": "300"}
        hook = start_hook(deck, session("permission_request_bash"), own)
        async with await Store.open(deck.db) as store:
            [esc] = await open_escalations(store)
            assert esc.origin == "claude-code-hook"
            hook.kill()
            await asyncio.to_thread(hook.wait, 15)
            row = await withdrawn(store, esc.id, timeout=20)
            assert f"pid {hook.pid}" in (row.reason or "")
    finally:
        collector.send_signal(signal.SIGTERM)
        collector.wait(30)


def test_stdout_that_is_a_file_is_never_gone(tmp_path: Path) -> None:
    """Only a pipe or socket without a reader counts: a hook whose output goes to a file
    (or a terminal) keeps waiting."""
    from swarmdeck.adapters.hooks.handoff import reader_gone

    with (tmp_path / "out").open("w") as fh:
        assert not reader_gone(fh.fileno())
    read, write = os.pipe()
    try:
        assert not reader_gone(write)
        os.close(read)
        read = -1
        assert reader_gone(write)
    finally:
        os.close(write)
        if read >= 0:
            os.close(read)
