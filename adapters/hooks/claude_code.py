"""Claude Code's hook protocol: its payloads in, its answers out (docs/integrations.md).

* PermissionRequest (always) and PreToolUse (for tools matching ``hooks.pretool_matcher``)
  are gates: approve -> allow; reject -> deny with the manager's reason; reroute -> deny
  whose reason names who takes over (on both events, so the model hears it). swarmdeck's
  own MCP tools are never gated (:func:`~.core.own_tool`).
* Notification -> ``agent.status`` (blocked when a permission prompt waits, idle when
  Claude waits for input); Stop -> idle; SubagentStop -> the subagent is done. With
  ``review_stop`` on, Stop/SubagentStop wait for a manager, and a ``retry`` answers
  ``{"decision": "block", "reason": ...}``.
* Sessions are ``claude:<dir>``; a subagent is ``claude:<dir>/sub:<agent_type>#<id>``.

Claude Code lets a call through on any exit code but 0 and 2, so an unusable payload
denies with exit 2 (unless ``hooks.default`` says otherwise) and a store that cannot be
reached answers the configured default in the event's own JSON.
"""

from __future__ import annotations

import shlex
from typing import Any, ClassVar

from pydantic import Field

from swarmdeck.adapters.bridge import Outcome
from swarmdeck.adapters.hooks.core import (
    CLAUDE_MATCHER,
    BasePayload,
    Default,
    HookAnswer,
    HookCall,
    HookConfig,
    HookContext,
    HookProtocol,
    PayloadError,
    ToolKind,
    Verdict,
    continue_text,
    event_name_of,
    load_payload,
    own_tool,
    unavailable,
    verdict_of,
)
from swarmdeck.adapters.hooks.naming import base_name as _base_name
from swarmdeck.adapters.hooks.translate import describe_tool

PERMISSION = "PermissionRequest"
PRETOOL = "PreToolUse"
STOP_EVENTS = ("Stop", "SubagentStop")
DEFAULT_MATCHER = CLAUDE_MATCHER
WRITE_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit")


class HookPayload(BasePayload):
    """One Claude Code hook call's input (stdin or POST body)."""

    permission_mode: str | None = Field(default=None, max_length=100)
    tool_use_id: str | None = Field(default=None, max_length=200)
    agent_id: str | None = Field(default=None, max_length=200)
    agent_type: str | None = Field(default=None, max_length=200)
    message: str | None = Field(default=None, max_length=262_144)
    title: str | None = Field(default=None, max_length=4096)
    notification_type: str | None = Field(default=None, max_length=100)
    stop_hook_active: bool = False
    last_assistant_message: str | None = Field(default=None, max_length=262_144)


def parse_payload(raw: bytes | str) -> HookPayload:
    """Validate a Claude Code hook payload.

    Raises:
        PayloadError: not JSON, not an object, or a required field missing, in one line.
    """
    payload = load_payload(raw, HookPayload, "Claude Code")
    if payload.hook_event_name in (PERMISSION, PRETOOL) and not payload.tool_name:
        raise PayloadError(f"hook payload invalid: {payload.hook_event_name} without tool_name")
    return payload


def base_name(cwd: str) -> str:
    """``/home/u/repo`` -> ``claude:repo``."""
    return _base_name(ClaudeCode.agent_prefix, cwd)


def tool_kind(tool: str) -> ToolKind:
    if tool == "Bash":
        return "shell"
    if tool in WRITE_TOOLS:
        return "write"
    return "mcp" if tool.startswith("mcp__") else "other"


def _paths(tool: str, data: dict[str, Any]) -> tuple[str, ...]:
    if tool not in WRITE_TOOLS:
        return ()
    path = data.get("file_path") or data.get("path") or data.get("notebook_path")
    return (path,) if isinstance(path, str) else ()


