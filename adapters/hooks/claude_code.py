"""Claude Code hooks <-> swarmdeck: payload in, events out, decision back as hook JSON.

Used by both paths: ``swarmdeck hook claude-code`` (a process per hook call) and
the ``claude-code`` adapter's HTTP endpoint inside the collector. Everything here
is pure translation plus :func:`handle`, which drives a :class:`Bridge`.

Mapping (see docs/integrations.md):

* PermissionRequest (always) and PreToolUse (for tools matching the matcher)
  raise an ``approval`` escalation and wait: approve -> allow; reject -> deny with
  the manager's reason; reroute -> deny whose reason names who takes over.
* Notification -> ``agent.status`` (blocked when a permission prompt waits,
  idle when Claude waits for input); Stop -> idle; SubagentStop -> the subagent
  is done. With ``review_stop`` on, Stop/SubagentStop wait for a manager too,
  and a ``retry`` decision answers ``{"decision": "block", "reason": ...}``.
* Each session is an agent named from its cwd (``claude:<dir>``, plus a short
  session suffix when another live session already uses that name); a subagent is
  ``claude:<dir>/sub:<agent_type>#<id>``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from swarmdeck.adapters.bridge import UNAVAILABLE, Bridge, Outcome
from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, Severity, make_event
from swarmdeck.store.queries.sessions import claim_session_agent
from swarmdeck.store.text import clean_text

#: Hook events that may wait for a manager.
PERMISSION = "PermissionRequest"
PRETOOL = "PreToolUse"
STOP_EVENTS = ("Stop", "SubagentStop")

#: ``adapter_state`` namespace mapping session ids to agent names (shared by both paths).
SESSIONS_NAMESPACE = "claude-code.sessions"

#: A session whose agent was seen this recently keeps its name to itself.
SESSION_LIVE_SECONDS = 3600.0

DEFAULT_MATCHER = "Bash|Edit|Write|mcp__.*"

Default = Literal["deny", "allow", "ask"]

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c]"
)
_SLUG = re.compile(r"[^A-Za-z0-9_.\-]+")


class PayloadError(ValueError):
    """The hook payload is not what Claude Code sends; ``str()`` is one line."""


class HookPayload(BaseModel):
    """One hook call's input (stdin or POST body). Unknown fields are kept, not rejected:
    Claude Code adds fields over time and a hook must keep working."""

    model_config = ConfigDict(extra="allow", frozen=True)

    session_id: str = Field(min_length=1, max_length=200)
    cwd: str = Field(min_length=1)
    hook_event_name: str = Field(min_length=1, max_length=100)
    transcript_path: str | None = None
    permission_mode: str | None = None
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    agent_id: str | None = None
    agent_type: str | None = None
    message: str | None = None
    title: str | None = None
    notification_type: str | None = None
    stop_hook_active: bool = False
    last_assistant_message: str | None = None


def parse_payload(raw: bytes | str) -> HookPayload:
    """Validate a hook payload.

    Raises:
        PayloadError: not JSON, not an object, or a required field missing, in one line.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if not text.strip():
        raise PayloadError("empty hook payload (expected Claude Code's JSON on stdin)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(
            f"hook payload is not valid JSON ({exc.msg} at char {exc.pos})"
        ) from None
    if not isinstance(data, dict):
        raise PayloadError("hook payload must be a JSON object")
    try:
        payload = HookPayload.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"]) or "payload"
            parts.append(f"{where}: {err['msg']}")
        raise PayloadError("hook payload invalid: " + "; ".join(parts)) from None
    if payload.hook_event_name in (PERMISSION, PRETOOL) and not payload.tool_name:
        raise PayloadError(f"hook payload invalid: {payload.hook_event_name} without tool_name")
    return payload


# ----------------------------------------------------------------------------- names


def clean(text: str, limit: int = 200) -> str:
    """One line of untrusted text: escapes and control characters out, bounded."""
    return clean_text(text, single_line=True, max_length=limit).strip()


def visible(text: str) -> str:
    """Untrusted text a manager approves: control characters *shown* (``\\x1b``), not
    stripped, so an escape sequence hidden in a command cannot disguise what runs."""
    return _INVISIBLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def base_name(cwd: str) -> str:
    """``/home/u/repo`` -> ``claude:repo``."""
    leaf = os.path.basename(os.path.normpath(cwd)) or "root"
    return "claude:" + (_SLUG.sub("-", leaf).strip("-") or "root")[:80]


