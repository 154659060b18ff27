"""``POST /v1/events``: authenticated, bounded, idempotent, partial rejection, fenced.

The push adapter runs in a real supervisor on 127.0.0.1 with a real token source;
requests go over HTTP with httpx, and what landed is read back from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from swarmdeck.adapters.base import AdapterContext, Batch
from swarmdeck.adapters.push import PushAdapter, PushOptions, parse_body
from swarmdeck.adapters.supervisor import Instance, Supervisor
from swarmdeck.store.db import Store
from swarmdeck.tokens import TokenSource

TS = "2026-12-01T10:00:00Z"


def event(n: int, **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"p-{n}",
        "ts": TS,
        "kind": "agent.status",
        "agent": f"bot-{n % 3}",
        "data": {"state": "working", "activity": f"step {n}"},
    }
    out.update(over)
    return out


@contextlib.asynccontextmanager
async def pushing(
    store: Store, token_file: Path, **options: Any
) -> AsyncIterator[tuple[Supervisor, str, str]]:
    """A supervisor running one push adapter; yields it, the endpoint URL and the token."""
    source = TokenSource(token_file)
    token = source()
    opts = PushOptions(port=0, **options)
    sup = Supervisor(
        store,
        [Instance("push", PushAdapter, opts)],
        delivery_interval=0.05,
        batch_window=0.02,
        listener_token=source,
    )
    task = asyncio.create_task(sup.run())
    try:
        for _ in range(500):
            adapter = sup.adapters.get("push")
            if isinstance(adapter, PushAdapter) and adapter.ready.is_set():
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"push endpoint did not start: {await store.adapter_health()}")
        yield sup, f"http://127.0.0.1:{adapter.port}{opts.path}", token
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def stored_ids(store: Store) -> list[str]:
    return [e.id for e in await store.events_since(0, limit=10_000)]


async def test_a_batch_is_stored_once_and_answered_with_counts(
    store: Store, tmp_path: Path
) -> None:
    async with pushing(store, tmp_path / "token") as (_sup, url, token):
        body = [event(n) for n in range(10)]
        async with httpx.AsyncClient() as client:
            first = await client.post(url, json=body, headers=auth(token))
            again = await client.post(url, json=body, headers=auth(token))
        assert first.status_code == 200, first.text
        assert first.json() == {"accepted": 10, "duplicate": 0, "rejected": 0, "errors": []}
        # The client did not hear the first answer and sent it again: nothing doubles.
        assert again.json() == {"accepted": 0, "duplicate": 10, "rejected": 0, "errors": []}
        assert sorted(await stored_ids(store)) == sorted(f"p-{n}" for n in range(10))
        # Stored before answered: the source defaulted to the instance name.
        [seen] = await store.events_since(0, limit=1)
        assert seen.source == "push"
        assert (await store.agent("bot-1")).activity.startswith("step")


async def test_bad_events_go_to_the_dead_letters_and_the_rest_are_stored(
    store: Store, tmp_path: Path
) -> None:
    async with pushing(store, tmp_path / "token") as (_sup, url, token):
        body = [event(1), {"id": "p-2", "kind": "agent.status", "ts": TS}, event(3), "nope"]
        async with httpx.AsyncClient() as client:
            answer = (await client.post(url, json=body, headers=auth(token))).json()
        assert (answer["accepted"], answer["duplicate"], answer["rejected"]) == (2, 0, 2)
        assert [e["at"] for e in answer["errors"]] == ["POST /v1/events [1]", "POST /v1/events [3]"]
        assert "data" in answer["errors"][0]["error"]
        assert sorted(await stored_ids(store)) == ["p-1", "p-3"]
        letters = {d.location: d for d in await store.dead_letters()}
        assert set(letters) == {"POST /v1/events [1]", "POST /v1/events [3]"}
        assert letters["POST /v1/events [1]"].origin == "push"
        assert '"p-2"' in str(letters["POST /v1/events [1]"].raw)


async def test_an_event_the_store_cannot_take_is_dead_lettered_and_the_rest_lands(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should an event slip past validation and still not be storable (a bug, a bound
    missed), it is named in the answer and kept as a dead letter; the rest of the request
    is stored, and the client is not told to send it all again."""
    validate = PushAdapter.batch

    def slipped(self: PushAdapter, items: list[tuple[str, Any]]) -> Batch:
        out = validate(self, items)
        # What validation would never let through: a lone surrogate no backend stores.
        bad = out.events[1]
        out.events[1] = bad.model_construct(
            **{**dict(bad), "data": bad.data.model_construct(state="working", activity="\ud800")}
        )
        return out

    monkeypatch.setattr(PushAdapter, "batch", slipped)
    async with pushing(store, tmp_path / "token") as (_sup, url, token):
        async with httpx.AsyncClient() as client:
            body = [event(1), event(2), event(3)]
            answer = await client.post(url, json=body, headers=auth(token))
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert (got["accepted"], got["duplicate"], got["rejected"]) == (2, 0, 1), got
        assert got["errors"][0]["at"] == "event p-2"
        assert "could not take" in got["errors"][0]["error"]
        assert sorted(await stored_ids(store)) == ["p-1", "p-3"]
        assert any(d.location == "event push/p-2" for d in await store.dead_letters())


