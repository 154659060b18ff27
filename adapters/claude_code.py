"""``claude-code`` adapter: Claude Code's HTTP hook endpoint, served by the collector.

Claude Code can call a hook over HTTP (``{"type": "http", "url": ...}``) instead
of spawning ``swarmdeck hook claude-code``. This adapter serves
``POST /hooks/claude-code`` on 127.0.0.1 with exactly the same translation as the
command (see :mod:`swarmdeck.adapters.hooks.claude_code`): the payload becomes
events, a permission becomes an escalation whose decision comes back through
:meth:`ClaudeCodeAdapter.deliver`, and the answer is Claude Code's JSON.

Claude Code counts a non-2xx answer as a failed hook (which lets the call
through), so every answer is ``200`` with JSON: the decision; the configured
default with the reason when none came in time; and a deny in the event's own
shape for everything refused (by the listener guard: Host, Origin, token,
Content-Type, size; or another path or method) or unreadable, whatever the
default says. When Claude Code hangs up first, the request's escalation is
withdrawn at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from swarmdeck.adapters._http_common import ListenerOptions, ServingAdapter, lifespan
from swarmdeck.adapters.base import AdapterContext, AdapterOptions, Batch, Rejected
from swarmdeck.adapters.bridge import STORE_ERRORS
from swarmdeck.adapters.hooks.claude_code import DEFAULT_MATCHER, PROTOCOL, refusal_body
from swarmdeck.adapters.hooks.core import (
    HookAnswer,
    HookConfig,
    HookContext,
    PayloadError,
    handle,
    one_line,
    read_call,
)
from swarmdeck.adapters.hooks.naming import release_session_agent, session_agent_name
from swarmdeck.adapters.listener_guard import Answer, Receive, Refusal, Scope, Send, send_json

#: Bytes of a refused request the guard reads, to answer in the event's own shape.
SNIFF_BYTES = 65_536
#: Why a waiting request's escalation is withdrawn when Claude Code hangs up.
HUNG_UP = (
    "Claude Code stopped waiting (it closed the hook's connection: its own timeout, or "
    "the user interrupted) before a decision came"
)


class ClaudeCodeOptions(ListenerOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    port: int = Field(default=7342, ge=0, le=65535)
    """Port to listen on (0 picks a free one, shown in the adapter's health)."""
    path: str = Field(default="/hooks/claude-code", pattern=r"^/")
    """URL path Claude Code posts hook events to."""
    timeout: float = Field(default=600.0, gt=0, le=366 * 86400, allow_inf_nan=False)
    """Seconds to wait for a decision before answering the default (set Claude Code's
    hook ``timeout`` higher than this)."""
    default: Literal["deny", "allow", "ask"] = "deny"
    """The answer when no decision comes in time (a refused or unreadable request is
    always denied)."""
    pretool_matcher: str = Field(default=DEFAULT_MATCHER, max_length=2000)
    """PreToolUse tools that wait for a manager (regex on the tool name)."""
    review_stop: bool = False
    """Hold Stop/SubagentStop for a manager too (retry keeps Claude working)."""


class ClaudeCodeAdapter(ServingAdapter):
    """Serves Claude Code's HTTP hooks; decisions come back through ``deliver``."""

    type_name: ClassVar[str] = "claude-code"
    description: ClassVar[str] = (
        "Claude Code hook endpoint (HTTP on 127.0.0.1): approve tool calls, track sessions"
    )
    Options: ClassVar[type[AdapterOptions]] = ClaudeCodeOptions
    serves: ClassVar[str] = "Claude Code hooks"
    restart_reason: ClassVar[str] = (
        "the hook endpoint restarted; Claude Code's request ended with it"
    )
    sniff_bytes: ClassVar[int] = SNIFF_BYTES

    opts: ClaudeCodeOptions

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        assert isinstance(options, ClaudeCodeOptions)
        self.opts = options
        self.config = HookConfig(
            timeout=options.timeout,
            default=options.default,
            pretool_matcher=options.pretool_matcher,
            review_stop=options.review_stop,
        )

    def build_app(self) -> Any:
        return self._app

    def refuse(self, refusal: Refusal) -> Answer:
        """Every refusal is ``200`` with a deny in the event's shape: Claude Code counts
        any other status as a failed hook, which lets the tool call through."""
        reason = f"swarmdeck refused the hook call: {refusal.reason}"
        return Answer(200, refusal_body(refusal.body, reason))

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The hook endpoint: one path, POST only; the guard has read the whole body."""
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        raw = b""
        if scope.get("method") == "POST":
            raw = bytes((await receive()).get("body", b""))
        if scope.get("path") != self.opts.path or scope.get("method") != "POST":
            # Denied in the event's shape too: a hook configured with a wrong URL must
            # not let its calls through.
            reason = f"no hook endpoint at {scope.get('method')} {scope.get('path')!r}"
            await send_json(send, self.refuse(Refusal(404, reason, raw)))
            return
        work = asyncio.ensure_future(self.answer(raw))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not work.done():
                # Claude Code hung up (its own timeout, the user interrupted): stop
                # waiting, which withdraws the escalation, since nobody reads the answer.
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
            gone.cancel()
        if work.cancelled():
            return
        answer = work.result()
        if answer.body is not None:
            body = answer.body
        elif answer.exit_code == 2:
            body = refusal_body(raw, answer.stderr)
        else:
            body = {}
        await send_json(send, Answer(200, body))

    async def answer(self, raw: bytes) -> HookAnswer:
        """Translate one hook call and wait for its decision, whatever goes wrong."""
        context = HookContext(call_id=uuid.uuid4().hex, why_gone=lambda: HUNG_UP)
        try:
            call = read_call(PROTOCOL, raw, self.config, context)
        except PayloadError as exc:
            await self.bridge.queue.put(
                Batch(rejected=[Rejected(f"POST {self.opts.path}", raw[:16384], str(exc))])
            )
            # Denied whatever the default says: an unreadable payload (too deep, a field
            # too long) must not be a way around the approval.
            closed = dataclasses.replace(self.config, default="deny")
            return PROTOCOL.failure(None, raw, str(exc), closed)
        try:
            name = await session_agent_name(
                self.context.store, PROTOCOL.sessions_namespace, PROTOCOL.agent_prefix,
                call.session_id, call.cwd, self.context.clock(),
            )  # fmt: skip
            answer = await handle(
                call, protocol=PROTOCOL, bridge=self.bridge, session_agent=name,
                config=self.config, context=context,
            )  # fmt: skip
            if call.ends_session:
                await release_session_agent(
                    self.context.store, PROTOCOL.sessions_namespace, call.session_id
                )
            return answer
        except STORE_ERRORS as exc:
            return PROTOCOL.failure(call, raw, f"store unavailable ({exc})", self.config)
        except Exception as exc:
            # A non-2xx answer lets Claude Code's tool call through: any failure must
            # still answer 200 with the configured default, never a silent allow.
            self.context.log.exception("hook endpoint failed on a %s", call.event)
            return PROTOCOL.failure(call, raw, f"internal error ({one_line(exc)})", self.config)


async def _disconnected(receive: Receive) -> None:
    """Return when the client's connection is gone."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
