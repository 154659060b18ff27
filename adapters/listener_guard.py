"""One guard in front of every HTTP listener: Host, Origin, token, Content-Type, body size.

swarmdeck's listeners approve or deny what agents do, so each request is checked
before the app behind it sees a byte of it:

* **Host** must name this listener (its bound address and port; for a loopback
  bind also ``localhost``, ``127.0.0.1`` and ``[::1]``; plus ``allowed_hosts``
  for a reverse proxy). A web page whose own domain was re-pointed at 127.0.0.1
  (DNS rebinding) sends its domain as Host and is refused.
* **Origin** is refused unless allowed. Browsers send it on every cross-origin
  POST; agent CLIs do not. ``Sec-Fetch-Site: cross-site`` is refused the same way.
* **Bearer token**: ``Authorization: Bearer <token>``, compared in constant time
  (``hmac.compare_digest``); never echoed, never logged.
* **Content-Type** must be ``application/json`` on requests with a body: a page's
  "simple" cross-origin ``text/plain`` POST, which browsers send without asking,
  never reaches the app.
* **Body size**: refused on ``Content-Length`` alone when it is too big, and
  counted as it arrives otherwise, so a 200 MB POST costs at most the limit in
  memory; a body that trickles in slower than ``body_timeout`` is refused too.

The app then gets the whole body at once (it was read to count it) and every
later ``receive()`` goes to the client's connection, so the app still hears a
disconnect. An exception escaping the app before it answered is answered too.

Each listener says how a refusal is answered (:data:`Refuse`): the Claude Code
hook endpoint answers ``200`` with a deny in the event's own shape (any non-2xx
lets Claude Code's tool call through), others answer the 4xx status as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from swarmdeck.store.text import clean_text

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Largest request body a listener takes by default (Claude Code payloads are far smaller).
MAX_BODY = 4 * 1024 * 1024
#: Seconds a client may take to send its whole body.
BODY_TIMEOUT = 30.0
#: Seconds spent reading the start of a refused request's body (to answer in its shape).
SNIFF_TIMEOUT = 2.0
#: Methods whose requests carry a body, which must then be JSON.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")

log = logging.getLogger("swarmdeck.listener")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request was refused, for the listener to word its answer.

    ``body`` is what was read of the request body (perhaps only its start, perhaps
    nothing): enough for the hook endpoint to see which event it was.
    """

    status: int
    reason: str
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status and a JSON body."""

    status: int
    body: Any


#: How a listener answers a refusal.
Refuse = Callable[[Refusal], Answer]


def plain_refusal(refusal: Refusal) -> Answer:
    """The answer of a listener whose clients read HTTP statuses: the 4xx/5xx, as JSON."""
    return Answer(refusal.status, {"error": refusal.reason})


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """What one listener accepts.

    Attributes:
        hosts: exact ``Host`` values accepted (lower case, with and without the port).
        origins: exact ``Origin`` values accepted; empty refuses every Origin.
        token: the bearer token required, or None for none (loopback binds only: the
            caller checks that when it binds). Called per request, so a rotated token
            takes effect without a restart.
        max_body: largest body, in bytes.
        sniff: bytes of a refused request's body read for the refusal answer.
    """

    hosts: frozenset[str]
    token: Callable[[], str | None]
    origins: frozenset[str] = frozenset()
    max_body: int = MAX_BODY
    body_timeout: float = BODY_TIMEOUT
    sniff: int = 0


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8``, ``::1``: reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def listener_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host values a listener bound to ``host:port`` answers to."""
    bare = host.strip("[]").lower()
    names = {f"[{bare}]" if ":" in bare else bare}
    if is_loopback(host):
        names.update(LOOPBACK_NAMES)
    out: set[str] = set()
    for name in names:
        out.add(name)
        out.add(f"{name}:{port}")
    out.update(h.strip().lower() for h in extra if h.strip())
    return frozenset(out)


def _headers(scope: Scope) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name = bytes(raw_name).decode("latin-1").lower()
        found.setdefault(name, []).append(bytes(raw_value).decode("latin-1"))
    return found


def _shown(value: str) -> str:
    return clean_text(value, single_line=True, max_length=80)


def _media_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


