"""Item 3: no web page may post to a listener.

The hook endpoint had no Host, Origin or Content-Type check and no authentication: a
cross-origin ``text/plain`` POST raised an approval under a chosen agent name, DNS rebinding
worked the same way, and a 200 MB POST took the collector from 87 to 610 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from swarmdeck.adapters._http_common import BindRefused
from swarmdeck.adapters.claude_code import ClaudeCodeAdapter
from swarmdeck.adapters.mcp_server import McpAdapter
from swarmdeck.adapters.supervisor import Supervisor
from swarmdeck.store.db import Store
from swarmdeck.testing.driving import make_context
from swarmdeck.tokens import TokenSource, load_or_create, rotate
from tests.doors.conftest import AUTH, instance, port_of, supervised
from tests.helpers.hooks import payload
from tests.helpers.listeners import TOKEN

EVIL = "http://evil.example"


async def test_a_cross_origin_text_plain_post_raises_nothing(store: Store) -> None:
    body = payload("permission_request_bash")
    body["cwd"] = "/home/victim/prod"
    async with supervised(store, instance("claude", ClaudeCodeAdapter, port=0)) as sup:
        port = await port_of(sup, "claude")
        url = f"http://127.0.0.1:{port}/hooks/claude-code"
        raw = json.dumps(body).encode()
        async with httpx.AsyncClient(timeout=10) as http:
            attempts = {
                "simple CORS POST": {"Content-Type": "text/plain", "Origin": EVIL},
                "no token": {"Content-Type": "application/json"},
                "wrong token": {"Content-Type": "application/json", "Authorization": "Bearer x"},
                "rebound Host": {
                    **AUTH, "Content-Type": "application/json", "Host": f"evil.example:{port}",
                },
                "cross-origin with token": {
                    **AUTH, "Content-Type": "application/json", "Origin": EVIL,
                },
                "text/plain with token": {**AUTH, "Content-Type": "text/plain"},
                "fetch metadata": {
                    **AUTH, "Content-Type": "application/json", "Sec-Fetch-Site": "cross-site",
                },
            }  # fmt: skip
            for what, headers in attempts.items():
                response = await http.post(url, content=raw, headers=headers)
                assert response.status_code == 200, what
                decision = response.json()["hookSpecificOutput"]["decision"]
                assert decision["behavior"] == "deny", what
                assert "refused" in decision["message"], what
            assert not await store.escalations()  # nothing was raised by any of them
            ok = await http.post(url, json=payload("notification_idle"), headers=AUTH)
            assert (ok.status_code, ok.json()) == (200, {})


async def test_a_200_mb_post_is_refused_while_it_arrives(store: Store) -> None:
    async with supervised(store, instance("claude", ClaudeCodeAdapter, port=0)) as sup:
        port = await port_of(sup, "claude")
        # Declared: refused on the header alone, before a byte of the body is read.
        declared = await _raw_post(port, content_length=200 * 1024 * 1024, send=0)
        assert declared.startswith(b"HTTP/1.1 200")
        # Chunked: counted as it arrives; the answer comes once the limit is passed.
        sent, answer = await _chunked_post(port, total=200 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"deny"' in answer or b"block" in answer
        assert sent < 64 * 1024 * 1024, f"the listener read {sent >> 20} MB before refusing"


async def _raw_post(port: int, *, content_length: int, send: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /hooks/claude-code HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    )
    writer.write(head.encode() + b"x" * send)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 10)
    writer.close()
    return answer


async def _chunked_post(port: int, *, total: int) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /hooks/claude-code HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    writer.write(head.encode())
    chunk = b"%x\r\n" % (1 << 20) + b"[" * (1 << 20) + b"\r\n"
    sent = 0
    answer = asyncio.ensure_future(reader.read(65536))
    try:
        while sent < total and not answer.done():
            writer.write(chunk)
            await writer.drain()
            sent += 1 << 20
            await asyncio.sleep(0)
    except (ConnectionError, OSError):
        pass  # the listener closed the connection once it had refused
    data = await asyncio.wait_for(answer, 10)
    writer.close()
    return sent, data


async def test_the_mcp_listener_refuses_with_statuses(store: Store) -> None:
    async with supervised(store, instance("mcp", McpAdapter, port=0)) as sup:
        port = await port_of(sup, "mcp")
        url = f"http://127.0.0.1:{port}/mcp"
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        json_type = {"Content-Type": "application/json", "Accept": "application/json"}
        async with httpx.AsyncClient(timeout=10) as http:
            cases = {
                401: {**json_type},
                403: {**json_type, **AUTH, "Origin": EVIL},
                421: {**json_type, **AUTH, "Host": "evil.example"},
                415: {**AUTH, "Content-Type": "text/plain"},
            }
            for status, headers in cases.items():
                response = await http.post(url, json=hello, headers=headers)
                assert response.status_code == status, (status, response.text)
                assert "error" in response.json()
            big = await http.post(url, content=b"[" * (5 << 20), headers={**json_type, **AUTH})
            assert big.status_code == 413


@pytest.mark.parametrize("cls", [ClaudeCodeAdapter, McpAdapter])
async def test_no_listener_beyond_loopback_without_a_token(store: Store, cls: Any) -> None:
    options = cls.parse_options(
        {"host": "0.0.0.0", "port": 0, "allow_remote": True, "require_token": False}
    )
    context, _ = make_context(store, "x")
    with pytest.raises(BindRefused, match="without a token"):
        await cls(options, context).events().__anext__()


async def test_a_rotated_token_applies_without_a_restart(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "token"
    first = load_or_create(path)
    source = TokenSource(path, env={})
    caplog.set_level(logging.DEBUG)
    sup2 = Supervisor(
        store,
        [instance("claude", ClaudeCodeAdapter, port=0)],
        listener_token=source,
        delivery_interval=0.05,
        batch_window=0.02,
    )
    task = asyncio.create_task(sup2.run())
    try:
        port = await port_of(sup2, "claude")
        url = f"http://127.0.0.1:{port}/hooks/claude-code"
        idle = payload("notification_idle")
        async with httpx.AsyncClient(timeout=10) as http:
            ok = await http.post(url, json=idle, headers={"Authorization": f"Bearer {first}"})
            assert ok.json() == {}
            rotate(path)
            second = path.read_text().strip()
            old = await http.post(url, json=idle, headers={"Authorization": f"Bearer {first}"})
            assert old.json()["decision"] == "block"
            new = await http.post(url, json=idle, headers={"Authorization": f"Bearer {second}"})
            assert new.json() == {}
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    health = " ".join(f"{h.detail} {h.last_error}" for h in await store.adapter_health())
    for secret in (first, second):
        assert secret not in caplog.text and secret not in health


async def test_a_wildcard_bind_names_the_hosts_it_answers_to(store: Store) -> None:
    options = ClaudeCodeAdapter.parse_options({"host": "0.0.0.0", "port": 0, "allow_remote": True})
    context, _ = make_context(store, "x")
    with pytest.raises(BindRefused, match="allowed_hosts"):
        await ClaudeCodeAdapter(options, context).events().__anext__()