def _status(p: HookPayload, what: str) -> tuple[str, str] | None:
    """(state, activity) of a status-only event, or None for a log line."""
    name = p.hook_event_name
    if name == "Notification":
        text = p.message or p.title or "notification"
        kind = p.notification_type or ""
        if kind in ("permission_prompt", "elicitation_dialog") or "permission" in text.lower():
            return "blocked", f"waiting for permission: {text}"
        if kind == "idle_prompt" or "waiting for your input" in text.lower():
            return "idle", f"waiting for input: {text}"
        return None
    if name == PRETOOL:
        return "working", what or "working"
    if name == "PostToolUse":
        return "working", f"ran {what}" if what else "working"
    if name == "UserPromptSubmit":
        return "working", "prompt submitted"
    if name == "SessionStart":
        return "working", "session started"
    if name == "SessionEnd":
        return "offline", "session ended"
    return None


def permission_answer(event: str, outcome: Outcome, default: Default) -> dict[str, Any] | None:
    """Claude Code's JSON for a PermissionRequest/PreToolUse given how the wait ended."""
    return _render(event, verdict_of(outcome, default))


def _render(event: str, verdict: Verdict) -> dict[str, Any] | None:
    if event == PERMISSION:
        if verdict.behavior == "ask":
            return None  # Claude Code shows its own dialog
        decision: dict[str, Any] = {"behavior": verdict.behavior}
        if verdict.behavior == "deny":
            # A reroute is a deny whose message names who takes over. Never
            # ``interrupt: true``: Claude Code then aborts the run before the model
            # hears the message, so it would not know to stop and hand over.
            decision["message"] = verdict.reason
        return {"hookSpecificOutput": {"hookEventName": PERMISSION, "decision": decision}}
    return {
        "hookSpecificOutput": {
            "hookEventName": PRETOOL,
            "permissionDecision": verdict.behavior,
            "permissionDecisionReason": verdict.reason,
        }
    }


def stop_answer(outcome: Outcome) -> dict[str, Any] | None:
    """Stop/SubagentStop: retry or answer keep Claude working; anything else lets it stop."""
    text = continue_text(outcome)
    return None if text is None else {"decision": "block", "reason": text}


def default_answer(default: Default, reason: str) -> HookAnswer:
    """When the payload itself is unusable: deny = exit 2 with the reason (blocks the call)."""
    message = f"swarmdeck: {reason}; answered {default}"
    if default == "deny":
        return HookAnswer(None, 2, message)
    return HookAnswer(None, 0, message)


def unreadable_answer(raw: bytes, reason: str, default: Default) -> HookAnswer:
    """The answer to a payload that could not be read, on stdin.

    Never an ``allow`` where something asks for permission, whatever ``hooks.default``
    says (the default is for a wait nobody answered, not for input nobody could read):
    a PermissionRequest or PreToolUse (told by the top level of the payload), or a
    payload whose event cannot be told at all, is refused with exit 2, which blocks the
    call. Stop/SubagentStop get nothing, as refusing to stop would keep an agent going;
    other events, which ask nothing, the configured default.
    """
    event = event_name_of(raw)
    if event in STOP_EVENTS:
        return HookAnswer(None, 0, f"swarmdeck: {reason}")
    if event is None or event in (PERMISSION, PRETOOL):
        return default_answer("deny", reason)
    return default_answer(default, reason)


def refusal_body(raw: bytes | str, reason: str) -> dict[str, Any]:
    """A deny in the event's own shape for a request refused or unreadable.

    The event is read from the top level of ``raw`` only (:func:`~.core.event_name_of`),
    which may not parse at all. A permission becomes a deny; Stop/SubagentStop get
    nothing (stopping is the safe side); anything else a ``block``. Never the configured
    default: a refused request must not get an ``allow`` whatever ``hooks.default`` says.
    """
    event = event_name_of(raw)
    if event in (PERMISSION, PRETOOL):
        verdict = Verdict("deny", reason, unavailable(reason))
        body = _render(event, verdict)
        assert body is not None  # a deny always has a body
        return body
    if event in STOP_EVENTS:
        return {}
    return {"decision": "block", "reason": reason}