class ListenerGuard:
    """ASGI middleware applying a :class:`GuardPolicy`; see the module docstring."""

    def __init__(self, app: ASGIApp, policy: GuardPolicy, refuse: Refuse = plain_refusal) -> None:
        self.app = app
        self.policy = policy
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # websockets: none of our listeners speaks them
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = _headers(scope)
        method = str(scope.get("method", "GET")).upper()
        problem = self._check(headers, method)
        if problem is not None:
            status, reason = problem
            head = b""
            # Any method may carry a body (a GET too): read it, or closing on unread data
            # resets the connection and the client never reads the refusal.
            if _has_body(headers) and not _declared_beyond(headers, self.drain_limit):
                head = await self._sniff(receive)
            await self._answer(send, Refusal(status, reason, head))
            return
        if method not in BODY_METHODS:
            if _has_body(headers):  # not for the app, but read, for the same reason
                if _declared_beyond(headers, self.drain_limit):
                    await self._answer(send, Refusal(413, f"a {method} request with a body"))
                    return
                await self._sniff(receive)
            await self._call_app(scope, receive, send, b"")
            return
        body = await self._read_body(receive)
        if isinstance(body, Refusal):
            if body.status == 413:
                await self._discard(receive, self.drain_limit)
            await self._answer(send, body)
            return
        if body is None:
            return  # the client went away while sending
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self._call_app(scope, replay, send, body)

    # ------------------------------------------------------------------ checks

    def _check(self, headers: dict[str, list[str]], method: str) -> tuple[int, str] | None:
        hosts = headers.get("host", [])
        if len(hosts) != 1 or hosts[0].strip().lower() not in self.policy.hosts:
            shown = _shown(hosts[0]) if len(hosts) == 1 else f"{len(hosts)} Host headers"
            return 421, f"Host {shown!r} is not this listener (DNS rebinding?); refused"
        origins = headers.get("origin", [])
        if any(o.strip().lower() not in self.policy.origins for o in origins):
            return 403, f"cross-origin request from {_shown(origins[0])!r} refused"
        fetch_site = [v.strip().lower() for v in headers.get("sec-fetch-site", [])]
        if not origins and any(v in ("cross-site", "same-site") for v in fetch_site):
            return 403, "cross-site request from a browser refused"
        try:
            expected = self.policy.token()
        except Exception as exc:  # an unreadable token file: nothing can be let in
            return 503, f"no usable listener token ({clean_text(str(exc), single_line=True)})"
        if expected is not None and not _token_matches(headers.get("authorization", []), expected):
            return 401, "missing or wrong bearer token (Authorization: Bearer <swarmdeck token>)"
        if method in BODY_METHODS:
            types = headers.get("content-type", [])
            if len(types) != 1 or _media_type(types[0]) != "application/json":
                shown = _shown(types[0]) if types else "none"
                return 415, f"Content-Type must be application/json (got {shown!r})"
            lengths = headers.get("content-length", [])
            if lengths:
                try:
                    declared = int(lengths[0])
                except ValueError:
                    return 400, "Content-Length is not a number"
                if declared > self.policy.max_body:
                    return 413, f"body of {declared} bytes is larger than {self.policy.max_body}"
        return None

    async def _read_body(self, receive: Receive) -> bytes | Refusal | None:
        """The whole body, counted as it arrives; a Refusal when too big or too slow."""
        chunks: list[bytes] = []
        size = 0
        limit = self.policy.max_body
        try:
            async with asyncio.timeout(self.policy.body_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = bytes(message.get("body", b""))
                    size += len(chunk)
                    if size > limit:
                        head = b"".join(chunks)[: self.policy.sniff] if self.policy.sniff else b""
                        return Refusal(413, f"body larger than {limit} bytes", head)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            head = b"".join(chunks)[: self.policy.sniff]
            return Refusal(408, f"body not received within {self.policy.body_timeout:g}s", head)

    @property
    def drain_limit(self) -> int:
        """Bytes of a refused body read and thrown away so the client reads the answer
        (closing on unread data resets the connection); beyond it, the socket just closes."""
        return 4 * self.policy.max_body

    async def _sniff(self, receive: Receive) -> bytes:
        """A refused request's body: its start kept for the answer, the rest thrown away
        (up to :attr:`drain_limit`, briefly), so that the client can read the answer."""
        keep = self.policy.sniff
        chunks: list[bytes] = []
        size = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SNIFF_TIMEOUT):
                while size <= self.drain_limit:
                    message = await receive()
                    if message["type"] != "http.request":
                        break
                    chunk = bytes(message.get("body", b""))
                    if size < keep:
                        chunks.append(chunk[: keep - size])
                    size += len(chunk)
                    if not message.get("more_body", False):
                        break
        return b"".join(chunks)

    async def _discard(self, receive: Receive, up_to: int) -> None:
        """Read and drop the rest of a refused body, bounded in bytes and time."""
        size = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SNIFF_TIMEOUT):
                while size <= up_to:
                    message = await receive()
                    if message["type"] != "http.request" or not message.get("more_body"):
                        return
                    size += len(message.get("body", b""))

    # ------------------------------------------------------------------ answers

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BaseException as exc:
            if not started:
                reason = f"internal error ({type(exc).__name__})"
                with contextlib.suppress(Exception):
                    await self._answer(send, Refusal(500, reason, body[: self.policy.sniff]))
            if not isinstance(exc, Exception):
                raise  # cancelled (shutdown): answered above, now let it end
            log.error(
                "listener %s failed: %s",
                _shown(str(scope.get("path", ""))),
                clean_text(f"{type(exc).__name__}: {exc}", single_line=True, max_length=300),
            )

    async def _answer(self, send: Send, refusal: Refusal) -> None:
        try:
            answer = self.refuse(refusal)
        except Exception:  # the wording failed: the plain answer still goes out
            answer = plain_refusal(refusal)
        await send_json(send, answer, close=True)


async def send_json(send: Send, answer: Answer, *, close: bool = False) -> None:
    """Send ``answer`` as a complete JSON response (every character escaped to ASCII)."""
    payload = json.dumps(answer.body, ensure_ascii=True, allow_nan=False).encode("ascii")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
        (b"cache-control", b"no-store"),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload, "more_body": False})


def _has_body(headers: dict[str, list[str]]) -> bool:
    """Whether the request says a body follows (``Content-Length`` or chunked)."""
    if headers.get("transfer-encoding"):
        return True
    return any(v.strip() not in ("", "0") for v in headers.get("content-length", []))


def _declared_beyond(headers: dict[str, list[str]], limit: int) -> bool:
    """A Content-Length above ``limit`` (or unreadable): not worth reading to refuse."""
    for value in headers.get("content-length", []):
        try:
            if int(value) > limit:
                return True
        except ValueError:
            return True
    return False


def _token_matches(values: list[str], expected: str) -> bool:
    if len(values) != 1:
        return False
    scheme, _, given = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), expected.encode("utf-8"))
