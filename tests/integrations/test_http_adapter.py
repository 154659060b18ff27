"""The ``http`` adapter against a real HTTP server on 127.0.0.1 (uvicorn + Starlette)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from swarmdeck.adapters._http_common import EmbeddedServer
from swarmdeck.adapters.base import AdapterContext, DeliveryError
from swarmdeck.adapters.http import HttpAdapter, HttpOptions
from swarmdeck.adapters.supervisor import Instance, Supervisor
from swarmdeck.store.db import Store
from swarmdeck.store.events import parse_event
from swarmdeck.store.models import Delivery
from tests.helpers.waiting import eventually

TOKEN = "s3cret-token-value"


@dataclass
class AgentTeam:
    """A team's agent platform: exposes events after a cursor, applies decisions once."""

    events: list[dict[str, Any]] = field(default_factory=list)
    polls: list[tuple[float, str | None]] = field(default_factory=list)
    fail_next: list[Response] = field(default_factory=list)
    decisions_seen: list[str] = field(default_factory=list)
    applied: dict[str, dict[str, Any]] = field(default_factory=dict)
    decision_status: int = 200

    def add(self, n: int, start: int = 0) -> None:
        for i in range(start, start + n):
            self.events.append(
                {
                    "id": f"e{i}",
                    "ts": "2026-11-23T10:00:00Z",
                    "kind": "agent.status",
                    "agent": f"bot-{i % 3}",
                    "data": {"state": "working", "activity": f"step {i}"},
                }
            )

    async def get_events(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        after = request.query_params.get("after")
        self.polls.append((time.monotonic(), after))
        if self.fail_next:
            return self.fail_next.pop(0)
        limit = int(request.query_params["limit"])
        start = int(after) if after is not None else 0
        page = self.events[start : start + limit]
        return JSONResponse({"events": page, "cursor": str(start + len(page))})

    async def post_decision(self, request: Request) -> Response:
        key = request.headers["idempotency-key"]
        self.decisions_seen.append(key)
        if self.decision_status != 200:
            return JSONResponse({"error": "nope"}, status_code=self.decision_status)
        self.applied.setdefault(key, await request.json())  # each key applied once
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/agent-events", self.get_events),
                Route("/api/decisions", self.post_decision, methods=["POST"]),
            ]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serving(team: AgentTeam, port: int = 0) -> AsyncIterator[int]:
    server = EmbeddedServer(team.app(), "127.0.0.1", port)
    bound = await server.start()
    try:
        yield bound
    finally:
        await server.stop()


def options(port: int, **extra: Any) -> HttpOptions:
    return HttpOptions(
        url=f"http://127.0.0.1:{port}/api/agent-events",
        token=SecretStr(TOKEN),
        poll_interval=0.05,
        page_size=4,
        backoff_initial=0.1,
        backoff_max=0.4,
        **extra,
    )


@contextlib.asynccontextmanager
async def supervised(store: Store, opts: HttpOptions) -> AsyncIterator[Supervisor]:
    sup = Supervisor(
        store, [Instance("team", HttpAdapter, opts)], delivery_interval=0.05, batch_window=0.02
    )
    task = asyncio.create_task(sup.run())
    try:
        yield sup
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def stored(store: Store) -> int:
    row = await store._fetchone("SELECT COUNT(*) FROM events WHERE source = 'team'")
    assert row is not None
    return int(row[0])


async def until_stored(store: Store, n: int) -> None:
    async def probe() -> bool:
        return await stored(store) >= n

    await eventually(probe)


async def test_cursor_survives_restart_without_loss_or_duplicates(store: Store) -> None:
    team = AgentTeam()
    team.add(10)
    team.events.insert(3, {"id": "bad", "kind": "agent.status", "data": {"state": "dancing"}})
    async with serving(team) as port:
        async with supervised(store, options(port)):
            await until_stored(store, 10)

            async def saved() -> bool:
                return await store.get_state("team", "cursor") == "11"

            await eventually(saved)
        assert await stored(store) == 10
        [letter] = await store.dead_letters()
        assert letter.origin == "team"
        assert "events[3]" in letter.location
        assert "data.state" in letter.error

        team.add(5, start=10)
        polls_before = len(team.polls)
        async with supervised(store, options(port)):
            await until_stored(store, 15)
        assert team.polls[polls_before][1] == "11"  # resumed at the saved cursor
    assert await stored(store) == 15
    activities = {a.name: a.activity for a in await store.agents()}
    assert activities["bot-2"] == "step 14"
    assert len(await store.dead_letters()) == 1


async def test_endpoint_down_then_up(store: Store) -> None:
    port = free_port()
    team = AgentTeam()
    team.add(3)
    async with supervised(store, options(port)):

        async def degraded() -> str | None:
            health = {h.name: h for h in await store.adapter_health()}
            h = health.get("team")
            return h.detail if h is not None and h.state == "degraded" else None

        detail = await eventually(degraded)
        assert detail.startswith(f"connection refused to http://127.0.0.1:{port} (retrying in ")
        async with serving(team, port):
            await until_stored(store, 3)

            async def running() -> bool:
                health = {h.name: h for h in await store.adapter_health()}
                return health["team"].state == "running"

            await eventually(running)
    [h] = await store.adapter_health()
    assert TOKEN not in h.detail
    assert TOKEN not in (h.last_error or "")


