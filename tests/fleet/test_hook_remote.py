"""``swarmdeck hook claude-code --server URL`` fails closed: down, 500, slow, wrong token.

The in-process tests drive :func:`forward` against real ASGI apps (through
``httpx.ASGITransport``, with the real listener guard where a token is checked) and
against transports that fail the way networks do; the last ones run the real
command against a real collector endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from swarmdeck.adapters.claude_code import ClaudeCodeAdapter, ClaudeCodeOptions
from swarmdeck.adapters.hooks.claude_code import PROTOCOL
from swarmdeck.adapters.hooks.core import HookConfig, HookContext
from swarmdeck.adapters.hooks.remote import Remote, forward, shape_problem
from swarmdeck.adapters.listener_guard import GuardPolicy, ListenerGuard, listener_hosts
from swarmdeck.adapters.supervisor import Instance, Supervisor
from swarmdeck.store.db import Store
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import eventually, open_escalations

TOKEN = "t0ken-for-the-hook-tests-0123456789"
ALLOW = {
    "hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {"behavior": "allow"}}
}


def deny_reason(body: Any) -> str:
    """The reason of a PermissionRequest deny (fails the test for anything else)."""
    decision = body["hookSpecificOutput"]["decision"]
    assert decision["behavior"] == "deny", body
    reason: str = decision["message"]
    return reason


def app_answering(status: int, body: Any, seen: list[bytes] | None = None) -> Any:
    async def hook(request: Request) -> Response:
        if seen is not None:
            seen.append(await request.body())
        return JSONResponse(body, status_code=status)

    return Starlette(routes=[Route("/hooks/claude-code", hook, methods=["POST"])])


async def ask(
    transport: httpx.AsyncBaseTransport,
    *servers: str,
    fixture: str = "permission_request_bash",
    token: str | None = TOKEN,
    timeout: float = 5.0,
    grace: float = 1.0,
) -> tuple[Any, str]:
    raw = json.dumps(payload(fixture)).encode()
    urls = servers or ("http://deck-a:7342/hooks/claude-code",)
    answer = await forward(
        raw,
        PROTOCOL.read(raw, HookConfig(), HookContext(call_id="remote-test")),
        Remote(urls, token, timeout, grace),
        HookConfig(default="allow"),  # even so: a failure is a deny
        transport=transport,
    )
    assert answer.exit_code == 0
    return answer.body, answer.stderr


class Routed(httpx.AsyncBaseTransport):
    """One transport per host name: ASGI apps, or failures of the network itself."""

    def __init__(self, **hosts: httpx.AsyncBaseTransport | type[Exception]) -> None:
        self.hosts = hosts
        self.asked: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host.replace("-", "_")
        self.asked.append(request.url.host)
        target = self.hosts[host]
        if isinstance(target, type):
            raise target("simulated", request=request)  # type: ignore[call-arg]
        return await target.handle_async_request(request)


def asgi(app: Any) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


async def test_no_server_reachable_is_a_deny_naming_each() -> None:
    transport = Routed(deck_a=httpx.ConnectError, deck_b=httpx.ConnectTimeout)
    body, stderr = await ask(
        transport, "http://deck-a:7342/hooks/claude-code", "http://deck-b:7342/hooks/claude-code"
    )
    reason = deny_reason(body)
    assert "no collector reachable" in reason
    assert "deck-a:7342" in reason and "deck-b:7342" in reason
    assert "answered deny" in stderr


async def test_the_next_server_is_tried_only_when_the_first_was_not_reached() -> None:
    seen: list[bytes] = []
    transport = Routed(deck_a=httpx.ConnectError, deck_b=asgi(app_answering(200, ALLOW, seen)))
    body, _ = await ask(
        transport, "http://deck-a:7342/hooks/claude-code", "http://deck-b:7342/hooks/claude-code"
    )
    assert body == ALLOW  # a manager's approval, passed through
    assert json.loads(seen[0]) == payload("permission_request_bash")  # the payload, unchanged

    proxy_down = Routed(
        deck_a=asgi(app_answering(503, {"error": "upstream down"})),
        deck_b=asgi(app_answering(200, ALLOW)),
    )
    body, _ = await ask(
        proxy_down, "http://deck-a:7342/hooks/claude-code", "http://deck-b:7342/hooks/claude-code"
    )
    assert body == ALLOW


async def test_an_error_answer_is_a_deny_and_no_other_server_is_asked() -> None:
    second: list[bytes] = []
    transport = Routed(
        deck_a=asgi(app_answering(500, {"error": "internal error (KeyError)"})),
        deck_b=asgi(app_answering(200, ALLOW, second)),
    )
    body, _ = await ask(
        transport, "http://deck-a:7342/hooks/claude-code", "http://deck-b:7342/hooks/claude-code"
    )
    reason = deny_reason(body)
    assert "HTTP 500" in reason and "internal error (KeyError)" in reason
    assert second == []  # deck-a may have raised the escalation: never ask twice


async def test_a_slow_server_is_a_deny() -> None:
    async def slow(request: Request) -> Response:
        await asyncio.sleep(30)
        return JSONResponse(ALLOW)

    async with serving(Starlette(routes=[Route("/hooks/claude-code", slow, methods=["POST"])])) as (
        url
    ):
        loop = asyncio.get_running_loop()
        start = loop.time()
        body, _ = await ask(httpx.AsyncHTTPTransport(), url, timeout=0.3, grace=0.2)
        assert loop.time() - start < 5
    assert "gave no answer within 0.5s" in deny_reason(body)


async def test_a_wrong_token_or_none_is_a_deny() -> None:
    guard = ListenerGuard(
        app_answering(200, ALLOW),
        GuardPolicy(hosts=frozenset({"deck-a:7342"}), token=lambda: TOKEN),
    )
    transport = Routed(deck_a=asgi(guard))
    good, _ = await ask(transport)
    assert good == ALLOW
    wrong, _ = await ask(transport, token="not-the-token-0123456789")
    assert "HTTP 401" in deny_reason(wrong) and "bearer token" in deny_reason(wrong)
    none, _ = await ask(transport, token=None)
    assert "HTTP 401" in deny_reason(none)


async def test_answers_that_are_not_for_this_call_are_a_deny() -> None:
    pretool_allow = {
        "hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow"}
    }
    for bad, why in [
        (pretool_allow, "another event"),
        ([ALLOW], "not an object"),
        ({"decision": "approve"}, "wrong shape"),
        ({"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": {}}}, "allow"),
    ]:
        body, _ = await ask(Routed(deck_a=asgi(app_answering(200, bad))))
        assert why in deny_reason(body)
    text = Routed(deck_a=asgi(Starlette(routes=[Route(
        "/hooks/claude-code", lambda r: Response("ok"), methods=["POST"])])))  # fmt: skip
    body, _ = await ask(text)
    assert "not JSON" in deny_reason(body)


async def test_reporting_hooks_answer_nothing_when_the_server_is_down() -> None:
    down = Routed(deck_a=httpx.ConnectError)
    for fixture in ("notification_idle", "stop", "pretooluse_read"):
        body, stderr = await ask(down, fixture=fixture)
        assert body is None  # the call goes on as it would without swarmdeck
        assert "no collector reachable" in stderr
    body, _ = await ask(down, fixture="pretooluse_write")  # a gated tool: denied
    assert body["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_shape_problem_accepts_what_the_endpoint_sends() -> None:
    assert shape_problem("PermissionRequest", ALLOW) is None
    assert shape_problem("Stop", {"decision": "block", "reason": "go on"}) is None
    assert shape_problem("Notification", {}) is None


# ----------------------------------------------------------------------------- real processes


@contextlib.asynccontextmanager
async def serving(app: Any, port: int = 0) -> AsyncIterator[str]:
    from swarmdeck.adapters._http_common import EmbeddedServer

    server = EmbeddedServer(app, "127.0.0.1", port)
    port = await server.start()
    try:
        yield f"http://127.0.0.1:{port}/hooks/claude-code"
    finally:
        await server.stop()


async def run_hook(
    fixture: str, env: dict[str, str], *servers: str, timeout: float = 20.0
) -> tuple[int, Any, str]:
    args = [a for url in servers for a in ("--server", url)]
    proc = await asyncio.create_subprocess_exec(
        str(SWARMDECK), "hook", "claude-code", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(
        proc.communicate(json.dumps(payload(fixture)).encode()), timeout
    )
    text = out.decode().strip()
    assert proc.returncode is not None
    return proc.returncode, json.loads(text) if text else None, err.decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
async def test_the_command_hands_the_call_to_a_collector_and_prints_its_decision(
    store: Store, env: dict[str, str], tmp_path: Path
) -> None:
    """The real command against the real endpoint: with the right token it gets the
    manager's decision; with a wrong or no token the endpoint refuses it, and the hook
    denies (never an allow, although the endpoint's default is allow) with nothing raised."""
    sup = Supervisor(
        store,
        [Instance("hooks", ClaudeCodeAdapter, ClaudeCodeOptions(port=0, default="allow"))],
        delivery_interval=0.05,
        batch_window=0.02,
        listener_token=lambda: TOKEN,
    )
    task = asyncio.create_task(sup.run())
    try:

        async def port() -> int | None:
            adapter: Any = sup.adapters.get("hooks")
            return adapter.port if adapter is not None else None

        url = f"http://127.0.0.1:{await eventually(port)}/hooks/claude-code"
        # The agent's host has no database at all: nothing is created there.
        env = {**env, "XDG_DATA_HOME": str(tmp_path / "agent-host")}
        for token in ("someone-elses-token-0123456789", None):
            wrong = {**env, "SWARMDECK_TOKEN": token} if token else env
            code, body, _ = await run_hook("permission_request_bash", wrong, url)
            assert code == 0
            assert "missing or wrong bearer token" in deny_reason(body)
        assert not await store.escalations()  # refused before anything was raised
        env["SWARMDECK_TOKEN"] = TOKEN
        dead = f"http://127.0.0.1:{free_port()}/hooks/claude-code"
        hook = asyncio.create_task(run_hook("permission_request_bash", env, dead, url))
        [esc] = await eventually(lambda: open_escalations(store))
        assert esc.origin == "hooks"
        await store.decide(esc.id, "approve", actor="ana", host="host-c")
        code, body, _ = await hook
        assert (code, body) == (0, ALLOW)
        assert not (tmp_path / "agent-host").exists()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.slow
async def test_the_command_denies_when_no_collector_answers(env: dict[str, str]) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hooks/claude-code"
    code, body, stderr = await run_hook("permission_request_bash", env, dead)
    assert code == 0
    assert "no collector reachable" in deny_reason(body)
    assert "127.0.0.1" in stderr
    config = Path(env["XDG_CONFIG_HOME"]) / "swarmdeck" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[hooks]\ndefault = "allow"\nservers = ["{dead}"]\n')
    code, body, _ = await run_hook("permission_request_bash", env)  # from the config
    assert code == 0 and "no collector reachable" in deny_reason(body)
    code, body, stderr = await run_hook("permission_request_bash", env, "ftp://x/y")
    assert "not an http(s) URL" in deny_reason(body)


@pytest.mark.slow
async def test_the_command_reads_the_token_file_when_the_environment_has_none(
    env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    guard = ListenerGuard(
        app_answering(200, ALLOW),
        GuardPolicy(hosts=listener_hosts("127.0.0.1", port), token=lambda: TOKEN),
    )
    token_file = Path(env["XDG_DATA_HOME"]) / "swarmdeck" / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    async with serving(guard, port) as url:
        code, body, _ = await run_hook("permission_request_bash", env, url)
        assert (code, body) == (0, ALLOW)
        token_file.write_text("someone-elses-token-0123456789\n")
        code, body, _ = await run_hook("permission_request_bash", env, url)
        assert code == 0 and "HTTP 401" in deny_reason(body)
