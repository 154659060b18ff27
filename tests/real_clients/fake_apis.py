"""Scripted fake model APIs on 127.0.0.1 for the real coding-agent CLIs.

Each fake speaks exactly one vendor's wire protocol (Anthropic Messages, OpenAI
Responses, Gemini ``streamGenerateContent``), records every request it gets, and
answers from a tiny script: while the conversation has not yet carried the result
of *our* tool call, it asks for one shell tool call (``Script.command``); once the
result is back, it answers ``Script.final_text``. Requests that offer no shell tool
at all (title generation, routing, summaries: each CLI sends some) get plain text
and do not advance anything. Deciding from the conversation instead of counting
requests keeps the script right whatever side requests a CLI version adds.

The servers are stdlib ``ThreadingHTTPServer``s in a daemon thread of the test
process: no extra dependency, and a test can read ``requests`` while the CLI runs.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Script:
    """What the fake model does: one shell call, then a final answer."""

    command: str
    """The shell command the model asks to run (e.g. ``touch /tmp/x/ran``)."""
    final_text: str = "done"
    """The answer once the tool's result (or its refusal) came back."""
    description: str = "touch the marker file"
    """The call's justification, where the tool takes one."""
    tool: str | None = None
    """Call this tool instead of the CLI's shell (e.g. an MCP tool), with ``tool_input``."""
    tool_input: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass(slots=True)
class Reply:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def sse(events: list[dict[str, Any]], *, named: bool) -> bytes:
    """Server-sent events: ``event: <type>`` (when ``named``) and ``data: <json>`` per event."""
    out = []
    for event in events:
        head = f"event: {event['type']}\n" if named else ""
        out.append(f"{head}data: {json.dumps(event)}\n\n")
    return "".join(out).encode()


def json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, "application/json", json.dumps(data).encode())


