"""Item 2: the HTTP hook endpoint must never fail open.

A ``tool_input`` nested 2,000 deep answered HTTP 500 (Claude Code lets the call through after
a failed hook); the endpoint's second parse of the body failed the same way; a collector
shutdown reset waiting requests instead of answering them; the HTTP example did not set
``onFailure: block``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from swarmdeck.adapters.claude_code import ClaudeCodeAdapter
from swarmdeck.store.db import Store
from tests.doors.conftest import AUTH, SWARMDECK, cli, instance, port_of, supervised
from tests.helpers.hooks import payload
from tests.helpers.listeners import TOKEN

PERMISSION = payload("permission_request_bash")


def nested(body: dict[str, Any], levels: int) -> bytes:
    """``body`` with a ``tool_input`` nested ``levels`` deep (json.dumps would recurse)."""
    head = json.dumps({k: v for k, v in body.items() if k != "tool_input"})
    inner = '{"a": ' * levels + "1" + "}" * levels
    return (head[:-1] + ', "tool_input": ' + inner + "}").encode()


def assert_denies(response: httpx.Response, event: str = "PermissionRequest") -> str:
    assert response.status_code == 200, response.text
    out = response.json()["hookSpecificOutput"]
    assert out["hookEventName"] == event
    if event == "PermissionRequest":
        assert out["decision"]["behavior"] == "deny"
        return str(out["decision"]["message"])
    assert out["permissionDecision"] == "deny"
    return str(out["permissionDecisionReason"])


async def test_a_2000_deep_tool_input_is_denied_with_200(store: Store) -> None:
    adapter = instance("claude", ClaudeCodeAdapter, port=0, timeout=30, default="allow")
    async with supervised(store, adapter) as sup:
        url = f"http://127.0.0.1:{await port_of(sup, 'claude')}/hooks/claude-code"
        async with httpx.AsyncClient(timeout=30, headers=AUTH) as http:
            for event, body in (
                ("PermissionRequest", PERMISSION),
                ("PreToolUse", payload("pretooluse_write")),
            ):
                response = await http.post(
                    url, content=nested(body, 2000), headers={"Content-Type": "application/json"}
                )
                # Denied although default = allow: unreadable is never a way around it.
                reason = assert_denies(response, event)
                assert "recursion" in reason or "nested" in reason
    assert not await store.escalations()  # nothing to approve was raised
    assert len(await store.dead_letters()) == 2


async def test_every_path_and_method_answers_200_deny(store: Store) -> None:
    async with supervised(store, instance("claude", ClaudeCodeAdapter, port=0)) as sup:
        base = f"http://127.0.0.1:{await port_of(sup, 'claude')}"
        async with httpx.AsyncClient(timeout=30, headers=AUTH) as http:
            wrong = await http.post(f"{base}/hooks/claude", json=PERMISSION)
            assert_denies(wrong)
            get = await http.get(f"{base}/hooks/claude-code")
            assert get.status_code == 200
            assert get.json()["decision"] == "block"


async def test_a_refused_request_with_a_big_body_still_reads_its_answer(store: Store) -> None:
    """A refusal sent before the body is read must not be lost to a connection reset
    (closing on unread data does that): any method, with or without the token."""
    big = json.dumps({**PERMISSION, "tool_input": {"command": "x" * 6_000_000}}).encode()
    async with supervised(store, instance("claude", ClaudeCodeAdapter, port=0)) as sup:
        url = f"http://127.0.0.1:{await port_of(sup, 'claude')}/hooks/claude-code"
        json_type = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(timeout=30) as http:
            for method, headers in (
                ("GET", {}),  # no token
                ("GET", json_type),
                ("POST", json_type),
                ("GET", {**AUTH, **json_type}),  # the wrong method, with a body
            ):
                for _ in range(10):
                    answer = await http.request(method, url, content=big, headers=headers)
                    assert answer.status_code == 200, (method, answer.text)
                    assert answer.json(), (method, headers)
    assert not await store.escalations()


def test_shutdown_answers_every_waiting_request(tmp_path: Path, clean_env: dict[str, str]) -> None:
    """About 100 requests wait for a decision, 20 more are on their way: SIGTERM of a real
    `swarmdeck serve` answers every one of them (the default, "the collector is stopping")."""
    port = _free_port()
    db = tmp_path / "db.sqlite"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[[adapters]]\nname = "claude"\ntype = "claude-code"\nport = {port}\ntimeout = 120\n'
    )
    env = {**clean_env, "SWARMDECK_TOKEN": TOKEN}
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(SWARMDECK), "serve", "--db", str(db), "--config", str(config)], env=env, stderr=log
    )
    try:
        answers = asyncio.run(_waiting_then_sigterm(proc, port, db, waiting=100, arriving=20))
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert len(answers) == 120
    failures = [a for a in answers if not isinstance(a, httpx.Response)]
    assert not failures, f"{len(failures)} not answered: {failures[:3]}"
    for response in answers:
        assert isinstance(response, httpx.Response)
        assert "the collector is stopping" in assert_denies(response)
    conn = sqlite3.connect(db)
    states = dict(conn.execute("SELECT state, COUNT(*) FROM escalations GROUP BY state"))
    conn.close()
    assert states.get("open", 0) == 0, states  # withdrawn, not left for the next start
    assert b"Traceback" not in (tmp_path / "serve.log").read_bytes()


async def _waiting_then_sigterm(
    proc: subprocess.Popen[bytes], port: int, db: Path, *, waiting: int, arriving: int
) -> list[httpx.Response | BaseException]:
    url = f"http://127.0.0.1:{port}/hooks/claude-code"
    limits = httpx.Limits(max_connections=waiting + arriving + 10)
    async with httpx.AsyncClient(timeout=60, headers=AUTH, limits=limits) as http:
        deadline = time.monotonic() + 20
        while True:
            try:
                await http.post(url, json=payload("notification_idle"))
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                await asyncio.sleep(0.05)

        def request(i: int) -> asyncio.Task[httpx.Response]:
            body = {**PERMISSION, "session_id": f"session-{i}"}
            return asyncio.create_task(http.post(url, json=body))

        tasks = [request(i) for i in range(waiting)]
        while _open_count(db) < waiting:
            assert time.monotonic() < deadline + 20, "the requests never all waited"
            await asyncio.sleep(0.05)
        tasks += [request(waiting + i) for i in range(arriving)]
        await asyncio.sleep(0.02)  # sent, not yet read or raised
        proc.send_signal(signal.SIGTERM)
        return list(await asyncio.gather(*tasks, return_exceptions=True))


def _open_count(db: Path) -> int:
    try:
        conn = sqlite3.connect(db, timeout=1)
        try:
            row = conn.execute("SELECT COUNT(*) FROM escalations WHERE state = 'open'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_install_http_hooks_fail_closed_and_send_the_token(
    tmp_path: Path, clean_env: dict[str, str]
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    proc = cli("install", "claude-code", "--project", project, "--http", env=clean_env)
    assert proc.returncode == 0, proc.stderr
    written = (project / ".claude" / "settings.json").read_text()
    hooks = json.loads(written)["hooks"]
    for event in ("PermissionRequest", "PreToolUse"):
        [handler] = hooks[event][-1]["hooks"]
        assert handler["type"] == "http"
        assert handler["onFailure"] == "block"
        assert handler["headers"] == {"Authorization": "Bearer ${SWARMDECK_TOKEN}"}
        assert handler["allowedEnvVars"] == ["SWARMDECK_TOKEN"]
    token = cli("token", "show", env=clean_env).stdout.decode().strip()
    assert token and token not in written  # the secret stays out of a committed file
    local = cli(
        "install", "claude-code", "--project", project, "--local", "--http", "--embed-token",
        env=clean_env,
    )  # fmt: skip
    assert local.returncode == 0, local.stderr
    local_file = project / ".claude" / "settings.local.json"
    assert token in local_file.read_text()
    assert os.stat(local_file).st_mode & 0o077 == 0
