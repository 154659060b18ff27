"""The MCP approval server with the real ``mcp`` SDK client: in memory and over stdio."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import Implementation

from swarmdeck.adapters.bridge import StoreBridge
from swarmdeck.adapters.mcp_tools import CLIENT_GONE_REASON, build_server
from swarmdeck.store.db import SqliteStore
from tests.helpers.hooks import SWARMDECK
from tests.helpers.waiting import eventually, open_escalations


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    data: dict[str, Any] = result.structured_content
    return data


def client_for(server: Any) -> Client:
    return Client(server, client_info=Implementation(name="release-bot", version="1.0"))


async def test_in_memory_approve_reject_reroute_out_of_order(store: SqliteStore) -> None:
    server = build_server(StoreBridge(store, origin="mcp-test", poll=0.05), timeout=30)
    async with client_for(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"request_approval", "report_status"} <= set(tools)
        assert tools["request_approval"].output_schema is not None

        calls = {
            name: asyncio.create_task(
                client.call_tool(
                    "request_approval",
                    {"summary": f"deploy {name}", "details": "to prod", "severity": "high"},
                )
            )
            for name in ("a", "b", "c")
        }
        escalations = await open_escalations(store, 3)
        by_title = {e.title: e for e in escalations}
        assert by_title["deploy a"].agent == "mcp:release-bot"  # the client's own name
        assert by_title["deploy a"].severity == "high"
        # Decide in the reverse order of asking.
        await store.decide(
            by_title["deploy c"].id, "reroute", actor="ana", reason="ops", target="ops-bot"
        )
        await store.decide(by_title["deploy b"].id, "reject", actor="ana", reason="freeze week")
        await store.decide(by_title["deploy a"].id, "approve", actor="ana")

        a, b, c = [structured(await calls[n]) for n in ("a", "b", "c")]
    assert (a["decision"], a["decided_by"]) == ("approve", "ana")
    assert (b["decision"], b["reason"]) == ("reject", "freeze week")
    assert (c["decision"], c["reroute_to"], c["reason"]) == ("reroute", "ops-bot", "ops")
    assert a["escalation"] == by_title["deploy a"].id
    for esc in escalations:
        assert (await store.escalation(esc.id)).delivery == "delivered"
    agent = await store.agent("mcp:release-bot")
    assert agent.role == "mcp"


async def test_in_memory_timeout_withdraws_and_reports_progress(store: SqliteStore) -> None:
    server = build_server(
        StoreBridge(store, origin="mcp-test", poll=0.05), timeout=30, progress_every=0.2
    )
    progress: list[tuple[float, float | None, str | None]] = []

    seen = progress

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with client_for(server) as client:
        result = await client.call_tool(
            "request_approval",
            {"summary": "drop table users", "timeout_seconds": 0.7},
            progress_callback=on_progress,
        )
    data = structured(result)
    assert data["decision"] == "timeout"
    assert data["reason"] == "timed out after 0.7s; answered timeout"
    [esc] = await store.escalations()
    assert esc.state == "withdrawn"
    assert progress, "no progress notification while waiting"
    assert progress[0][1] == 0.7
    assert "waiting for a manager's decision" in (progress[0][2] or "")


async def test_report_status_makes_the_agent_appear(store: SqliteStore) -> None:
    server = build_server(StoreBridge(store, origin="mcp-test"), timeout=5)
    async with client_for(server) as client:
        result = await client.call_tool(
            "report_status", {"state": "working", "activity": "indexing docs", "task": "T-9"}
        )
        assert structured(result)["agent"] == "mcp:release-bot"
        await client.call_tool(
            "report_status", {"state": "blocked", "activity": "need creds", "agent": "indexer"}
        )
        bad = await client.call_tool("report_status", {"state": "sleeping"})
        assert bad.is_error
    agent = await store.agent("mcp:release-bot")
    assert (agent.state, agent.activity, agent.task) == ("working", "indexing docs", "T-9")
    assert (await store.agent("indexer")).state == "blocked"


@pytest.mark.slow
async def test_stdio_subprocess_approve_and_answer(
    tmp_path: Path, store: SqliteStore, env: dict[str, str]
) -> None:
    params = StdioServerParameters(
        command=str(SWARMDECK), args=["--db", str(store.path), "mcp"], env=env
    )
    async with Client(params, client_info=Implementation(name="coder", version="0")) as client:
        first = asyncio.create_task(
            client.call_tool("request_approval", {"summary": "push to main", "agent": "coder-7"})
        )
        second = asyncio.create_task(
            client.call_tool("request_approval", {"summary": "which region?"})
        )
        escalations = {e.title: e for e in await open_escalations(store, 2)}
        assert escalations["push to main"].origin == "mcp-stdio"
        assert escalations["which region?"].agent == "mcp:coder"
        await store.decide(
            escalations["which region?"].id, "answer", actor="ana", answer="eu-west-1"
        )
        await store.decide(escalations["push to main"].id, "approve", actor="ana")
        one, two = structured(await first), structured(await second)
    assert one["decision"] == "approve"
    assert (two["decision"], two["answer"]) == ("answer", "eu-west-1")
    assert (await store.agent("coder-7")).state == "working"


@pytest.mark.slow
async def test_stdio_timeout(tmp_path: Path, store: SqliteStore, env: dict[str, str]) -> None:
    params = StdioServerParameters(
        command=str(SWARMDECK), args=["--db", str(store.path), "mcp", "--timeout", "0.5"], env=env
    )
    async with Client(params) as client:
        data = structured(await client.call_tool("request_approval", {"summary": "rm -rf /"}))
    assert data["decision"] == "timeout"
    assert "timed out after 0.5s" in data["reason"]

    async def withdrawn() -> bool:
        return [e.state for e in await store.escalations()] == ["withdrawn"]

    assert await eventually(withdrawn)


async def test_store_unavailable_answers_unavailable(tmp_path: Path) -> None:
    from swarmdeck.adapters.bridge import LazyStoreBridge

    blocker = tmp_path / "file"
    blocker.write_text("x")
    bridge = LazyStoreBridge(blocker / "sub" / "db.sqlite", origin="mcp-test")
    server = build_server(bridge, timeout=5)
    async with Client(server) as client:
        data = structured(await client.call_tool("request_approval", {"summary": "x"}))
    assert data["decision"] == "unavailable"
    assert "store unavailable" in data["reason"]


async def test_cancelled_call_withdraws_its_escalation(store: SqliteStore) -> None:
    server = build_server(StoreBridge(store, origin="mcp-test", poll=0.05), timeout=30)
    async with client_for(server) as client:
        call = asyncio.create_task(client.call_tool("request_approval", {"summary": "wipe"}))
        [esc] = await open_escalations(store)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call

        async def withdrawn() -> bool:
            return (await store.escalation(esc.id)).state == "withdrawn"

        await eventually(withdrawn)
    assert (await store.escalation(esc.id)).reason == CLIENT_GONE_REASON
