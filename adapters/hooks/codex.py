"""Codex CLI's hook protocol (``@openai/codex`` 0.124+; checked on 0.169.0).

* ``PermissionRequest`` is a gate: Codex asks before a command needs approval (escalated
  sandbox permissions). Approve -> ``decision.behavior = "allow"``; reject -> ``"deny"``
  with the manager's reason as ``message`` (the model reads ``Rejected("<reason>")``).
* ``PreToolUse`` gates the tools matching ``hooks.codex_matcher`` (``Bash``,
  ``apply_patch`` -- which Codex also matches as ``Edit``/``Write`` --, ``mcp__*``); it
  fires on every call, even in ``codex exec`` where approvals are off. It can only deny:
  an approval answers nothing (the call goes on) and is remembered, so the
  PermissionRequest Codex may raise next for the same command is answered at once.
* ``SessionStart``, ``UserPromptSubmit``, ``PostToolUse``, ``Stop``, ``SubagentStart``,
  ``SubagentStop``, ``SessionEnd``... keep the session's agent row current. With
  ``review_stop``, ``Stop``/``SubagentStop`` wait for a manager (``decision: block``).
* Sessions are ``codex:<dir>``.

Codex *fails open*: a hook that crashes, times out, exits with another code or returns
a field Codex reserves (``updatedInput``, ``updatedPermissions``, ``interrupt``,
``continue``, ``stopReason``, ``suppressOutput``) is ignored and the call goes on to
Codex's own approval. So nothing here ever writes a reserved field, and every failure
of ours answers an explicit deny.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, ClassVar

from swarmdeck.adapters.bridge import Outcome
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
    continue_text,
    event_name_of,
    load_payload,
    matches,
    own_tool,
    unavailable,
    verdict_of,
)
from swarmdeck.adapters.hooks.translate import clean, describe_tool, visible

PERMISSION = "PermissionRequest"
PRETOOL = "PreToolUse"
GATES = (PERMISSION, PRETOOL)
STOP_EVENTS = ("Stop", "SubagentStop")

#: Fields Codex treats as "fail closed" in a hook's output: it ignores the hook instead.
RESERVED = (
    "updatedInput",
    "updatedPermissions",
    "interrupt",
    "continue",
    "stopReason",
    "suppressOutput",
)

#: Tool names Codex's matchers treat as the same tool (``apply_patch`` matches Edit/Write).
ALIASES: dict[str, tuple[str, ...]] = {
    "apply_patch": ("apply_patch", "Edit", "Write"),
    "shell": ("shell", "Bash"),
    "exec_command": ("exec_command", "Bash"),
}

_PATCH_FILE = re.compile(r"^\*\*\* (?:Add|Update|Delete) File: (.+)$", re.MULTILINE)
_STATUS: dict[str, tuple[str, str]] = {
    "SessionStart": ("working", "session started"),
    "UserPromptSubmit": ("working", "prompt submitted"),
    "PreCompact": ("working", "compacting its context"),
    "PostCompact": ("working", "compacted its context"),
    "Interrupt": ("idle", "interrupted; waiting for the next prompt"),
    "SessionEnd": ("offline", "session ended"),
}


class CodexPayload(BasePayload):
    """One Codex hook call's input (stdin)."""

    turn_id: str | None = None
    model: str | None = None
    permission_mode: str | None = None
    tool_use_id: str | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    source: str | None = None
    prompt: str | None = None
    stop_hook_active: bool = False
    last_assistant_message: str | None = None


def tool_kind(tool: str) -> ToolKind:
    if tool in ("Bash", "shell", "exec_command", "local_shell"):
        return "shell"
    if tool in ("apply_patch", "Edit", "Write"):
        return "write"
    return "mcp" if tool.startswith("mcp__") else "other"


def tool_matches(matcher: str, tool: str) -> bool:
    """Codex's matcher semantics, aliases included (``Write`` matches ``apply_patch``)."""
    return any(matches(matcher, name) for name in ALIASES.get(tool, (tool,)))


def _command(data: dict[str, Any]) -> str:
    value = data.get("command", data.get("cmd", ""))
    if isinstance(value, list):  # argv form
        return " ".join(str(v) for v in value)
    return str(value)


def _patch_text(data: dict[str, Any]) -> str:
    for key in ("patch", "input", "command"):
        value = data.get(key)
        if isinstance(value, str) and "*** " in value:
            return value
    return ""


def _title(tool: str, data: dict[str, Any], kind: ToolKind, paths: tuple[str, ...]) -> str:
    if kind == "shell":
        return clean(visible(f"{tool}: {_command(data)}"), 200)
    if tool == "apply_patch" and paths:
        return clean(visible(f"apply_patch: {', '.join(paths)}"), 200)
    return describe_tool(tool, data)


def approval_key(p: CodexPayload, kind: ToolKind, data: dict[str, Any]) -> str:
    """One tool call across its PreToolUse and its PermissionRequest: same session, turn,
    tool and command (the PermissionRequest adds the model's justification, not compared)."""
    what = (
        _command(data)
        if kind == "shell"
        else json.dumps(
            {k: v for k, v in data.items() if k not in ("description", "justification")},
            sort_keys=True,
            default=str,
        )
    )
    tool = "Bash" if kind == "shell" else p.tool_name or ""
    text = "\x1f".join((p.session_id, p.turn_id or "", tool, what))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