class FakeApi:
    """Base: the HTTP plumbing, the request log, and the script. Subclasses answer."""

    #: The tool call id every fake uses, so a test can find its result in a request.
    CALL_ID: ClassVar[str] = "call_swarmdeck_1"

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                return

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with fake._lock:
                    fake.requests.append(recorded)
                try:
                    reply = fake.answer(recorded)
                except Exception as exc:  # a fake's bug must show up as an HTTP error
                    reply = json_reply({"error": {"message": f"fake api: {exc!r}"}}, 500)
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(reply.body)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the fake first"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ what tests read

    def snapshot(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def model_requests(self) -> list[Recorded]:
        """Requests that offered the shell tool: the agent's own turns."""
        return [r for r in self.snapshot() if self.offers_shell(r)]

    def last_model_request(self) -> Recorded:
        found = self.model_requests()
        assert found, f"no model request offered the shell tool; got {self.describe()}"
        return found[-1]

    def tool_result(self) -> str | None:
        """The text the CLI sent back for our tool call (None while it has not)."""
        for request in reversed(self.model_requests()):
            text = self.result_of_call(request)
            if text is not None:
                return text
        return None

    def describe(self) -> str:
        return ", ".join(f"{r.method} {r.path}" for r in self.snapshot()) or "no requests"

    # ------------------------------------------------------------------ protocol

    def answer(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def offers_shell(self, request: Recorded) -> bool:
        raise NotImplementedError

    def result_of_call(self, request: Recorded) -> str | None:
        raise NotImplementedError

    def wants_tool_call(self, request: Recorded) -> bool:
        return self.offers_shell(request) and self.result_of_call(request) is None


# ============================================================================ Anthropic


class AnthropicFake(FakeApi):
    """Anthropic Messages API (``POST /v1/messages``) as Claude Code uses it.

    Claude Code streams (``stream: true``): message_start, content_block_start /
    content_block_delta / content_block_stop per block, message_delta, message_stop.
    The tool call is a ``tool_use`` block for its ``Bash`` tool.
    """

    CALL_ID = "toolu_swarmdeck_1"
    SHELL = "Bash"

    @property
    def tool(self) -> str:
        return self.script.tool or self.SHELL

    def offers_shell(self, request: Recorded) -> bool:
        body = request.body if isinstance(request.body, dict) else {}
        return request.path.endswith("/messages") and any(
            isinstance(t, dict) and t.get("name") == self.tool for t in body.get("tools") or []
        )

    def offered_tools(self) -> list[str]:
        """Tool names of the last Messages request (to see what Claude Code offers)."""
        for request in reversed(self.snapshot()):
            body = request.body if isinstance(request.body, dict) else {}
            if body.get("tools"):
                return [str(t.get("name")) for t in body["tools"] if isinstance(t, dict)]
        return []

    def result_of_call(self, request: Recorded) -> str | None:
        body = request.body if isinstance(request.body, dict) else {}
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if not isinstance(content, list):
                continue
            for block in content:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_result"
                    and block.get("tool_use_id") == self.CALL_ID
                ):
                    return _flatten_text(block.get("content"))
        return None

    def tool_result_block(self) -> dict[str, Any] | None:
        """The whole ``tool_result`` block of our call (``is_error`` included)."""
        for request in reversed(self.model_requests()):
            body = request.body if isinstance(request.body, dict) else {}
            for message in body.get("messages") or []:
                for block in message.get("content") or []:
                    if (
                        isinstance(block, dict)
                        and block.get("type") == "tool_result"
                        and block.get("tool_use_id") == self.CALL_ID
                    ):
                        return block
        return None

    def answer(self, request: Recorded) -> Reply:
        if request.method == "HEAD" or request.method == "GET":
            return Reply(200, "application/json", b"{}")
        if request.path.endswith("/count_tokens"):
            return json_reply({"input_tokens": 10})
        if not request.path.endswith("/messages"):
            return json_reply({"type": "error", "error": {"type": "not_found_error"}}, 404)
        body = request.body if isinstance(request.body, dict) else {}
        if self.wants_tool_call(request):
            blocks: list[dict[str, Any]] = [
                {
                    "type": "tool_use",
                    "id": self.CALL_ID,
                    "name": self.tool,
                    "input": self.script.tool_input
                    or {"command": self.script.command, "description": self.script.description},
                }
            ]
            stop = "tool_use"
        else:
            blocks = [{"type": "text", "text": self.script.final_text}]
            stop = "end_turn"
        model = str(body.get("model") or "claude-fake")
        usage = {"input_tokens": 5, "output_tokens": 1}
        if not body.get("stream"):
            return json_reply(
                {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage,
                }
            )
        events: list[dict[str, Any]] = [
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": usage,
                },
            }
        ]
        for index, block in enumerate(blocks):
            start: dict[str, Any]
            delta: dict[str, Any]
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": block["text"]}
            else:
                start = {**block, "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
            events += [
                {"type": "content_block_start", "index": index, "content_block": start},
                {"type": "content_block_delta", "index": index, "delta": delta},
                {"type": "content_block_stop", "index": index},
            ]
        events += [
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 1},
            },
            {"type": "message_stop"},
        ]
        return Reply(200, "text/event-stream", sse(events, named=True))


# ============================================================================ OpenAI Responses