def subagent_name(parent: str, agent_type: str | None, agent_id: str) -> str:
    kind = _SLUG.sub("-", agent_type or "subagent").strip("-")[:40] or "subagent"
    return f"{parent}/sub:{kind}#{_short(agent_id)}"


def _short(identifier: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", identifier)[:6] or "x"


async def session_agent_name(store: Store, session_id: str, cwd: str, now: float) -> str:
    """The agent name of a session: stable per session, ``claude:<dir>`` when free.

    One ``BEGIN IMMEDIATE`` transaction, so two hook processes of two new sessions
    in the same directory cannot both take the plain name.
    """
    known = await store.get_state(SESSIONS_NAMESPACE, session_id)
    if known is not None:
        return known  # the common case: a plain read, no write lock
    # The old session holding the plain name may be over: then this one takes it; if
    # the old one comes back it is named afresh (with a suffix while this one lives).
    base = base_name(cwd)
    return await claim_session_agent(
        store,
        SESSIONS_NAMESPACE,
        session_id,
        base=base,
        alternative=f"{base}#{_short(session_id)}",
        live_since=now - SESSION_LIVE_SECONDS,
    )


# ----------------------------------------------------------------------------- translation


@dataclass(slots=True)
class HookConfig:
    """What a hook handler needs to know beyond the payload."""

    timeout: float = 600.0
    default: Default = "deny"
    pretool_matcher: str = DEFAULT_MATCHER
    review_stop: bool = False
    progress_every: float = 5.0


@dataclass(slots=True)
class HookAnswer:
    """What to tell Claude Code: stdout JSON (or nothing), exit code, stderr line."""

    body: dict[str, Any] | None = None
    exit_code: int = 0
    stderr: str = ""
    outcome: Outcome | None = None
    events: list[Event] = field(default_factory=list)

    def stdout(self) -> str:
        return "" if self.body is None else json.dumps(self.body, ensure_ascii=False)


def describe_tool(tool: str, tool_input: dict[str, Any] | None) -> str:
    """``Bash: rm -rf build/``, ``Edit: src/app.py``: the escalation's title."""
    data = tool_input or {}
    for key in ("command", "file_path", "path", "url", "pattern", "query", "prompt", "description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return clean(visible(f"{tool}: {value}"), 200)
    return clean(visible(tool), 200)


_DESTRUCTIVE = re.compile(
    r"(\brm\s+(-[a-zA-Z]*[rf]|--recursive|--force)|\bmkfs|\bdd\s+if=|\bshred\b|"
    r"\bgit\s+(push\s+.*(--force|-f\b)|reset\s+--hard|clean\s+-[a-z]*f|branch\s+-D)|"
    r"\bchmod\s+-R|\bchown\s+-R|\bsudo\b|\bdrop\s+(table|database)\b|\btruncate\s+table\b|"
    r"\bkubectl\s+delete\b|\bterraform\s+(destroy|apply)\b|>\s*/dev/sd|\bcurl\b.*\|\s*(ba)?sh)",
    re.IGNORECASE,
)
_ROOT_WIPE = re.compile(r"\brm\s+-[a-zA-Z]*r[a-zA-Z]*\s+(/|~)(\s|$|\*)")
_RISKY = re.compile(
    r"(\brm\b|\bmv\b|\bgit\s+push\b|\bnpm\s+publish\b|\bpip\s+install\b|\bdocker\s+(rm|rmi)\b|"
    r"\bcurl\b|\bwget\b|\bssh\b|\bscp\b)",
    re.IGNORECASE,
)


def _outside(cwd: str, path: str) -> bool:
    full = os.path.normpath(os.path.join(cwd, os.path.expanduser(path)))
    root = os.path.normpath(cwd)
    return not (full == root or full.startswith(root.rstrip(os.sep) + os.sep))


def severity_of(tool: str, tool_input: dict[str, Any] | None, cwd: str) -> Severity:
    """A heuristic: destructive shell commands and writes outside the project rank higher."""
    data = tool_input or {}
    if tool == "Bash":
        command = str(data.get("command", ""))
        if _DESTRUCTIVE.search(command):
            return "critical" if _ROOT_WIPE.search(command) else "high"
        if _RISKY.search(command):
            return "normal"
        return "low"
    path = data.get("file_path") or data.get("path") or data.get("notebook_path")
    if tool in ("Write", "Edit", "MultiEdit", "NotebookEdit") and isinstance(path, str):
        return "high" if _outside(cwd, path) else "normal"
    if tool.startswith("mcp__"):
        return "normal"
    return "low"


def _body(payload: HookPayload, agent: str) -> str:
    lines = [
        f"Claude Code asks to run {payload.tool_name}.",
        f"agent: {agent}",
        f"cwd: {payload.cwd}",
        f"session: {payload.session_id}",
    ]
    if payload.permission_mode:
        lines.append(f"permission mode: {payload.permission_mode}")
    if payload.agent_type:
        lines.append(f"subagent: {payload.agent_type} ({payload.agent_id})")
    if payload.hook_event_name == PRETOOL and payload.tool_use_id:
        lines.append(f"tool use: {payload.tool_use_id}")
    command = (payload.tool_input or {}).get("command")
    if isinstance(command, str):
        lines += ["", "command:", visible(command)]
    lines += ["", "input:", json.dumps(payload.tool_input or {}, indent=2, ensure_ascii=False)]
    return visible("\n".join(lines))[:60_000]


class Translator:
    """Turns one payload into events; one instance per hook call."""

    def __init__(self, payload: HookPayload, session_agent: str, source: str) -> None:
        self.p = payload
        self.source = source
        self.session_agent = session_agent
        self.agent = (
            subagent_name(session_agent, payload.agent_type, payload.agent_id)
            if payload.agent_id
            else session_agent
        )
        self.now = datetime.now(UTC)
        self._n = 0

    def _id(self, what: str) -> str:
        self._n += 1
        return f"{self.p.session_id}:{uuid.uuid4().hex[:12]}:{what}{self._n}"

    def seen(self) -> list[Event]:
        """agent.seen for the session (and the subagent): stable ids, so re-sent ones dedupe."""
        out = [
            make_event(
                "agent.seen",
                id=f"seen:{self.p.session_id}",
                source=self.source,
                agent=self.session_agent,
                ts=self.now,
                data={"name": self.session_agent, "role": "claude-code", "host": _host()},
            )
        ]
        if self.p.agent_id:
            out.append(
                make_event(
                    "agent.seen",
                    id=f"seen:{self.p.session_id}:{self.p.agent_id}",
                    source=self.source,
                    agent=self.agent,
                    ts=self.now,
                    data={
                        "name": self.agent,
                        "role": clean(self.p.agent_type or "subagent", 100),
                        "host": _host(),
                    },
                )
            )
        return out

    def status(self, state: str, activity: str, agent: str | None = None) -> Event:
        return make_event(
            "agent.status",
            id=self._id("status"),
            source=self.source,
            agent=agent or self.agent,
            data={"state": state, "activity": clean(activity, 500)},
        )

    def log(self, text: str, level: str = "info") -> Event:
        return make_event(
            "log",
            id=self._id("log"),
            source=self.source,
            agent=self.agent,
            data={"level": level, "text": clean(text, 2000)},
        )

    def escalation(self, escalation_id: str) -> Event:
        p = self.p
        tool = p.tool_name or "?"
        return make_event(
            "escalation.raised",
            id=escalation_id,
            source=self.source,
            agent=self.agent,
            ts=self.now,
            data={
                "id": escalation_id,
                "kind": "approval",
                "title": describe_tool(tool, p.tool_input),
                "body": _body(p, self.agent),
                "severity": severity_of(tool, p.tool_input, p.cwd),
                "tool": clean(tool, 200) or "?",
            },
        )

    def stop_escalation(self, escalation_id: str) -> Event:
        p = self.p
        who = "subagent" if p.hook_event_name == "SubagentStop" else "session"
        last = p.last_assistant_message or ""
        return make_event(
            "escalation.raised",
            id=escalation_id,
            source=self.source,
            agent=self.agent,
            ts=self.now,
            data={
                "id": escalation_id,
                "kind": "question",
                "title": clean(f"{self.agent} finished: {last or 'its turn'}", 200),
                "body": (
                    f"Claude Code's {who} wants to stop. Approve to let it stop; retry with "
                    f"a reason to keep it working (the reason becomes its next instruction).\n\n"
                    f"cwd: {p.cwd}\nsession: {p.session_id}\n\nlast message:\n{last}"
                )[:60_000],
                "severity": "normal",
                "options": ["approve", "retry"],
            },
        )


_HOST: list[str] = []


def _host() -> str:
    if not _HOST:
        _HOST.append(clean(socket.gethostname() or "localhost", 200))
    return _HOST[0]


def matches(matcher: str, tool: str) -> bool:
    """Claude Code's matcher semantics: ``*``/empty match all, else a regex on the name."""
    if matcher in ("", "*"):
        return True
    try:
        return re.fullmatch(matcher, tool) is not None
    except re.error:
        return tool in matcher.split("|")


def new_escalation_id(payload: HookPayload) -> str:
    return f"cc-{_short(payload.session_id)}-{uuid.uuid4().hex[:12]}"


# ----------------------------------------------------------------------------- answers


def _reroute_text(outcome: Outcome) -> str:
    who = outcome.target or "someone else"
    by = f" by {outcome.decided_by}" if outcome.decided_by else ""
    text = f"Rerouted{by}: {who} takes over this work; do not do it yourself."
    if outcome.reason:
        text += f" Reason: {outcome.reason}"
    return text


def _deny_text(outcome: Outcome) -> str:
    if outcome.action == "reject":
        by = f" by {outcome.decided_by}" if outcome.decided_by else ""
        return f"Denied{by}: {outcome.reason or 'no reason given'}"
    if outcome.action == "reroute":
        return _reroute_text(outcome)
    if outcome.action == "answer":
        return f"The manager answered instead of approving: {outcome.answer or outcome.reason}"
    if outcome.action == "retry":
        return f"The manager asks you to reconsider and try differently: {outcome.reason}"
    return f"swarmdeck: {outcome.reason}"


def permission_answer(event: str, outcome: Outcome, default: Default) -> dict[str, Any] | None:
    """Claude Code's JSON for a PermissionRequest/PreToolUse given how the wait ended."""
    if outcome.action == "approve":
        verdict = "allow"
        reason = f"Approved by {outcome.decided_by}" + (
            f": {outcome.reason}" if outcome.reason else ""
        )
    elif outcome.decided:
        verdict, reason = "deny", _deny_text(outcome)
    else:
        verdict = default
        reason = f"swarmdeck: no decision ({outcome.reason})"
    if event == PERMISSION:
        if verdict == "ask":
            return None  # Claude Code shows its own dialog
        decision: dict[str, Any] = {"behavior": verdict}
        if verdict == "deny":
            decision["message"] = reason
            if outcome.action == "reroute":
                decision["interrupt"] = True
        return {"hookSpecificOutput": {"hookEventName": PERMISSION, "decision": decision}}
    return {
        "hookSpecificOutput": {
            "hookEventName": PRETOOL,
            "permissionDecision": verdict,
            "permissionDecisionReason": reason,
        }
    }


def stop_answer(outcome: Outcome) -> dict[str, Any] | None:
    """Stop/SubagentStop: retry or answer keep Claude working; anything else lets it stop."""
    if outcome.action in ("retry", "answer", "reroute"):
        if outcome.action == "reroute":
            text = _reroute_text(outcome)
        else:
            text = outcome.answer or outcome.reason or "The manager asks you to continue."
        return {"decision": "block", "reason": text}
    return None


def default_answer(default: Default, reason: str) -> HookAnswer:
    """When the payload itself is unusable: deny = exit 2 with the reason (blocks the call)."""
    message = f"swarmdeck: {reason}; answered {default}"
    if default == "deny":
        return HookAnswer(None, 2, message)
    return HookAnswer(None, 0, message)


# ----------------------------------------------------------------------------- the handler


async def handle(
    payload: HookPayload,
    *,
    bridge: Bridge,
    session_agent: str,
    config: HookConfig,
) -> HookAnswer:
    """Translate one hook call, emit its events, wait if it needs a manager, answer."""
    t = Translator(payload, session_agent, bridge.source)
    events: list[Event] = t.seen()
    name = payload.hook_event_name
    tool = payload.tool_name or ""
    what = describe_tool(tool, payload.tool_input) if tool else ""

    escalate = name == PERMISSION or (name == PRETOOL and matches(config.pretool_matcher, tool))
    if escalate:
        escalation_id = new_escalation_id(payload)
        events.append(t.status("blocked", f"waiting for approval: {what}"))
        events.append(t.escalation(escalation_id))
        outcome = await bridge.escalate(
            events,
            escalation_id,
            within=config.timeout,
            default_label=config.default,
            progress_every=config.progress_every,
        )
        body = permission_answer(name, outcome, config.default)
        after = _after(t, outcome, what, config.default)
        await _emit_quietly(bridge, [after])
        stderr = "" if outcome.decided else f"swarmdeck: {outcome.reason}"
        return HookAnswer(body, 0, stderr, outcome, [*events, after])

    if name in STOP_EVENTS:
        subagent = name == "SubagentStop"
        state = "done" if subagent else "idle"
        activity = "finished" if subagent else "finished its turn; waiting for the next prompt"
        if payload.last_assistant_message:
            activity += f": {payload.last_assistant_message}"
        if config.review_stop:
            escalation_id = new_escalation_id(payload)
            events.append(t.status("blocked", "waiting for review before stopping"))
            events.append(t.stop_escalation(escalation_id))
            outcome = await bridge.escalate(
                events,
                escalation_id,
                within=config.timeout,
                default_label="stop",
                progress_every=config.progress_every,
            )
            block = stop_answer(outcome)
            after = (
                t.status("working", f"continuing: {block['reason']}")
                if block
                else t.status(state, activity)
            )
            await _emit_quietly(bridge, [after])
            return HookAnswer(block, 0, "", outcome, [*events, after])
        events.append(t.status(state, activity))
        await bridge.emit(events)
        return HookAnswer(None, 0, "", None, events)

    if name == "Notification":
        events.append(_notification(t, payload))
    elif name == PRETOOL:
        events.append(t.status("working", what or "working"))
    elif name == "PostToolUse":
        events.append(t.status("working", f"ran {what}" if what else "working"))
    elif name in ("UserPromptSubmit", "SessionStart"):
        events.append(
            t.status("working", "prompt submitted" if name != "SessionStart" else "session started")
        )
    elif name == "SessionEnd":
        events.append(t.status("offline", "session ended"))
    else:
        events.append(t.log(f"{name} hook"))
    await bridge.emit(events)
    return HookAnswer(None, 0, "", None, events)


def _notification(t: Translator, p: HookPayload) -> Event:
    text = p.message or p.title or "notification"
    kind = p.notification_type or ""
    if kind in ("permission_prompt", "elicitation_dialog"):
        return t.status("blocked", f"waiting for permission: {text}")
    if kind == "idle_prompt":
        return t.status("idle", f"waiting for input: {text}")
    if "permission" in text.lower():
        return t.status("blocked", f"waiting for permission: {text}")
    if "waiting for your input" in text.lower():
        return t.status("idle", f"waiting for input: {text}")
    return t.log(f"notification: {text}")


def _after(t: Translator, outcome: Outcome, what: str, default: Default) -> Event:
    if outcome.action == "approve":
        return t.status("working", f"approved by {outcome.decided_by}: {what}")
    if outcome.action == "reroute":
        return t.status("working", f"rerouted to {outcome.target}: {what}")
    if outcome.decided:
        return t.status("working", f"{outcome.action} by {outcome.decided_by}: {what}")
    return t.status("working", f"no decision ({outcome.reason}); answered {default}: {what}")


async def _emit_quietly(bridge: Bridge, events: Sequence[Event]) -> None:
    """Status after the answer is known: never let it lose the answer itself."""
    with contextlib.suppress(Exception):  # the decision matters more than the status row
        await bridge.emit(events)


def unavailable(escalation_id: str, why: str) -> Outcome:
    return Outcome(escalation_id, UNAVAILABLE, why)


def shell_command(executable: str) -> str:
    """The hook command line for a swarmdeck executable path."""
    return f"{shlex.quote(executable)} hook claude-code"


def fallback(payload: HookPayload, reason: str, config: HookConfig) -> HookAnswer:
    """The answer when the store cannot be reached: the configured default, said clearly."""
    outcome = unavailable("", reason)
    name = payload.hook_event_name
    tool = payload.tool_name or ""
    if name == PERMISSION or (name == PRETOOL and matches(config.pretool_matcher, tool)):
        body = permission_answer(name, outcome, config.default)
        return HookAnswer(body, 0, f"swarmdeck: {reason}; answered {config.default}", outcome)
    # Status-only hooks: nothing to decide, the call proceeds as Claude Code would anyway.
    return HookAnswer(None, 0, f"swarmdeck: {reason}", outcome)