async def test_429_retry_after_is_honoured(store: Store) -> None:
    team = AgentTeam()
    team.add(2)
    team.fail_next.append(
        JSONResponse({"error": "slow down"}, status_code=429, headers={"Retry-After": "1"})
    )
    async with serving(team) as port, supervised(store, options(port)):
        await until_stored(store, 2)
    first, second = team.polls[0][0], team.polls[1][0]
    assert second - first >= 0.95  # waited as asked, not the 0.1s backoff
    health_log = await store.adapter_health()
    assert health_log[0].state in ("running", "stopped")


@pytest.mark.parametrize(
    ("page", "limit", "said"),
    [
        (b'{"events": [' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b'], "cursor": "d"}',
         64 * 1024, "answered something that is not JSON"),
        (b'{"events": [], "cursor": "' + b"x" * 4096 + b'"}', 1024,
         "answered more than 1024 bytes"),
    ],
    ids=["nested 3,000 deep", "bigger than max_response_bytes"],
)  # fmt: skip
async def test_a_page_it_cannot_hold_is_an_error_on_that_poll(
    store: Store, caplog: pytest.LogCaptureFixture, page: bytes, limit: int, said: str
) -> None:
    # A deep page crashed the adapter with RecursionError on every restart (it read the same
    # page again), and a huge one was held in memory whole: now each is one poll's error.
    team = AgentTeam()
    team.add(2)
    team.fail_next.append(Response(page, media_type="application/json"))
    caplog.set_level(logging.WARNING, logger="swarmdeck.adapter.team")
    async with (
        serving(team) as port,
        supervised(store, options(port, max_response_bytes=limit)) as sup,
    ):
        await until_stored(store, 2)  # the next poll is read
        assert sup.restarts["team"] == 0
    assert said in caplog.text


async def test_decision_applied_exactly_once(store: Store) -> None:
    team = AgentTeam()
    team.events.append(
        {
            "id": "esc-1",
            "ts": "2026-11-23T10:00:00Z",
            "kind": "escalation.raised",
            "agent": "deployer",
            "task": "T-1",
            "data": {"id": "E-1", "kind": "approval", "title": "ship v2?", "severity": "high"},
        }
    )
    async with serving(team) as port, supervised(store, options(port)) as sup:

        async def raised() -> bool:
            return bool(await store.escalations(state="open"))

        await eventually(raised)
        decision = await store.decide("E-1", "reject", actor="ana", reason="freeze")

        async def delivered() -> bool:
            return (await store.escalation("E-1")).delivery == "delivered"

        await eventually(delivered)
        # A crash between delivery and acknowledgement: the same delivery again.
        adapter: Any = sup.adapters["team"]
        [row] = await store._fetchall("SELECT id FROM outbox WHERE decision = ?", (decision.id,))
        again = Delivery(row[0], "team", 1, decision, await store.escalation("E-1"))
        await adapter.deliver(again)
    key = f"swarmdeck-{decision.id}"
    assert team.decisions_seen == [key, key]
    assert list(team.applied) == [key]
    body = team.applied[key]
    assert body["escalation"] == "E-1"
    assert (body["action"], body["reason"], body["actor"]) == ("reject", "freeze", "ana")
    assert (body["agent"], body["task"]) == ("deployer", "T-1")


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (404, False), (429, True), (503, True)]
)
async def test_delivery_errors_classified(store: Store, status: int, retryable: bool) -> None:
    team = AgentTeam(decision_status=status)
    team.events.append(
        {
            "id": "esc-1",
            "ts": "2026-11-23T10:00:00Z",
            "kind": "escalation.raised",
            "data": {"id": "E-1", "kind": "approval", "title": "ok?"},
        }
    )

    async def health(state: str, detail: str) -> None:
        return None

    async with serving(team) as port:
        adapter = HttpAdapter(options(port), AdapterContext("team", store, health))
        await store.append([parse_event({**team.events[0], "source": "team"})], origin="team")
        decision = await store.decide("E-1", "approve", actor="ana")
        [delivery] = await store.due_deliveries(adapters=["team"])
        with pytest.raises(DeliveryError) as info:
            await adapter.deliver(delivery)
        await adapter.client().aclose()
    assert info.value.retryable is retryable
    assert f"HTTP {status}" in str(info.value)
    assert decision.id == delivery.decision.id


def test_options_hide_the_token_and_derive_decisions_url() -> None:
    opts = options(9000)
    assert TOKEN not in repr(opts)
    assert TOKEN not in str(opts.model_dump())
    assert opts.effective_decisions_url() == "http://127.0.0.1:9000/api/decisions"
    with pytest.raises(ValueError, match="not an http"):
        HttpOptions(url="ftp://example.com/events")
