"""Doors: the ``jsonl`` and ``http`` adapters inside a running collector.

One supervisor runs for the whole test (in a loop thread), as in ``swarmdeck serve``; each
example feeds it hostile input followed by one good event, and the good event must land:
nothing before it may stop the adapter, the writer or the store. Every hostile item is in
the dead letters with its reason, or stored; the adapter never ends up crashed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from swarmdeck.adapters._http_common import EmbeddedServer
from swarmdeck.adapters.http import HttpAdapter
from swarmdeck.adapters.jsonl import JsonlAdapter
from swarmdeck.adapters.supervisor import Instance
from tests.fuzz.conftest import FUZZ, Collector, LoopThread, Tally, unique
from tests.fuzz.strategies import hostile_event, hostile_line, json_value, nested


def sentinel_event(name: str) -> dict[str, Any]:
    return {"v": 1, "id": name, "ts": "2026-11-23T10:00:00Z", "source": "fuzz",
            "kind": "agent.status", "agent": name, "data": {"state": "working"}}  # fmt: skip


@pytest.fixture
def jsonl_collector(tmp_path: Path, loop_thread: LoopThread) -> Iterator[tuple[Path, Collector]]:
    """One collector tailing a directory for the whole test (every example feeds it)."""
    feed = tmp_path / "in"
    feed.mkdir()
    tail = Instance("tail", JsonlAdapter, JsonlAdapter.parse_options(
        {"path": str(feed), "poll_interval": 0.02}))  # fmt: skip
    collector = Collector(loop_thread, tmp_path / "jsonl.db", tail)
    yield feed, collector
    collector.close()


@FUZZ
@given(lines=st.lists(hostile_line(), min_size=1, max_size=6))
def test_jsonl_tail_keeps_reading_after_anything(
    jsonl_collector: tuple[Path, Collector], tally: Tally, lines: list[bytes]
) -> None:
    feed, collector = jsonl_collector
    before = {d.location for d in collector.letters()}
    n = unique()
    path = feed / f"part-{n}.jsonl"
    name = f"sentinel-{n}"
    path.write_bytes(b"\n".join([*lines, json.dumps(sentinel_event(name)).encode()]) + b"\n")
    landed = collector.landed(name)
    if not landed or collector.supervisor.states.get("tail") == "crashed":
        tally.record("jsonl adapter (collector)", "other", len(lines))
    assert landed, "the good line after the bad ones never landed"
    assert collector.supervisor.restarts["tail"] == 0  # never crashed on any of it
    new = {d.location: d.error for d in collector.letters() if d.location not in before}
    assert all(new.values())  # every refusal says why
    for number, raw in enumerate(lines, start=1):
        if raw.strip():
            refused = f"{path}:{number}" in new
            tally.record("jsonl adapter (collector)", "refused cleanly" if refused else "accepted")


class Pages:
    """The team server the http adapter polls: one queued answer per poll."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.cursor = 0

    async def events(self, request: Request) -> Response:
        try:
            status, body = self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return JSONResponse({"events": [], "cursor": str(self.cursor)})
        return Response(body, status_code=status, media_type="application/json")

    async def decisions(self, request: Request) -> Response:
        return JSONResponse({})


@st.composite
def hostile_page(draw: st.DrawFn) -> tuple[int, bytes, int]:
    """(status, body, number of hostile events in it) for one poll."""
    shape = draw(st.sampled_from(["events", "events", "events", "shape", "deep", "status"]))
    if shape == "events":
        items = draw(st.lists(st.one_of(hostile_event(), json_value()), min_size=1, max_size=5))
        return 200, json.dumps({"events": items, "cursor": "c"}).encode(), len(items)
    if shape == "shape":
        body = draw(st.sampled_from([b"not json", b"[]", b'{"events": 3}', b'{"cursor": 5}',
                                     b'{"events": [1], "cursor": {"a": 1}}', b"",
                                     b'{"events": [], "cursor": "\\ud800"}']))  # fmt: skip
        return 200, body, 0
    if shape == "deep":
        return 200, ('{"events": [' + nested(3000) + '], "cursor": "d"}').encode(), 1
    return draw(st.sampled_from([404, 429, 500, 503])), b"{}", 0


@pytest.fixture
def http_collector(tmp_path: Path, loop_thread: LoopThread) -> Iterator[tuple[Pages, Collector]]:
    """A team server and one collector polling it, for the whole test."""
    pages = Pages()
    app = Starlette(routes=[Route("/events", pages.events),
                            Route("/decisions", pages.decisions, methods=["POST"])])  # fmt: skip
    endpoint = EmbeddedServer(app, "127.0.0.1", 0)
    port = loop_thread.run(endpoint.start())
    team = Instance("team", HttpAdapter, HttpAdapter.parse_options({
        "url": f"http://127.0.0.1:{port}/events", "poll_interval": 0.02,
        "backoff_initial": 0.02, "backoff_max": 0.1,
    }))  # fmt: skip
    collector = Collector(loop_thread, tmp_path / "http.db", team)
    yield pages, collector
    collector.close()
    loop_thread.run(endpoint.stop())


@FUZZ
@given(pages=st.lists(hostile_page(), min_size=1, max_size=3))
def test_http_adapter_keeps_polling_after_anything(
    http_collector: tuple[Pages, Collector], tally: Tally,
    pages: list[tuple[int, bytes, int]],
) -> None:  # fmt: skip
    server, collector = http_collector
    before = len(collector.letters())
    n = unique()
    name = f"sentinel-{n}"
    server.cursor += 1
    good = json.dumps({"events": [sentinel_event(name)], "cursor": str(server.cursor)}).encode()

    async def queue() -> None:
        for status, body, _ in pages:
            await server.queue.put((status, body))
        await server.queue.put((200, good))

    collector.runner.run(queue())
    landed = collector.landed(name)
    hostile = sum(count for _, _, count in pages)
    if not landed or collector.supervisor.restarts["team"]:
        tally.record("http adapter (collector)", "other", max(1, hostile))
    assert landed, "the good page after the bad ones never landed"
    assert collector.supervisor.restarts["team"] == 0  # a bad page is an error, not a crash
    letters = collector.letters()
    refused = len(letters) - before
    assert all(d.error for d in letters[: max(0, refused)])  # newest first: each says why
    tally.record("http adapter (collector)", "refused cleanly", refused)
    if hostile - refused > 0:
        tally.record("http adapter (collector)", "accepted", hostile - refused)
    bad_pages = sum(1 for _, _, count in pages if count == 0)
    if bad_pages:  # not a page at all: refused, the health says why, the next page is read
        tally.record("http adapter (collector)", "refused cleanly", bad_pages)
