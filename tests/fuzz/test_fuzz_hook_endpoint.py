"""Door: the Claude Code hook endpoint, over real HTTP, inside a running collector.

``default = "allow"`` on purpose: the only allow an attacker may ever see is the configured
default for an authenticated, readable permission nobody decided in time. Everything else
(refused by the guard, unreadable, nested, oversized, wrong path) is a deny in the event's
own shape, always with status 200 (any other status lets Claude Code's call through), and a
good request right after is still answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmdeck.adapters.claude_code import ClaudeCodeAdapter
from swarmdeck.adapters.hooks.claude_code import parse_payload
from swarmdeck.adapters.hooks.core import PayloadError
from swarmdeck.adapters.supervisor import Instance
from tests.fuzz.conftest import FUZZ, Collector, LoopThread, Tally
from tests.fuzz.strategies import json_value, nested, text
from tests.helpers.hooks import payload
from tests.helpers.listeners import TOKEN

DOOR = "hook endpoint (HTTP)"
FIXTURES = ["permission_request_bash", "pretooluse_write", "pretooluse_read", "stop",
            "notification_idle", "subagent_stop", "pretooluse_subagent_bash"]  # fmt: skip


@st.composite
def hook_body(draw: st.DrawFn) -> bytes:
    shape = draw(st.sampled_from(["fixture", "mutated", "mutated", "deep", "junk", "huge"]))
    base = payload(draw(st.sampled_from(FIXTURES)))
    if shape == "fixture":
        return json.dumps(base).encode()
    if shape == "mutated":
        key = draw(st.sampled_from([*base, "tool_input", "hook_event_name", "extra"]))
        if draw(st.booleans()):
            base[key] = draw(json_value())
        else:
            base.pop(key, None)
        if draw(st.booleans()):
            base["session_id"] = draw(text())
        return json.dumps(base).encode()
    if shape == "deep":
        head = json.dumps({k: v for k, v in base.items() if k != "tool_input"})
        depth = draw(st.sampled_from([63, 65, 199, 2000]))
        return (head[:-1] + ', "tool_input": ' + nested(depth) + "}").encode()
    if shape == "huge":
        return json.dumps({**base, "tool_input": {"command": "x" * (5 << 20)}}).encode()
    return draw(st.binary(max_size=300))


@st.composite
def request(draw: st.DrawFn) -> dict[str, Any]:
    """Half the requests attack the body alone (everything else right), half the headers."""
    if draw(st.booleans()):
        body = draw(hook_body())
        right = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        return {"headers": right, "host": None, "path": "/hooks/claude-code", "method": "POST",
                "body": body, "authorized": len(body) <= 4 << 20}  # fmt: skip
    auth = draw(st.sampled_from(["good", "good", "good", "none", "wrong", "basic"]))
    headers = {
        "good": {"Authorization": f"Bearer {TOKEN}"},
        "none": {},
        "wrong": {"Authorization": f"Bearer {TOKEN[:-1]}x"},
        "basic": {"Authorization": "Basic YTpi"},
    }[auth]
    content_type = draw(st.sampled_from(["application/json", "application/json",
                                         "application/json; charset=utf-8", "text/plain",
                                         "application/x-www-form-urlencoded", None]))  # fmt: skip
    if content_type:
        headers["Content-Type"] = content_type
    origin = draw(st.sampled_from([None, None, None, "http://evil.example", "null"]))
    if origin:
        headers["Origin"] = origin
    host = draw(st.sampled_from([None, None, None, "evil.example", "localhost"]))
    path = draw(st.sampled_from(["/hooks/claude-code"] * 5 + ["/", "/hooks", "/mcp"]))
    method = draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT"]))
    body = draw(hook_body())
    good = (
        auth == "good" and content_type is not None and content_type.startswith("application/json")
        and origin is None and host in (None, "localhost") and path == "/hooks/claude-code"
        and method == "POST" and len(body) <= 4 * 1024 * 1024
    )  # fmt: skip
    return {"headers": headers, "host": host, "path": path, "method": method, "body": body,
            "authorized": good}  # fmt: skip


def allows(answer: Any) -> bool:
    if not isinstance(answer, dict):
        return False
    out = answer.get("hookSpecificOutput") or {}
    return (
        (out.get("decision") or {}).get("behavior") == "allow"
        or out.get("permissionDecision") == "allow"
        or answer.get("decision") == "approve"
    )


class Endpoint(Collector):
    """The claude-code adapter in a running collector, ``default = allow``."""

    def __init__(self, runner: LoopThread, db: Path) -> None:
        options = ClaudeCodeAdapter.parse_options({"port": 0, "timeout": 0.2, "default": "allow"})
        super().__init__(runner, db, Instance("claude", ClaudeCodeAdapter, options))
        self.port_number = self.port("claude")


@pytest.fixture
def endpoint(tmp_path: Path, loop_thread: LoopThread) -> Iterator[Endpoint]:
    running = Endpoint(loop_thread, tmp_path / "hook.db")
    yield running
    running.close()


@settings(FUZZ, max_examples=2 * FUZZ.max_examples)
@given(req=request())
def test_the_hook_endpoint_never_fails_open(
    endpoint: Endpoint, tally: Tally, req: dict[str, Any]
) -> None:
    base = f"http://127.0.0.1:{endpoint.port_number}"
    headers = dict(req["headers"])
    if req["host"]:
        headers["Host"] = (
            req["host"] if req["host"] != "localhost" else f"localhost:{endpoint.port_number}"
        )
    with httpx.Client(timeout=20) as http:
        try:
            response = http.request(
                req["method"], base + req["path"], content=req["body"], headers=headers
            )
        except httpx.TransportError as exc:  # a reset is a failed hook: a fail-open
            tally.record(DOOR, "other")
            raise AssertionError(f"no answer: {exc!r}") from None
        ok = response.status_code == 200 and response.headers["content-type"].startswith(
            "application/json"
        )
        answer = response.json() if ok else None
        readable = True
        try:
            parse_payload(req["body"])
        except PayloadError:
            readable = False
        allowed = allows(answer)
        legit_allow = allowed and req["authorized"] and readable
        if not ok or (allowed and not legit_allow):
            tally.record(DOOR, "other")
        assert ok, (response.status_code, response.text[:200])
        assert not allowed or legit_allow, (req["headers"], req["path"], answer)
        after = http.post(
            base + "/hooks/claude-code", json=payload("notification_idle"),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )  # fmt: skip
        assert (after.status_code, after.json()) == (200, {})  # nothing else is blocked
    tally.record(DOOR, "accepted" if req["authorized"] and readable else "refused cleanly")
