"""Gemini CLI's hook protocol (``@google/gemini-cli``; checked on 0.61.0).

* ``BeforeTool`` gates the tools matching ``hooks.gemini_matcher`` (``run_shell_command``,
  ``write_file``, ``replace``, MCP tools ``mcp_<server>_<tool>``): approve ->
  ``{"decision": "allow"}``; reject -> ``{"decision": "deny", "reason": ...}`` (the model
  reads "Tool execution blocked: <reason>" and the turn goes on). ``allow`` cannot skip a
  confirmation Gemini's own policy requires: an interactive user still confirms then.
* ``ask`` (a ``hooks.default = "ask"`` timeout) hands the call to Gemini's own prompt,
  and only when a person sits at the terminal (:mod:`.gemini_session`): a headless run
  that is asked hangs until killed, so there it denies.
* ``SessionStart``, ``BeforeAgent``, ``AfterTool``, ``AfterAgent``, ``Notification``
  (``ToolPermission``: blocked), ``SessionEnd`` keep the session's agent row current.
* Sessions are ``gemini:<dir>``.

Gemini *fails open*: a hook that times out (60 s unless configured; ``swarmdeck install
gemini`` sets more) or exits 1 lets the tool run. Exit code 2 with a non-empty stderr is
a deny whatever stdout holds (``hookRunner.ts``: on a non-zero exit only stderr is read,
and 2 turns it into ``{"decision": "deny", "reason": <stderr>}``), so every failure of
ours, and every timeout, exits 2 with the reason on stderr.
"""

from __future__ import annotations

from typing import Any, ClassVar

from swarmdeck.adapters.hooks.core import (
    BasePayload,
    HookAnswer,
    HookCall,
    HookConfig,
    HookContext,
    HookProtocol,
    PayloadError,
    ToolKind,
    Verdict,
    event_name_of,
    load_payload,
    unavailable,
)
from swarmdeck.adapters.hooks.translate import describe_tool

BEFORE_TOOL = "BeforeTool"
#: Exit code Gemini reads as a deny (with stderr as the reason).
BLOCK = 2
DEFAULT_MATCHER = "run_shell_command|write_file|replace|mcp_.*"
WRITE_TOOLS = ("write_file", "replace", "edit")


class GeminiPayload(BasePayload):
    """One Gemini CLI hook call's input (stdin)."""

    timestamp: str | None = None
    prompt: str | None = None
    prompt_response: str | None = None
    stop_hook_active: bool = False
    source: str | None = None
    reason: str | None = None
    notification_type: str | None = None
    message: str | None = None
    details: dict[str, Any] | None = None
    original_request_name: str | None = None


def tool_kind(tool: str) -> ToolKind:
    if tool == "run_shell_command":
        return "shell"
    if tool in WRITE_TOOLS:
        return "write"
    return "mcp" if tool.startswith("mcp_") else "other"


def _status(p: GeminiPayload, what: str) -> tuple[str, str] | None:
    name = p.hook_event_name
    if name == BEFORE_TOOL:
        return "working", what
    if name == "AfterTool":
        return "working", f"ran {what}"
    if name == "BeforeAgent":
        return "working", "prompt submitted"
    if name == "AfterAgent":
        text = "finished its turn; waiting for the next prompt"
        return "idle", f"{text}: {p.prompt_response}" if p.prompt_response else text
    if name == "SessionStart":
        return "working", "session started"
    if name == "SessionEnd":
        return "offline", "session ended" + (f" ({p.reason})" if p.reason else "")
    if name == "Notification" and p.notification_type == "ToolPermission":
        return "blocked", f"waiting for permission: {p.message or 'a tool call'}"
    return None


class Gemini(HookProtocol):
    vendor: ClassVar[str] = "gemini"
    title: ClassVar[str] = "Gemini CLI"
    agent_prefix: ClassVar[str] = "gemini"
    escalation_prefix: ClassVar[str] = "gm"

    def read(self, raw: bytes, config: HookConfig, context: HookContext) -> HookCall:
        p = load_payload(raw, GeminiPayload, "Gemini CLI")
        name = p.hook_event_name
        if name == BEFORE_TOOL and not p.tool_name:
            raise PayloadError("hook payload invalid: BeforeTool without tool_name")
        tool = p.tool_name or ""
        data = p.tool_input or {}
        kind = tool_kind(tool) if tool else "other"
        what = describe_tool(tool, p.tool_input) if tool else ""
        common: dict[str, Any] = {
            "vendor": self.vendor,
            "event": name,
            "session_id": p.session_id,
            "cwd": p.cwd,
        }
        if name == BEFORE_TOOL and config.gates(tool, config.gemini_matcher):
            path = data.get("file_path") or data.get("absolute_path") or data.get("path")
            details = [
                "session: interactive"
                if context.interactive
                else "session: headless (Gemini cannot ask its user here)"
            ]
            return HookCall(
                intent="gate", title=what, tool=tool, tool_input=p.tool_input, tool_kind=kind,
                command=str(data.get("command", "")) if kind == "shell" else None,
                paths=(path,) if kind == "write" and isinstance(path, str) else (),
                details=tuple(details), **common,
            )  # fmt: skip
        status = _status(p, what)
        if status is not None:
            return HookCall(intent="status", state=status[0], activity=status[1], **common)
        text = p.message or f"{name} hook"
        return HookCall(intent="log", activity=text, **common)

    def gate_answer(self, call: HookCall, verdict: Verdict, context: HookContext) -> HookAnswer:
        if verdict.behavior == "allow":
            return HookAnswer({"decision": "allow"}, 0, "", verdict.outcome)
        if verdict.behavior == "ask" and context.interactive:
            return HookAnswer({"decision": "ask", "reason": verdict.reason}, 0, "", verdict.outcome)
        reason = verdict.reason
        if verdict.behavior == "ask":
            reason += "; answered deny (a headless Gemini run cannot ask its user)"
        if verdict.decided:
            return HookAnswer({"decision": "deny", "reason": reason}, 0, "", verdict.outcome)
        # No decision (a timeout): exit 2 denies even if Gemini could not read our JSON.
        return HookAnswer(None, BLOCK, reason, verdict.outcome)

    def failure(
        self, call: HookCall | None, raw: bytes, reason: str, config: HookConfig
    ) -> HookAnswer:
        """Exit 2 with the reason for a gate, or when even the event cannot be read; a status
        hook that failed changes nothing and exits 0 (2 would interrupt Gemini's turn)."""
        outcome = unavailable(reason)
        event = call.event if call is not None else event_name_of(raw)
        gate = call.intent == "gate" if call is not None else event in (None, BEFORE_TOOL)
        if not gate:
            return HookAnswer(None, 0, f"swarmdeck: {reason}", outcome)
        return HookAnswer(None, BLOCK, f"swarmdeck: {reason}; answered deny", outcome)


PROTOCOL = Gemini()