async def test_json_lines_with_a_broken_line(store: Store, tmp_path: Path) -> None:
    async with pushing(store, tmp_path / "token") as (_sup, url, token):
        lines = [json.dumps(event(1)), "{not json", "", json.dumps(event(2))]
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, content="\n".join(lines), headers=auth(token))
        assert answer.json()["accepted"] == 2 and answer.json()["rejected"] == 1
        assert answer.json()["errors"][0]["at"] == "POST /v1/events line 2"
        assert sorted(await stored_ids(store)) == ["p-1", "p-2"]
        [letter] = await store.dead_letters()
        assert letter.raw == "{not json" and "not valid JSON" in letter.error


async def test_no_token_or_a_wrong_one_is_refused_and_nothing_is_stored(
    store: Store, tmp_path: Path
) -> None:
    async with pushing(store, tmp_path / "token") as (_sup, url, token):
        body = [event(1)]
        async with httpx.AsyncClient() as client:
            none = await client.post(url, json=body)
            wrong = await client.post(url, json=body, headers=auth(token[:-2] + "xx"))
            basic = await client.post(url, json=body, headers={"Authorization": f"Basic {token}"})
        for answer in (none, wrong, basic):
            assert answer.status_code == 401
            assert token not in answer.text
        assert await stored_ids(store) == []


async def test_bounds_size_count_type_and_shape(store: Store, tmp_path: Path) -> None:
    async with pushing(store, tmp_path / "token", max_events=5, max_body_bytes=4096) as (
        _sup,
        url,
        token,
    ):
        async with httpx.AsyncClient() as client:
            many = await client.post(url, json=[event(n) for n in range(6)], headers=auth(token))
            big = await client.post(
                url, json=[event(1, data={"state": "working", "activity": "x" * 5000})],
                headers=auth(token),
            )  # fmt: skip
            plain = await client.post(
                url,
                content=json.dumps([event(1)]),
                headers={**auth(token), "Content-Type": "text/plain"},
            )
            broken = await client.post(url, content="[{", headers=auth(token))
            scalar = await client.post(url, content="[1", headers=auth(token))
            empty = await client.post(url, content="  ", headers=auth(token))
        assert many.status_code == 413 and "at most 5" in many.json()["error"]
        assert big.status_code == 413
        assert plain.status_code == 415
        assert broken.status_code == 400 and "not valid JSON" in broken.json()["error"]
        assert scalar.status_code == 400
        assert empty.status_code == 400
        assert await stored_ids(store) == []


async def test_a_collector_that_lost_the_lease_answers_503_and_stores_nothing(
    store: Store, tmp_path: Path
) -> None:
    async with pushing(store, tmp_path / "token") as (sup, url, token):
        term = sup.leadership.terms["push"]
        # Another collector took the instance over (our lease expired unseen).
        await store.release_lead("push", sup.leadership.holder)
        assert await store.try_lead("push", "other:1:abc", 60.0) == term.epoch + 1
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, json=[event(1)], headers=auth(token))
        assert answer.status_code == 503
        assert "no longer leads 'push'" in answer.json()["error"]
        assert answer.headers["retry-after"] == "1"
        assert await stored_ids(store) == []
        assert not sup.leadership.leads("push")


