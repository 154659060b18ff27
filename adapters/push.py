"""``push`` adapter: ``POST /v1/events``, for agent systems that send their events.

The ``http`` adapter polls a system that keeps its events; this one is for systems
that would rather send them, from any host that can reach a collector:

* The body is a batch in swarmdeck's wire format (``swarmdeck schema``): a JSON
  array of events, or JSON Lines (one event per line). ``source`` may be left out
  (it defaults to the instance name). Events are idempotent on ``(source, id)``,
  so a client that did not get an answer sends the same batch again.
* It is answered only once the batch is stored (fenced by this collector's lease
  and filtered by the guardrails, like every other input), with what happened to
  each event: ``{"accepted": n, "duplicate": n, "rejected": n, "errors": [...]}``.
  An invalid event goes to the dead letters with its reason; the rest are stored.
* Every request passes the listener guard first: bearer token (``swarmdeck token
  show``), ``Host``, ``Origin``, ``Content-Type: application/json`` (for JSON Lines
  too), body size; ``max_events`` bounds a batch.
* ``503`` means "not stored, send it again": this collector lost the lease on the
  instance (another one takes over within seconds) or the store refused the write.

Decisions on escalations raised this way are POSTed to ``decisions_url`` exactly as
the ``http`` adapter does (docs/integrations.md); without one they are marked failed
at once, with the reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from swarmdeck.adapters._http_common import (
    EmbeddedServer,
    LateApp,
    ListenerOptions,
    check_listener,
    guard_policy,
)
from swarmdeck.adapters.base import (
    Adapter,
    AdapterContext,
    AdapterOptions,
    Batch,
    DeliveryError,
    Rejected,
)
from swarmdeck.adapters.bridge import STORE_ERRORS
from swarmdeck.adapters.http import _check_url, post_decision
from swarmdeck.adapters.listener_guard import ListenerGuard
from swarmdeck.store.errors import LeaseLost
from swarmdeck.store.events import Event, EventError, parse_event
from swarmdeck.store.models import Delivery

#: Errors listed in an answer (the dead letters keep every one).
MAX_ERRORS_SHOWN = 50
#: Raw input kept per rejected event.
RAW_LIMIT = 16_384


class PushOptions(ListenerOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    port: int = Field(default=7343, ge=0, le=65535)
    """Port to listen on (0 picks a free one, shown in the adapter's health)."""
    path: str = Field(default="/v1/events", pattern=r"^/")
    """URL path events are POSTed to."""
    max_events: int = Field(default=5000, ge=1, le=100_000)
    """Most events in one request (a bigger batch is refused whole, with 413)."""
    decisions_url: str | None = None
    """Where decisions on escalations pushed here are POSTed (the ``http`` adapter's
    contract); unset: such decisions are marked failed, with the reason."""
    decisions_token: SecretStr | None = None
    """Bearer token sent with each decision (a secret: never printed)."""
    timeout: float = Field(default=10.0, gt=0, le=300)
    """Seconds before a decision's POST is given up (and retried later)."""

    @field_validator("decisions_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _check_url(value)


class PushAdapter(Adapter):
    """Serves ``POST /v1/events``: each batch stored before it is answered."""

    type_name: ClassVar[str] = "push"
    description: ClassVar[str] = (
        "POST /v1/events: agent systems send wire-format batches (JSON array or JSON Lines)"
    )
    Options: ClassVar[type[AdapterOptions]] = PushOptions
    two_way: ClassVar[bool] = True

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        assert isinstance(options, PushOptions)
        self.opts = options
        self.endpoint: EmbeddedServer | None = None
        self._client: httpx.AsyncClient | None = None
        #: Set once the listener serves (its guard is in place before the first request).
        self.ready = asyncio.Event()

    @property
    def port(self) -> int | None:
        return self.endpoint.port if self.endpoint is not None else None

    # ------------------------------------------------------------------ serving

    def events(self) -> AsyncIterator[Event | Batch]:
        """Serve until the listener dies or the task is cancelled; yields nothing, since
        each request commits its own batch (its answer carries the counts)."""
        return _Serving(self)

    async def serve(self) -> None:
        """Listen until the server stops (raises then) or this is cancelled."""
        opts = self.opts
        token = self.context.listener_token
        check_listener(opts, token, f"adapter {self.name!r}")
        late = LateApp()
        self.endpoint = EmbeddedServer(late, opts.host, opts.port)

        def bound(port: int) -> None:
            late.app = ListenerGuard(self.build_app(), guard_policy(opts, port, token))

        self.endpoint.on_bound = bound
        try:
            await self.endpoint.start()
            self.ready.set()
            await self.context.set_health(
                "running", f"accepting pushes on {self.endpoint.url}{opts.path}"
            )
            task = self.endpoint.task
            assert task is not None
            await asyncio.shield(task)
            raise RuntimeError(f"push endpoint on {self.endpoint.url} stopped")
        finally:
            await self.endpoint.stop()
            if self._client is not None:
                await self._client.aclose()

    def build_app(self) -> Any:
        """The endpoint's ASGI app (the guard goes in front of it)."""
        return Starlette(routes=[Route(self.opts.path, self._push, methods=["POST"])])

    async def _push(self, request: Request) -> Response:
        raw = await request.body()
        try:
            items = parse_body(raw)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if len(items) > self.opts.max_events:
            return JSONResponse(
                {"error": f"{len(items)} events in one request; at most {self.opts.max_events}"},
                status_code=413,
            )
        batch = self.batch(items)
        commit = self.context.commit
        if commit is None:
            return _unavailable("this endpoint is not running inside a collector")
        try:
            result = await commit(batch)
        except LeaseLost:
            return _unavailable(
                f"this collector no longer leads {self.name!r}; send the batch again "
                "(another collector takes it over)"
            )
        except STORE_ERRORS as exc:
            return _unavailable(
                f"the store refused the batch ({type(exc).__name__}); send it again"
            )
        sent = len(batch.events)
        accepted = max(0, min(sent, result.accepted))
        # Events the store could not take are dead letters too, named where they were sent.
        errors = [(r.location, r.error) for r in batch.rejected]
        errors += [(f"event {batch.events[i].id}", why) for i, why in result.poisoned]
        return JSONResponse(
            {
                "accepted": accepted,
                "duplicate": sent - accepted - len(result.poisoned),
                "rejected": len(errors),
                "errors": [{"at": at, "error": why} for at, why in errors[:MAX_ERRORS_SHOWN]],
            }
        )

    def batch(self, items: list[tuple[str, Any]]) -> Batch:
        """Validate each item; the invalid ones become dead letters, named by position."""
        batch = Batch()
        for where, item in items:
            location = f"POST {self.opts.path} {where}"
            if isinstance(item, _Undecodable):
                batch.rejected.append(Rejected(location, item.raw[:RAW_LIMIT], item.error))
                continue
            if isinstance(item, dict) and "source" not in item:
                item = {**item, "source": self.name}
            try:
                batch.events.append(parse_event(item))
            except EventError as exc:
                raw = json.dumps(item, ensure_ascii=False, default=str)[:RAW_LIMIT]
                batch.rejected.append(Rejected(location, raw, str(exc)))
        return batch

    # ------------------------------------------------------------------ delivery

    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            headers = {"Accept": "application/json", "User-Agent": "swarmdeck-push-adapter"}
            if self.opts.decisions_token is not None:
                headers["Authorization"] = f"Bearer {self.opts.decisions_token.get_secret_value()}"
            self._client = httpx.AsyncClient(
                timeout=self.opts.timeout, headers=headers, follow_redirects=False
            )
        return self._client

    async def deliver(self, delivery: Delivery) -> None:
        if self.opts.decisions_url is None:
            raise DeliveryError(
                f"adapter {self.name!r} has no decisions_url: the system that pushed this "
                "escalation cannot be told",
                retryable=False,
            )
        await post_decision(self.client(), self.opts.decisions_url, delivery, self.opts.timeout)


class _Serving:
    """``events()`` of the push adapter: one step that serves, then ends the iteration."""

    def __init__(self, adapter: PushAdapter) -> None:
        self.adapter = adapter

    def __aiter__(self) -> _Serving:
        return self

    async def __anext__(self) -> Event | Batch:
        await self.adapter.serve()  # returns only by raising
        raise StopAsyncIteration


def _unavailable(reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=503, headers={"Retry-After": "1"})


class _Undecodable:
    """A JSON Lines line that is not JSON: kept as a dead letter with the reason."""

    def __init__(self, raw: str, error: str) -> None:
        self.raw = raw
        self.error = error


def parse_body(raw: bytes) -> list[tuple[str, Any]]:
    """``(where, item)`` for each event of a JSON array or JSON Lines body.

    A line of JSON Lines that is not JSON is an item too (an :class:`_Undecodable`),
    so it is rejected on its own while the other lines are stored.

    Raises:
        ValueError: not UTF-8, empty, or an array that is not valid JSON (one line).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 (byte {exc.start})") from None
    body = text.strip()
    if not body:
        raise ValueError("empty body: send a JSON array of events, or one event per line")
    if body.startswith("["):
        try:
            data = json.loads(body)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the body is not valid JSON ({exc.msg} at char {exc.pos})") from None
        if not isinstance(data, list):
            raise ValueError("the body must be a JSON array of events")
        return [(f"[{i}]", item) for i, item in enumerate(data)]
    items: list[tuple[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"line {n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            items.append((f"line {n}", _Undecodable(line, f"not valid JSON ({exc.msg})")))
    return items
