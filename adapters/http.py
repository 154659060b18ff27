"""``http`` adapter: poll a REST endpoint for events, POST decisions back.

The contract is tiny (docs/integrations.md has the full text):

* ``GET <url>?after=<cursor>&limit=<n>`` -> ``{"events": [...], "cursor": "..."}``:
  events after the cursor, oldest first, in swarmdeck's wire format (``source``
  may be omitted: it defaults to the adapter instance's name). The cursor is
  opaque to swarmdeck; it is saved atomically with the events, so a restart
  neither repeats nor skips. No ``after`` on the first request.
* ``POST <decisions_url>`` with a decision as JSON and an ``Idempotency-Key``
  header (``swarmdeck-<decision id>``): the receiver applies each key once, since
  a decision may be delivered more than once (after a crash or a timeout).

Errors, 429 (``Retry-After`` honoured) and 5xx back off exponentially with jitter
and turn the adapter's health to ``degraded`` with a readable detail; the first
good answer turns it back to ``running``. The bearer token is a secret: never
printed, logged or put in an error message.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import pydantic_core
from pydantic import ConfigDict, Field, SecretStr, field_validator

from swarmdeck.adapters.base import (
    Adapter,
    AdapterContext,
    AdapterOptions,
    Batch,
    DeliveryError,
    Rejected,
)
from swarmdeck.store.events import Event, EventError, parse_event
from swarmdeck.store.models import Delivery

#: Longest ``Retry-After`` we accept before capping it (a misconfigured server
#: must not silence the adapter for a day).
RETRY_AFTER_CAP = 3600.0


def _check_url(value: str | None) -> str | None:
    if value is None:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


class HttpOptions(AdapterOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    url: str
    """Events endpoint, e.g. ``http://127.0.0.1:9000/agent-events``."""
    decisions_url: str | None = None
    """Where decisions are POSTed; default: ``decisions`` resolved against ``url``
    (``http://host/api/agent-events`` -> ``http://host/api/decisions``)."""
    token: SecretStr | None = None
    """Bearer token sent on every request (a secret: never printed)."""
    poll_interval: float = Field(default=2.0, gt=0)
    """Seconds between polls when the last page was not full."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds before a request is given up."""
    page_size: int = Field(default=500, ge=1, le=5000)
    """``limit`` asked for per poll."""
    backoff_initial: float = Field(default=1.0, gt=0)
    """First delay after an error, doubled per consecutive error."""
    backoff_max: float = Field(default=60.0, gt=0)
    """Cap of the delay between retries."""
    max_response_bytes: int = Field(default=64 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    """Largest events page read; a bigger answer is an error, never held in memory whole."""

    @field_validator("url", "decisions_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _check_url(value)

    def effective_decisions_url(self) -> str:
        if self.decisions_url:
            return self.decisions_url
        parts = urlsplit(self.url)
        return urljoin(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), "decisions")


def public_url(url: str) -> str:
    """A URL fit for messages: no user info, no query (either may carry credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _origin(url: str) -> str:
    parts = urlsplit(public_url(url))
    return f"{parts.scheme}://{parts.netloc}"


def describe_error(exc: BaseException, url: str, timeout: float) -> str:
    where = _origin(url)
    text = str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer from {where} within {timeout:g}s"
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text.lower() or "all connection attempts failed" in text.lower():
            return f"connection refused to {where}"
        return f"cannot connect to {where} ({text or type(exc).__name__})"
    if isinstance(exc, httpx.HTTPError):
        return f"{type(exc).__name__} talking to {where}: {text}"[:300]
    return f"{type(exc).__name__}: {text}"[:300]


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``: seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return min(max(0.0, float(value)), RETRY_AFTER_CAP)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, when.timestamp() - now), RETRY_AFTER_CAP)


def _fmt_delay(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds >= 1 else f"{seconds:.1f}s"


class _PollError(Exception):
    """One failed poll: a readable message and, for 429/503, the server's wish."""

    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


class HttpAdapter(Adapter):
    """Polls ``url`` for events after a saved cursor; POSTs decisions to ``decisions_url``."""

    type_name: ClassVar[str] = "http"
    description: ClassVar[str] = "Poll a REST endpoint for events (cursor); POST decisions back"
    Options: ClassVar[type[AdapterOptions]] = HttpOptions
    two_way: ClassVar[bool] = True

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        assert isinstance(options, HttpOptions)
        self.opts = options
        self._rng = random.Random()
        self._client: httpx.AsyncClient | None = None
        self.health: tuple[str, str] | None = None

    # ------------------------------------------------------------------ plumbing

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "swarmdeck-http-adapter"}
        if self.opts.token is not None:
            headers["Authorization"] = f"Bearer {self.opts.token.get_secret_value()}"
        return headers

    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=self.opts.timeout, headers=self._headers(), follow_redirects=False
            )
        return self._client

    async def _set_health(self, state: str, detail: str) -> None:
        if self.health != (state, detail):
            self.health = (state, detail)
            await self.context.set_health(state, detail)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.opts.backoff_max, self.opts.backoff_initial * 2.0 ** (failures - 1))
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    # ------------------------------------------------------------------ ingest

    async def events(self) -> AsyncIterator[Event | Batch]:
        cursor = (await self.context.store.get_states(self.name)).get("cursor")
        url = public_url(self.opts.url)
        failures = 0
        try:
            while True:
                try:
                    body = await self._poll(cursor)
                except _PollError as exc:
                    failures += 1
                    delay = exc.wait if exc.wait is not None else self._backoff(failures)
                    message = f"{exc} (retrying in {_fmt_delay(delay)})"
                    self.context.log.warning("%s: %s", self.name, message)
                    await self._set_health("degraded", message)
                    await asyncio.sleep(delay)
                    continue
                failures = 0
                await self._set_health("running", f"polling {url}")
                items, new_cursor = body
                batch = self._batch(items, cursor, new_cursor)
                if batch.events or batch.rejected or new_cursor != cursor:
                    yield batch
                cursor = new_cursor
                if len(items) < self.opts.page_size:
                    await asyncio.sleep(self.opts.poll_interval)
        finally:
            if self._client is not None:
                await self._client.aclose()

    async def _poll(self, cursor: str | None) -> tuple[list[Any], str | None]:
        params: dict[str, str | int] = {"limit": self.opts.page_size}
        if cursor is not None:
            params["after"] = cursor
        where = public_url(self.opts.url)
        limit = self.opts.max_response_bytes
        try:
            async with self.client().stream("GET", self.opts.url, params=params) as response:
                if response.status_code != 200:
                    wait = None
                    if response.status_code in (429, 503):
                        wait = retry_after(response, time.time())
                    raise _PollError(f"HTTP {response.status_code} from {where}", wait)
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise _PollError(f"{where} answered more than {limit} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise _PollError(describe_error(exc, self.opts.url, self.opts.timeout)) from None
        try:
            # pydantic-core's parser: a page nested thousands deep is an error on this poll,
            # not a RecursionError that crashes the adapter on the same page again and again.
            body = pydantic_core.from_json(b"".join(chunks), allow_inf_nan=False)
        except ValueError:
            raise _PollError(f"{where} answered something that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise _PollError(f'{where} answered JSON without an "events" list')
        new_cursor = body.get("cursor", cursor)
        if isinstance(new_cursor, int | float) and not isinstance(new_cursor, bool):
            new_cursor = str(new_cursor)
        if new_cursor is not None and not isinstance(new_cursor, str):
            raise _PollError(f'{where} answered a "cursor" that is not a string')
        if body["events"] and new_cursor is None:
            raise _PollError(f'{where} answered events without a "cursor"')
        return body["events"], new_cursor

    def _batch(self, items: list[Any], cursor: str | None, new_cursor: str | None) -> Batch:
        batch = Batch(position={"cursor": new_cursor} if new_cursor is not None else {})
        where = f"GET {public_url(self.opts.url)} after={cursor or ''}"
        for i, item in enumerate(items):
            if isinstance(item, dict) and "source" not in item:
                item = {**item, "source": self.name}
            try:
                batch.events.append(parse_event(item))
            except EventError as exc:
                try:
                    raw = json.dumps(item, ensure_ascii=False, default=str)
                except (ValueError, RecursionError):
                    raw = repr(item)[:16_384]
                batch.rejected.append(Rejected(f"{where} events[{i}]", raw, str(exc)))
        return batch

    # ------------------------------------------------------------------ delivery

    async def deliver(self, delivery: Delivery) -> None:
        await post_decision(
            self.client(), self.opts.effective_decisions_url(), delivery, self.opts.timeout
        )


def decision_body(delivery: Delivery) -> dict[str, Any]:
    """A decision as the REST contract posts it (docs/integrations.md)."""
    d = delivery.decision
    esc = delivery.escalation
    return {
        "id": f"swarmdeck-{d.id}",
        "escalation": d.escalation,
        "action": d.action,
        "reason": d.reason,
        "target": d.target,
        "answer": d.answer,
        "actor": d.actor,
        "ts": datetime.fromtimestamp(d.ts, UTC).isoformat().replace("+00:00", "Z"),
        "agent": esc.agent,
        "task": esc.task,
        "workflow": esc.workflow,
        "source": esc.source,
    }


async def post_decision(
    client: httpx.AsyncClient, url: str, delivery: Delivery, client_timeout: float
) -> None:
    """POST one decision with its ``Idempotency-Key`` (the ``http`` and ``push`` adapters);
    ``client_timeout`` is the client's, named in the error when it passes.

    Raises:
        DeliveryError: retryable on connection errors, timeouts, 408, 429 and 5xx; not on
            any other 4xx.
    """
    where = public_url(url)
    key = f"swarmdeck-{delivery.decision.id}"
    try:
        response = await client.post(
            url,
            json=decision_body(delivery),
            headers={"Idempotency-Key": key, "Content-Type": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(describe_error(exc, url, client_timeout)) from None
    if 200 <= response.status_code < 300:
        return
    snippet = " ".join(response.text.split())[:200]
    message = f"HTTP {response.status_code} from {where}" + (f": {snippet}" if snippet else "")
    retryable = response.status_code in (408, 429) or response.status_code >= 500
    raise DeliveryError(message, retryable=retryable)