def test_remote_binds_need_allow_remote_and_a_token(store: Store) -> None:
    async def start(token: str | None = None, **opts: Any) -> str:
        async def health(state: str, detail: str) -> None:
            pass

        source = (lambda: token) if token else None
        ctx = AdapterContext(name="p", store=store, set_health=health, listener_token=source)
        adapter = PushAdapter(PushOptions(port=0, **opts), ctx)
        try:
            await adapter.serve()
        except Exception as exc:
            return str(exc)
        return "served"

    refused = asyncio.run(start(host="0.0.0.0"))
    assert "allow_remote" in refused
    tokenless = asyncio.run(start(host="0.0.0.0", allow_remote=True, require_token=False))
    assert "without a token" in tokenless
    no_source = asyncio.run(start())
    assert "no listener token available" in no_source
    everywhere = asyncio.run(start("t" * 32, host="0.0.0.0", allow_remote=True))
    assert "needs allowed_hosts" in everywhere  # else every Host would be refused


def test_parse_body_names_each_item() -> None:
    assert [w for w, _ in parse_body(b'[{"a": 1}, 2]')] == ["[0]", "[1]"]
    assert [w for w, _ in parse_body(b'{"a": 1}\n\n{"b": 2}\n')] == ["line 1", "line 3"]
    with pytest.raises(ValueError, match="not UTF-8"):
        parse_body(b"\xff\xfe")
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_body(b'[{"a": 1}')  # an array is all or nothing
    # One broken line of JSON Lines is one item, rejected on its own later.
    [(where, item)] = parse_body(b'{"a": 1')
    assert where == "line 1" and "not valid JSON" in item.error


class _Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[str, dict[str, Any], str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).got.append(
            (self.headers["Idempotency-Key"], json.loads(body), self.headers["Authorization"])
        )
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.got = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/decisions"
    finally:
        server.shutdown()
        server.server_close()


async def test_decisions_on_pushed_escalations_are_posted_back(
    store: Store, tmp_path: Path, receiver: str
) -> None:
    raised = event(
        9,
        kind="escalation.raised",
        data={"id": "push-E1", "kind": "approval", "title": "Ship it?", "severity": "high"},
    )
    options = {"decisions_url": receiver, "decisions_token": "s3cret-for-decisions"}
    async with pushing(store, tmp_path / "token", **options) as (_sup, url, token):
        async with httpx.AsyncClient() as client:
            await client.post(url, json=[raised], headers=auth(token))
        decision = await store.decide("push-E1", "approve", actor="ana", host="laptop")
        for _ in range(200):
            if (await store.escalation("push-E1")).delivery == "delivered":
                break
            await asyncio.sleep(0.02)
        [(key, body, bearer)] = _Receiver.got
        assert key == f"swarmdeck-{decision.id}"
        assert (body["escalation"], body["action"], body["actor"]) == ("push-E1", "approve", "ana")
        assert bearer == "Bearer s3cret-for-decisions"


async def test_without_decisions_url_a_decision_fails_at_once_with_the_reason(
    store: Store, tmp_path: Path
) -> None:
    raised = event(9, kind="escalation.raised", data={"id": "push-E2", "kind": "approval",
                                                      "title": "Ship it?"})  # fmt: skip
    async with pushing(store, tmp_path / "token") as (_sup, url, token):
        async with httpx.AsyncClient() as client:
            await client.post(url, json=[raised], headers=auth(token))
        await store.decide("push-E2", "approve", actor="ana")
        for _ in range(200):
            if (await store.escalation("push-E2")).delivery == "failed":
                break
            await asyncio.sleep(0.02)
        entry = await store._fetchone("SELECT state, last_error FROM outbox")
        assert entry is not None and entry[0] == "failed"
        assert "no decisions_url" in entry[1]
