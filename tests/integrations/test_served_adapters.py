"""The collector-side adapters (MCP over streamable HTTP, Claude Code HTTP hooks),
run by the real supervisor on 127.0.0.1, decided through the real store."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from swarmdeck.adapters._http_common import BindRefused
from swarmdeck.adapters.base import AdapterContext
from swarmdeck.adapters.claude_code import ClaudeCodeAdapter, ClaudeCodeOptions
from swarmdeck.adapters.mcp_server import McpAdapter, McpOptions
from swarmdeck.adapters.supervisor import Instance
from swarmdeck.store.db import Store
from tests.helpers.hooks import payload
from tests.helpers.listeners import AUTH, mcp_http, port_of, supervised
from tests.helpers.waiting import eventually, open_escalations


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


async def test_mcp_streamable_http_out_of_order_and_timeout(store: Store) -> None:
    opts = McpOptions(port=0, timeout=30, progress_every=0.2)
    async with supervised(store, Instance("mcp-http", McpAdapter, opts)) as sup:
        port = await port_of(sup, "mcp-http")
        async with mcp_http(f"http://127.0.0.1:{port}/mcp") as client:
            calls = [
                asyncio.create_task(
                    client.call_tool("request_approval", {"summary": s, "agent": "planner"})
                )
                for s in ("step 1", "step 2", "step 3")
            ]
            by_title = {e.title: e for e in await open_escalations(store, 3)}
            assert {e.origin for e in by_title.values()} == {"mcp-http"}
            await store.decide(by_title["step 3"].id, "retry", actor="ana", reason="smaller")
            await store.decide(
                by_title["step 2"].id, "reroute", actor="ana", reason="ops", target="ops-bot"
            )
            await store.decide(by_title["step 1"].id, "reject", actor="ana", reason="not now")
            one, two, three = [structured(await c) for c in calls]
            late = structured(
                await client.call_tool(
                    "request_approval", {"summary": "never decided", "timeout_seconds": 0.5}
                )
            )

        async def late_withdrawn() -> bool:
            return (await store.escalation(late["escalation"])).state == "withdrawn"

        await eventually(late_withdrawn)
        health = {h.name: h for h in await store.adapter_health()}
        assert health["mcp-http"].state == "running"
        assert f"127.0.0.1:{port}/mcp" in health["mcp-http"].detail
    assert (one["decision"], one["reason"]) == ("reject", "not now")
    assert (two["decision"], two["reroute_to"]) == ("reroute", "ops-bot")
    assert (three["decision"], three["reason"]) == ("retry", "smaller")
    assert late["decision"] == "timeout"
    for esc in by_title.values():
        assert (await store.escalation(esc.id)).delivery == "delivered"
    withdrawn = await store.escalation(late["escalation"])
    assert withdrawn.reason == "timed out after 0.5s; answered timeout"


async def test_claude_code_http_hook_round_trip(store: Store) -> None:
    opts = ClaudeCodeOptions(port=0, timeout=30)
    async with supervised(store, Instance("claude", ClaudeCodeAdapter, opts)) as sup:
        port = await port_of(sup, "claude")
        url = f"http://127.0.0.1:{port}/hooks/claude-code"
        async with httpx.AsyncClient(timeout=30, headers=AUTH) as http:
            pending = asyncio.create_task(http.post(url, json=payload("permission_request_bash")))
            [esc] = await open_escalations(store)
            assert (esc.origin, esc.agent) == ("claude", "claude:shop-api")
            await store.decide(esc.id, "approve", actor="ana")
            response = await pending
            assert response.status_code == 200
            assert response.json() == {
                "hookSpecificOutput": {
                    "hookEventName": "PermissionRequest",
                    "decision": {"behavior": "allow"},
                }
            }

            status = await http.post(url, json=payload("notification_idle"))
            assert (status.status_code, status.json()) == (200, {})

            bad = await http.post(
                url,
                content=b'{"hook_event_name": "PreToolUse", "tool_name": "Bash"}',
                headers={"Content-Type": "application/json"},
            )
            assert bad.status_code == 200
            out = bad.json()["hookSpecificOutput"]
            assert out["permissionDecision"] == "deny"
            assert "session_id" in out["permissionDecisionReason"]

        async def dead_lettered() -> bool:
            return bool(await store.dead_letters())

        await eventually(dead_lettered)

        async def idle() -> bool:
            return (await store.agent("claude:shop-api")).state == "idle"

        await eventually(idle)
    assert (await store.escalation(esc.id)).delivery == "delivered"
    [letter] = await store.dead_letters()
    assert letter.origin == "claude"


async def test_claude_code_http_timeout_answers_default(store: Store) -> None:
    opts = ClaudeCodeOptions(port=0, timeout=0.5)
    async with supervised(store, Instance("claude", ClaudeCodeAdapter, opts)) as sup:
        port = await port_of(sup, "claude")
        async with httpx.AsyncClient(timeout=30, headers=AUTH) as http:
            response = await http.post(
                f"http://127.0.0.1:{port}/hooks/claude-code", json=payload("pretooluse_write")
            )
        assert response.status_code == 200
        out = response.json()["hookSpecificOutput"]
        assert out["permissionDecision"] == "deny"
        assert "timed out after 0.5s; answered deny" in out["permissionDecisionReason"]

        async def withdrawn() -> bool:
            return [e.state for e in await store.escalations()] == ["withdrawn"]

        await eventually(withdrawn)


@pytest.mark.parametrize("cls", [ClaudeCodeAdapter, McpAdapter])
async def test_refuses_non_loopback_without_allow_remote(store: Store, cls: Any) -> None:
    async def health(state: str, detail: str) -> None:
        return None

    options = cls.parse_options({"host": "0.0.0.0", "port": 0})
    adapter = cls(options, AdapterContext("x", store, health, log=logging.getLogger("t")))
    with pytest.raises(BindRefused, match="allow_remote"):
        await adapter.events().__anext__()
    assert json.dumps(cls.parse_options({"host": "::1"}).model_dump())  # loopback v6 is fine