class ResponsesFake(FakeApi):
    """OpenAI Responses API (``POST /v1/responses``, SSE) as Codex's custom provider uses it.

    Codex offers ``exec_command`` (args ``cmd``, ``sandbox_permissions``,
    ``justification``); the call is a ``function_call`` output item, the result comes
    back as a ``function_call_output`` input item with the same ``call_id``.
    """

    SHELL = "exec_command"

    def __init__(self, script: Script, *, escalate: bool = False) -> None:
        super().__init__(script)
        #: Ask for ``sandbox_permissions: require_escalated`` (what makes Codex's
        #: PermissionRequest fire under an approvals reviewer).
        self.escalate = escalate

    #: Codex's automatic approval reviewer (the "guardian", used with --approve-for-me
    #: when no hook decided) sends the planned action between these lines.
    REVIEW_MARK = ">>> APPROVAL REQUEST START"

    def offers_shell(self, request: Recorded) -> bool:
        body = request.body if isinstance(request.body, dict) else {}
        return (
            request.path.endswith("/responses")
            and not self.is_review(request)
            and any(
                isinstance(t, dict) and t.get("name") == self.SHELL for t in body.get("tools") or []
            )
        )

    def is_review(self, request: Recorded) -> bool:
        """A guardian review request: it gets plain text (not a verdict), so the review
        fails and Codex rejects the command instead of the fake approving anything."""
        return isinstance(request.body, dict) and self.REVIEW_MARK in json.dumps(
            request.body.get("input")
        )

    def reviews(self) -> list[Recorded]:
        return [r for r in self.snapshot() if self.is_review(r)]

    def result_of_call(self, request: Recorded) -> str | None:
        body = request.body if isinstance(request.body, dict) else {}
        for item in body.get("input") or []:
            if (
                isinstance(item, dict)
                and item.get("type") == "function_call_output"
                and item.get("call_id") == self.CALL_ID
            ):
                return _flatten_text(item.get("output"))
        return None

    def answer(self, request: Recorded) -> Reply:
        if not request.path.endswith("/responses"):
            return json_reply({"error": {"message": "not found"}}, 404)
        if self.wants_tool_call(request):
            arguments: dict[str, Any] = {"cmd": self.script.command}
            if self.escalate:
                arguments["sandbox_permissions"] = "require_escalated"
                arguments["justification"] = self.script.description
            item: dict[str, Any] = {
                "type": "function_call",
                "id": "fc_swarmdeck_1",
                "call_id": self.CALL_ID,
                "name": self.SHELL,
                "arguments": json.dumps(arguments),
            }
        else:
            item = {
                "type": "message",
                "id": "msg_swarmdeck_1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": self.script.final_text}],
            }
        usage = {
            "input_tokens": 0,
            "input_tokens_details": None,
            "output_tokens": 0,
            "output_tokens_details": None,
            "total_tokens": 0,
        }
        events: list[dict[str, Any]] = [
            {"type": "response.created", "response": {"id": "resp_fake"}},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": {"id": "resp_fake", "usage": usage}},
        ]
        return Reply(200, "text/event-stream", sse(events, named=True))


# ============================================================================ Gemini


class GeminiFake(FakeApi):
    """Gemini API (``models/<m>:streamGenerateContent?alt=sse`` and ``:generateContent``).

    Gemini CLI's shell tool is ``run_shell_command`` (arg ``command``); the call is a
    ``functionCall`` part, the result a ``functionResponse`` part of a later request.
    """

    SHELL = "run_shell_command"

    def offers_shell(self, request: Recorded) -> bool:
        body = request.body if isinstance(request.body, dict) else {}
        for tool in body.get("tools") or []:
            for decl in (tool or {}).get("functionDeclarations") or []:
                if isinstance(decl, dict) and decl.get("name") == self.SHELL:
                    return True
        return False

    def result_of_call(self, request: Recorded) -> str | None:
        body = request.body if isinstance(request.body, dict) else {}
        for content in body.get("contents") or []:
            for part in (content or {}).get("parts") or []:
                response = part.get("functionResponse") if isinstance(part, dict) else None
                if isinstance(response, dict) and response.get("name") == self.SHELL:
                    return json.dumps(response.get("response"), sort_keys=True)
        return None

    def answer(self, request: Recorded) -> Reply:
        if ":" not in request.path.rsplit("/", 1)[-1]:
            return json_reply({"error": {"code": 404, "message": "not found"}}, 404)
        method = request.path.rsplit(":", 1)[-1]
        if method == "countTokens":
            return json_reply({"totalTokens": 10})
        if self.wants_tool_call(request):
            part: dict[str, Any] = {
                "functionCall": {"name": self.SHELL, "args": {"command": self.script.command}}
            }
        else:
            part = {"text": self.script.final_text}
        chunk = {
            "candidates": [
                {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 1,
                "candidatesTokenCount": 1,
                "totalTokenCount": 2,
            },
            "modelVersion": "gemini-fake",
        }
        if method == "streamGenerateContent":
            return Reply(200, "text/event-stream", f"data: {json.dumps(chunk)}\n\n".encode())
        return json_reply(chunk)


def _flatten_text(content: Any) -> str:
    """Tool results come as a string or a list of text blocks; one string either way."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_flatten_text(c) for c in content)
    if isinstance(content, dict):
        if "text" in content:
            return str(content["text"])
        return json.dumps(content, sort_keys=True)
    return str(content)


def iter_bodies(requests: list[Recorded]) -> Iterator[dict[str, Any]]:
    for request in requests:
        if isinstance(request.body, dict):
            yield request.body
