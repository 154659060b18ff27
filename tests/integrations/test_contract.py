"""The shipped adapter contract (swarmdeck.testing) applied to http, claude-code, mcp.

``http`` runs against a fake agent platform in a subprocess (so its sockets never
count as the adapter's descriptors). ``claude-code`` and ``mcp`` serve on an
ephemeral 127.0.0.1 port; their stimulus is a real hook POST / MCP tool call.

``check_deliver`` assumes the adapter can deliver after its ``events()`` ended;
for the two serving adapters a decision reaches a *waiting* request or nobody
(the escalation is withdrawn when the waiter goes), so their delivery contract
is checked while the request waits: delivered once, and a second delivery of the
same decision is a harmless no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from swarmdeck.adapters.base import Adapter, DeliveryError
from swarmdeck.adapters.claude_code import ClaudeCodeAdapter
from swarmdeck.adapters.http import HttpAdapter
from swarmdeck.adapters.mcp_server import McpAdapter
from swarmdeck.store.db import Store
from swarmdeck.store.models import Decision, Delivery
from swarmdeck.testing import (
    AdapterCase,
    Driven,
    apply,
    build,
    check_cancel,
    check_capabilities,
    check_deliver,
    check_delivery_errors,
    check_events,
    check_metadata,
    check_options,
    check_restart,
)
from tests.helpers.hooks import payload
from tests.helpers.listeners import AUTH, mcp_http
from tests.helpers.waiting import eventually, open_escalations

TEAM: dict[str, str] = {}


@pytest.fixture(autouse=True)
def team_server() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("team_server.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        TEAM["url"] = f"http://127.0.0.1:{port}"
        yield TEAM["url"]
    finally:
        proc.terminate()
        proc.wait(10)


def _applied(tmp: Path, adapter: Adapter) -> int:
    with urllib.request.urlopen(f"{TEAM['url']}/applied", timeout=5) as response:
        return int(json.loads(response.read())["applied"])


async def _port(adapter: Adapter) -> int:
    async def probe() -> int | None:
        port: int | None = getattr(adapter, "port", None)
        return port

    found: int = await eventually(probe, timeout=10)
    return found


async def _post_hook(tmp: Path, adapter: Adapter) -> None:
    port = await _port(adapter)
    async with httpx.AsyncClient(timeout=60, headers=AUTH) as http:
        await http.post(
            f"http://127.0.0.1:{port}/hooks/claude-code", json=payload("permission_request_bash")
        )


async def _call_mcp(tmp: Path, adapter: Adapter) -> None:
    port = await _port(adapter)
    # The contract closes the adapter (and its endpoint) under the waiting call: the
    # client's connection then fails, which is the expected end of this stimulus.
    with contextlib.suppress(httpx.HTTPError, ExceptionGroup):
        async with mcp_http(f"http://127.0.0.1:{port}/mcp") as client:
            await client.call_tool("request_approval", {"summary": "contract", "agent": "c"})


CASES = [
    AdapterCase(
        id="http",
        adapter=HttpAdapter,
        options=lambda tmp: {"url": f"{TEAM['url']}/events", "poll_interval": 0.05},
        delivered_count=_applied,
    ),
    AdapterCase(
        id="claude-code", adapter=ClaudeCodeAdapter, options=lambda tmp: {"port": 0},
        stimulate=_post_hook,
    ),
    AdapterCase(
        id="mcp", adapter=McpAdapter, options=lambda tmp: {"port": 0}, stimulate=_call_mcp
    ),
]  # fmt: skip


@pytest.fixture(params=CASES, ids=[c.id for c in CASES])
def case(request: pytest.FixtureRequest) -> AdapterCase:
    return request.param  # type: ignore[no-any-return]


def test_options_are_strict_and_documented(case: AdapterCase, tmp_path: Path) -> None:
    check_options(case, tmp_path)


def test_metadata_and_entry_point(case: AdapterCase) -> None:
    check_metadata(case)


def test_capability_flags_match_methods(case: AdapterCase) -> None:
    check_capabilities(case)


async def test_events_are_valid_and_stored(case: AdapterCase, tmp_path: Path) -> None:
    await check_events(case, tmp_path)


async def test_failed_delivery_raises_delivery_error(case: AdapterCase, tmp_path: Path) -> None:
    await check_delivery_errors(case, tmp_path)


async def test_cancel_is_clean(case: AdapterCase, tmp_path: Path) -> None:
    await check_cancel(case, tmp_path)


async def test_http_restart_resumes_from_its_cursor(tmp_path: Path) -> None:
    await check_restart(CASES[0], tmp_path)


async def test_http_deliver_is_idempotent(tmp_path: Path) -> None:
    await check_deliver(CASES[0], tmp_path)


@pytest.mark.parametrize("case", CASES[1:], ids=[c.id for c in CASES[1:]])
async def test_serving_adapters_deliver_once_to_the_waiter(
    case: AdapterCase, tmp_path: Path, store: Store
) -> None:
    adapter, _ = build(case.adapter, case.options(tmp_path), store, f"{case.id}-contract")
    driven = Driven()

    async def pump() -> None:
        async for item in adapter.events():
            await apply(store, adapter.name, item, driven)

    runner = asyncio.create_task(pump())
    assert case.stimulate is not None
    waiter = asyncio.ensure_future(case.stimulate(tmp_path, adapter))  # type: ignore[arg-type]
    try:
        [esc] = await open_escalations(store)
        await store.decide(esc.id, "approve", actor="contract@test")
        [due] = await store.due_deliveries(adapters=[adapter.name])
        await adapter.deliver(due)
        await adapter.deliver(due)  # a re-delivery of the same decision is harmless
        await asyncio.wait_for(waiter, 10)  # the waiting request got its answer
    finally:
        runner.cancel()
        waiter.cancel()
        for task in (runner, waiter):
            with contextlib.suppress(BaseException):
                await task
    # A decision for an escalation nobody waits for any more is refused, not lost silently.
    gone = Decision(due.decision.id + 1, "gone", "approve", None, None, None, "x", 0.0)
    stale = Delivery(due.outbox_id, due.adapter, 1, gone, due.escalation)
    with pytest.raises(DeliveryError) as info:
        await adapter.deliver(stale)
    assert info.value.retryable is False
