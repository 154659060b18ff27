"""A Claude Code hook on a host without a collector: hand the payload to one that has one.

``swarmdeck hook claude-code --server URL`` posts the hook's JSON, unchanged, to a
collector's ``claude-code`` endpoint (``http(s)://host:port/hooks/claude-code``)
with the listeners' bearer token, and prints the answer. Nothing of the store is
needed on this host, only the URL and the token.

It fails closed. Whatever goes wrong (no server answers, the answer is slow, an
error status, a body that is not a hook answer, an answer for another event, a
token that cannot be read), a call that waits for a manager (PermissionRequest,
PreToolUse of a gated tool) is answered with an explicit **deny** in Claude Code's
own shape, with the reason. Never an allow, and never the "allow" a hook's failure
would otherwise mean to Claude Code. Hooks that only report (Notification, Stop...)
answer nothing, and the call goes on as it would without swarmdeck.

Several URLs may be given: they are tried in order, but only while the previous one
was certainly *not* reached (connection refused, no route, a proxy's 502/503/504),
since a server that got the request may already have raised its escalation: asking
a second one would raise it twice.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from swarmdeck.adapters.hooks.claude_code import PERMISSION, PRETOOL, PROTOCOL
from swarmdeck.adapters.hooks.core import HookAnswer, HookCall, HookConfig

#: Seconds to connect to a server (a host that is down should not hold the agent long).
CONNECT_TIMEOUT = 5.0
#: Seconds beyond the decision timeout that the answer may take to arrive.
ANSWER_GRACE = 30.0
#: Largest answer read from a server.
MAX_ANSWER = 1024 * 1024
#: Statuses meaning "not handled, try the next server" (a reverse proxy's).
NOT_REACHED = (502, 503, 504)


class Unreached(Exception):
    """The server certainly did not handle the request: the next one may be tried."""


class Refused(Exception):
    """The server was reached but gave no usable answer: fail closed, try no other."""


@dataclass(frozen=True, slots=True)
class Remote:
    """Where to send a hook call and how long to wait."""

    servers: Sequence[str]
    token: str | None
    timeout: float
    """Seconds the collector may take to decide (its own timeout, or less)."""
    grace: float = ANSWER_GRACE
    """Seconds beyond ``timeout`` before a silent server counts as slow."""


def public(url: str) -> str:
    """A URL fit for messages: scheme, host, port and path only (no credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_server(url: str) -> str:
    """Validate a ``--server`` URL.

    Raises:
        ValueError: not an http(s) URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--server {url!r} is not an http(s) URL")
    return url


def fail_closed(call: HookCall, raw: bytes, reason: str, config: HookConfig) -> HookAnswer:
    """The answer when no collector answered properly: deny what waits for a manager."""
    return PROTOCOL.failure(call, raw, reason, dataclasses.replace(config, default="deny"))


async def forward(
    raw: bytes,
    call: HookCall,
    remote: Remote,
    config: HookConfig,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> HookAnswer:
    """Post ``raw`` to the first server that takes it; its answer, or a fail-closed deny."""
    if not remote.servers:
        return fail_closed(call, raw, "no --server given", config)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if remote.token:
        headers["Authorization"] = f"Bearer {remote.token}"
    timeout = httpx.Timeout(
        connect=CONNECT_TIMEOUT, read=remote.timeout + remote.grace, write=30.0, pool=5.0
    )
    missed: list[str] = []
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, transport=transport
    ) as client:
        for url in remote.servers:
            try:
                body = await _ask(client, url, raw, headers, remote.timeout + remote.grace)
            except Unreached as exc:
                missed.append(str(exc))
                continue
            except Refused as exc:
                return fail_closed(call, raw, str(exc), config)
            return _answer(call, raw, body, url, config)
    return fail_closed(call, raw, "no collector reachable: " + "; ".join(missed), config)


async def _ask(
    client: httpx.AsyncClient, url: str, raw: bytes, headers: dict[str, str], wait: float
) -> Any:
    where = public(url)
    try:
        response = await client.post(url, content=raw, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Unreached(f"{where}: {_why(exc)}") from None
    except httpx.TimeoutException:
        raise Refused(f"{where} gave no answer within {wait:g}s") from None
    except httpx.HTTPError as exc:
        raise Refused(f"{where}: {_why(exc)}") from None
    if response.status_code in NOT_REACHED:
        raise Unreached(f"{where}: HTTP {response.status_code}")
    if response.status_code != 200:
        raise Refused(f"{where} answered HTTP {response.status_code}{_error_of(response)}")
    if len(response.content) > MAX_ANSWER:
        raise Refused(f"{where} answered more than {MAX_ANSWER} bytes")
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused(f"{where} answered something that is not JSON") from None


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split())[:200]
    return text or type(exc).__name__


def _error_of(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f" ({' '.join(body['error'].split())[:200]})"
    return ""


def _answer(call: HookCall, raw: bytes, body: Any, url: str, config: HookConfig) -> HookAnswer:
    """The server's answer, if it is one Claude Code would read as meant for this call."""
    where = public(url)
    problem = shape_problem(call.event, body)
    if problem is not None:
        return fail_closed(call, raw, f"{where} answered {problem}", config)
    return HookAnswer(body or None, 0, "")


def shape_problem(event: str, body: Any) -> str | None:
    """Why ``body`` is not a hook answer for ``event`` (None when it is one)."""
    if not isinstance(body, dict):
        return "JSON that is not an object"
    specific = body.get("hookSpecificOutput")
    if specific is None:
        if event in (PERMISSION, PRETOOL) and "decision" in body:
            return "a decision in the wrong shape for a " + event
        return None
    if not isinstance(specific, dict) or specific.get("hookEventName") != event:
        return f"an answer for another event than {event}"
    if event == PERMISSION:
        decision = specific.get("decision")
        if not isinstance(decision, dict) or decision.get("behavior") not in ("allow", "deny"):
            return "a PermissionRequest answer without allow or deny"
    elif event == PRETOOL and specific.get("permissionDecision") not in ("allow", "deny", "ask"):
        return "a PreToolUse answer without allow, deny or ask"
    return None
