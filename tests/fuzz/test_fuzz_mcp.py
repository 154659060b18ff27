"""Door: the MCP tools, through the real ``mcp`` SDK client, over stdio and streamable HTTP.

``swarmdeck mcp`` runs as a real subprocess (one session for the whole test) and the
``mcp`` adapter inside a running collector; every example calls a tool with hostile
arguments. Each call answers within bounds: a structured result (never ``approve``: nobody
decides here) or a clean tool error; the next call, from a second client over HTTP, is
still answered.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client, StdioServerParameters

from swarmdeck.adapters.mcp_server import McpAdapter
from swarmdeck.adapters.supervisor import Instance
from tests.fuzz.conftest import FUZZ, Collector, LoopThread, Tally, spawn
from tests.fuzz.strategies import json_value, text
from tests.helpers.hooks import SWARMDECK
from tests.helpers.listeners import mcp_http

NO_APPROVAL = {"timeout", "withdrawn", "unavailable"}


@st.composite
def tool_call(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    legal = draw(st.booleans())  # half legal but odd (the item's cases), half ill-typed

    def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return value if legal else st.one_of(value, json_value())

    if draw(st.integers(0, 3)) == 0:
        args = {"state": draw(maybe(st.sampled_from(["working", "blocked", "done", "x"])))}
        for key in ("activity", "task", "agent"):
            if draw(st.booleans()):
                args[key] = draw(maybe(text()))
        return "report_status", args
    args = {}
    if not legal or draw(st.integers(0, 9)):
        args["summary"] = draw(maybe(text()))
    for key in ("details", "agent"):
        if draw(st.booleans()):
            args[key] = draw(maybe(text()))
    if draw(st.booleans()):
        args["severity"] = draw(maybe(st.sampled_from(["low", "critical", "CRITICAL", ""])))
    if draw(st.booleans()):
        args["options"] = draw(maybe(st.lists(text(), max_size=60)))
    args["timeout_seconds"] = draw(
        st.floats(0.05, 0.25) if legal else st.sampled_from([0, -1, 10**6, "1", 0.1])
    )
    if not legal and draw(st.integers(0, 3)) == 0:
        args[draw(text())] = draw(json_value())  # an argument nobody declared
    return "request_approval", args


class Session:
    """An MCP client session held open in the loop thread for the whole test."""

    def __init__(self, runner: LoopThread, opener: Any) -> None:
        self.runner = runner
        self._opener = opener
        self._ready: asyncio.Future[Any] = runner.run(_future())
        self._done: asyncio.Future[None] = runner.run(_future())
        self._holder = runner.run(spawn(self._hold()))
        self.client = runner.run(_wait(self._ready), timeout=60)

    async def _hold(self) -> None:
        async with self._opener() as client:
            self._ready.set_result(client)
            await self._done

    def call(self, name: str, args: dict[str, Any]) -> Any:
        return self.runner.run(asyncio.wait_for(self.client.call_tool(name, args), 20), 30)

    def close(self) -> None:
        self.runner.loop.call_soon_threadsafe(self._done.set_result, None)
        with contextlib.suppress(Exception):
            self.runner.run(_wait(self._holder), timeout=20)


async def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


async def _wait(awaitable: Any) -> Any:
    return await awaitable


def judged(result: Any, name: str) -> str:
    """The outcome of one call; asserts it was a clean one."""
    if result.is_error:
        text_out = " ".join(getattr(c, "text", "") for c in result.content)
        assert text_out and "Traceback" not in text_out, result.content
        return "refused cleanly"
    data = result.structured_content
    if name == "request_approval":
        assert data["decision"] in NO_APPROVAL, data  # nobody decided: never an approve
    else:
        assert data["agent"] and "\x1b" not in data["agent"]
    return "accepted"


@pytest.fixture
def stdio_session(tmp_path: Path, loop_thread: LoopThread) -> Iterator[Session]:
    params = StdioServerParameters(
        command=str(SWARMDECK), args=["mcp", "--db", str(tmp_path / "mcp.db"), "--timeout", "0.3"]
    )
    session = Session(loop_thread, lambda: Client(params))
    yield session
    session.close()


@FUZZ
@given(call=tool_call())
def test_mcp_over_stdio_answers_everything_cleanly(
    stdio_session: Session, tally: Tally, call: tuple[str, dict[str, Any]]
) -> None:
    name, args = call
    door = "MCP tools (stdio)"
    try:
        tally.record(door, judged(stdio_session.call(name, args), name))
    except (AssertionError, TimeoutError):
        tally.record(door, "other")
        raise
    after = stdio_session.call("report_status", {"state": "working", "agent": "still-here"})
    assert not after.is_error  # the session still answers


class Served(Collector):
    """The mcp adapter in a running collector, and a second client for the follow-ups."""

    def __init__(self, runner: LoopThread, db: Path) -> None:
        options = McpAdapter.parse_options({"port": 0, "timeout": 0.3, "progress_every": 0.1})
        super().__init__(runner, db, Instance("mcp", McpAdapter, options))
        url = f"http://127.0.0.1:{self.port('mcp')}/mcp"

        def opener() -> contextlib.AbstractAsyncContextManager[Any]:
            return mcp_http(url)

        self.first = Session(runner, opener)
        self.second = Session(runner, opener)

    def close(self) -> None:
        self.first.close()
        self.second.close()
        super().close()


@pytest.fixture
def served(tmp_path: Path, loop_thread: LoopThread) -> Iterator[Served]:
    running = Served(loop_thread, tmp_path / "mcp-http.db")
    yield running
    running.close()


@FUZZ
@given(call=tool_call())
def test_mcp_over_http_answers_everything_cleanly(
    served: Served, tally: Tally, call: tuple[str, dict[str, Any]]
) -> None:
    name, args = call
    door = "MCP tools (streamable HTTP)"
    try:
        tally.record(door, judged(served.first.call(name, args), name))
    except (AssertionError, TimeoutError):
        tally.record(door, "other")
        raise
    after = served.second.call("report_status", {"state": "working", "agent": "other-client"})
    assert not after.is_error  # another client is still answered