class ClaudeCode(HookProtocol):
    vendor: ClassVar[str] = "claude-code"
    title: ClassVar[str] = "Claude Code"
    agent_prefix: ClassVar[str] = "claude"
    escalation_prefix: ClassVar[str] = "cc"

    def read(self, raw: bytes, config: HookConfig, context: HookContext) -> HookCall:
        p = parse_payload(raw)
        name = p.hook_event_name
        tool = p.tool_name or ""
        data = p.tool_input or {}
        what = describe_tool(tool, p.tool_input) if tool else ""
        details = [f"permission mode: {p.permission_mode}"] if p.permission_mode else []
        if name == PRETOOL and p.tool_use_id:
            details.append(f"tool use: {p.tool_use_id}")
        # swarmdeck's own MCP tools are never gated (not even by a PermissionRequest: the
        # tool asks the manager itself); Claude Code's own permission rules apply to them.
        gate = (name == PERMISSION and not own_tool(tool, config.own_mcp_servers)) or (
            name == PRETOOL and config.gates(tool, config.pretool_matcher)
        )
        common: dict[str, Any] = {
            "vendor": self.vendor,
            "event": name,
            "session_id": p.session_id,
            "cwd": p.cwd,
            "subagent_id": p.agent_id,
            "subagent_type": p.agent_type,
        }
        if gate:
            return HookCall(
                intent="gate", title=what, tool=tool, tool_input=p.tool_input,
                tool_kind=tool_kind(tool),
                command=str(data.get("command", "")) if tool == "Bash" else None,
                paths=_paths(tool, data), details=tuple(details), **common,
            )  # fmt: skip
        if name in STOP_EVENTS:
            subagent = name == "SubagentStop"
            activity = "finished" if subagent else "finished its turn; waiting for the next prompt"
            if p.last_assistant_message:
                activity += f": {p.last_assistant_message}"
            return HookCall(
                intent="review", state="done" if subagent else "idle", activity=activity,
                last_message=p.last_assistant_message, **common,
            )  # fmt: skip
        status = _status(p, what)
        if status is not None:
            return HookCall(intent="status", state=status[0], activity=status[1], **common)
        if name == "Notification":
            text = p.message or p.title or "notification"
            return HookCall(intent="log", activity=f"notification: {text}", **common)
        return HookCall(intent="log", activity=f"{name} hook", **common)

    def gate_answer(self, call: HookCall, verdict: Verdict, context: HookContext) -> HookAnswer:
        return HookAnswer(_render(call.event, verdict), 0, "", verdict.outcome)

    def review_answer(self, call: HookCall, outcome: Outcome) -> HookAnswer:
        return HookAnswer(stop_answer(outcome), 0, "", outcome)

    def failure(
        self, call: HookCall | None, raw: bytes, reason: str, config: HookConfig
    ) -> HookAnswer:
        if call is None:
            return unreadable_answer(raw, reason, config.default)
        outcome = unavailable(reason)
        message = f"swarmdeck: {reason}"
        if call.intent == "gate":
            # hooks.default is for a wait nobody answered: a failure (the store down, a bug)
            # never answers allow; "ask" (Claude Code's own dialog) is safe and kept.
            fallback: Default = "ask" if config.default == "ask" else "deny"
            body = _render(call.event, verdict_of(outcome, fallback))
            return HookAnswer(body, 0, f"{message}; answered {fallback}", outcome)
        # Status-only hooks: nothing to decide, the call proceeds as Claude Code would anyway.
        return HookAnswer(None, 0, message, outcome)


PROTOCOL = ClaudeCode()


def shell_command(executable: str) -> str:
    """The hook command line for a swarmdeck executable path."""
    return f"{shlex.quote(executable)} hook claude-code"