class Codex(HookProtocol):
    vendor: ClassVar[str] = "codex"
    title: ClassVar[str] = "Codex"
    agent_prefix: ClassVar[str] = "codex"
    escalation_prefix: ClassVar[str] = "cx"

    def read(self, raw: bytes, config: HookConfig, context: HookContext) -> HookCall:
        p = load_payload(raw, CodexPayload, "Codex")
        name = p.hook_event_name
        if name in GATES and not p.tool_name:
            raise PayloadError(f"hook payload invalid: {name} without tool_name")
        tool = p.tool_name or ""
        data = p.tool_input or {}
        kind = tool_kind(tool) if tool else "other"
        paths = tuple(_PATCH_FILE.findall(_patch_text(data))) if kind == "write" else ()
        what = _title(tool, data, kind, paths) if tool else ""
        common: dict[str, Any] = {
            "vendor": self.vendor,
            "event": name,
            "session_id": p.session_id,
            "cwd": p.cwd,
            "subagent_id": p.agent_id,
            "subagent_type": p.agent_type,
            "model": p.model,
        }
        gate = name == PERMISSION or (name == PRETOOL and tool_matches(config.codex_matcher, tool))
        gate = gate and not own_tool(tool, config.own_mcp_servers)
        if gate:
            details = [f"hook: {name}"]
            if p.permission_mode:
                details.append(f"permission mode: {p.permission_mode}")
            if name == PRETOOL:
                details.append(
                    "approving lets the call go on to Codex's own approval (if it needs one, "
                    "this approval answers it)"
                )
            justification = data.get("description") or data.get("justification")
            if isinstance(justification, str) and justification.strip():
                details.append(f"the model says: {justification}")
            return HookCall(
                intent="gate", title=what, tool=tool, tool_input=p.tool_input, tool_kind=kind,
                command=_command(data) if kind == "shell" else None, paths=paths,
                details=tuple(details), approval_key=approval_key(p, kind, data),
                approval_memory="recall" if name == PERMISSION else "remember", **common,
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
        if name == PRETOOL:
            return HookCall(intent="status", state="working", activity=what, **common)
        if name == "PostToolUse":
            return HookCall(intent="status", state="working", activity=f"ran {what}", **common)
        if name == "SubagentStart":
            return HookCall(intent="status", state="working", activity="started", **common)
        if name in _STATUS:
            state, activity = _STATUS[name]
            return HookCall(intent="status", state=state, activity=activity, **common)
        return HookCall(intent="log", activity=f"{name} hook", **common)

    def gate_answer(self, call: HookCall, verdict: Verdict, context: HookContext) -> HookAnswer:
        return HookAnswer(_render(call.event, verdict), 0, "", verdict.outcome)

    def review_answer(self, call: HookCall, outcome: Outcome) -> HookAnswer:
        text = continue_text(outcome)
        body = None if text is None else {"decision": "block", "reason": text}
        return HookAnswer(body, 0, "", outcome)

    def failure(
        self, call: HookCall | None, raw: bytes, reason: str, config: HookConfig
    ) -> HookAnswer:
        """Always an explicit deny for a gate (Codex would let a failed hook's call through);
        a status hook that failed changes nothing, so it exits 0 with the reason."""
        message = f"swarmdeck: {reason}; answered deny"
        outcome = unavailable(reason)
        event = call.event if call is not None else event_name_of(raw)
        status_hook = call.intent != "gate" if call is not None else event not in (None, *GATES)
        if status_hook:
            # A status hook: nothing to deny (exit 2 on a Stop would keep Codex working).
            return HookAnswer(None, 0, f"swarmdeck: {reason}", outcome)
        if event in GATES:
            verdict = Verdict("deny", message, outcome)
            return HookAnswer(_render(event, verdict), 0, message, outcome)
        # Not even the event can be read: exit 2 with the reason is Codex's deny for any.
        return HookAnswer(None, 2, message, outcome)


def _render(event: str, verdict: Verdict) -> dict[str, Any] | None:
    """Codex's JSON; never a reserved field (see :data:`RESERVED`)."""
    if event == PERMISSION:
        if verdict.behavior == "ask":
            return None  # no verdict: Codex's own approval (its user, or its reviewer) asks
        decision: dict[str, Any] = {"behavior": verdict.behavior}
        if verdict.behavior == "deny":
            decision["message"] = verdict.reason
        return {"hookSpecificOutput": {"hookEventName": PERMISSION, "decision": decision}}
    if verdict.behavior == "allow":
        return None  # PreToolUse cannot allow (only with updatedInput): no answer goes on
    # PreToolUse cannot ask either: "ask" would let the call run, so it denies.
    return {
        "hookSpecificOutput": {
            "hookEventName": PRETOOL,
            "permissionDecision": "deny",
            "permissionDecisionReason": verdict.reason,
        }
    }


def permission_answer(event: str, outcome: Outcome, config: HookConfig) -> dict[str, Any] | None:
    """Codex's JSON for a gate, given how the wait ended (for tests and the docs)."""
    return _render(event, verdict_of(outcome, config.default))


PROTOCOL = Codex()
