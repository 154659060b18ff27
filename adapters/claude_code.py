"""``claude-code`` adapter: Claude Code's HTTP hook endpoint, served by the collector.

Claude Code can call a hook over HTTP (``{"type": "http", "url": ...}``) instead
of spawning ``swarmdeck hook claude-code``. This adapter serves
``POST /hooks/claude-code`` on 127.0.0.1 with exactly the same translation as the
command (see :mod:`swarmdeck.adapters.hooks.claude_code`): the payload becomes
events, a permission becomes an escalation whose decision comes back through
:meth:`ClaudeCodeAdapter.deliver`, and the answer is Claude Code's JSON.

Claude Code counts a non-2xx answer as a failed hook (which lets the call
through), so every answer is ``200`` with JSON: the decision, or the configured
default with the reason.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from swarmdeck.adapters._http_common import ServingAdapter
from swarmdeck.adapters.base import AdapterContext, AdapterOptions, Batch, Rejected
from swarmdeck.adapters.bridge import STORE_ERRORS
from swarmdeck.adapters.hooks.claude_code import DEFAULT_MATCHER, PERMISSION, PRETOOL, PROTOCOL
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

MAX_BODY = 4 * 1024 * 1024


class ClaudeCodeOptions(AdapterOptions):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Address to listen on; anything but loopback needs ``allow_remote``."""
    port: int = Field(default=7342, ge=0, le=65535)
    """Port to listen on (0 picks a free one, shown in the adapter's health)."""
    path: str = Field(default="/hooks/claude-code", pattern=r"^/")
    """URL path Claude Code posts hook events to."""
    allow_remote: bool = False
    """Allow a non-loopback ``host``: anyone who can connect could approve tool calls."""
    timeout: float = Field(default=600.0, gt=0)
    """Seconds to wait for a decision before answering the default (set Claude Code's
    hook ``timeout`` higher than this)."""
    default: Literal["deny", "allow", "ask"] = "deny"
    """The answer when no decision comes in time."""
    pretool_matcher: str = DEFAULT_MATCHER
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

    def build_app(self) -> Starlette:
        return Starlette(routes=[Route(self.opts.path, self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        raw = await request.body()
        answer = await self.answer(raw)
        if answer.body is not None:
            return JSONResponse(answer.body)
        if answer.exit_code == 2:
            return JSONResponse(_blocking_body(raw, answer.stderr))
        return JSONResponse({})

    async def answer(self, raw: bytes) -> HookAnswer:
        """Translate one hook call and wait for its decision, whatever goes wrong."""
        context = HookContext(call_id=uuid.uuid4().hex)
        try:
            if len(raw) > MAX_BODY:
                raise PayloadError(f"hook payload larger than {MAX_BODY} bytes")
            call = read_call(PROTOCOL, raw, self.config, context)
        except PayloadError as exc:
            await self.bridge.queue.put(
                Batch(rejected=[Rejected(f"POST {self.opts.path}", raw[:16384], str(exc))])
            )
            return PROTOCOL.failure(None, raw, str(exc), self.config)
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


def _blocking_body(raw: bytes, reason: str) -> dict[str, Any]:
    """A deny for a payload we could not read: in the event's own shape when it is known."""
    event = None
    try:
        data = json.loads(raw)
        if isinstance(data, dict):
            event = data.get("hook_event_name")
    except (ValueError, UnicodeDecodeError):
        pass
    if event == PERMISSION:
        return {
            "hookSpecificOutput": {
                "hookEventName": PERMISSION,
                "decision": {"behavior": "deny", "message": reason},
            }
        }
    if event == PRETOOL:
        return {
            "hookSpecificOutput": {
                "hookEventName": PRETOOL,
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }
    return {"decision": "block", "reason": reason}
