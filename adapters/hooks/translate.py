"""A hook call in swarmdeck's words: the agent rows, statuses and escalations it becomes.

Vendor-neutral: a vendor module has already read its CLI's payload into a
:class:`~swarmdeck.adapters.hooks.core.HookCall` (what tool, what command, which files),
so titles, severities and bodies read the same whichever agent asks.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from swarmdeck.adapters.hooks.naming import id_part, subagent_name
from swarmdeck.store.events import Event, Severity, make_event
from swarmdeck.store.text import clean_text

if TYPE_CHECKING:
    from swarmdeck.adapters.hooks.core import HookCall

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c]"
)


def clean(text: str, limit: int = 200) -> str:
    """One line of untrusted text: escapes and control characters out, bounded."""
    return clean_text(text, single_line=True, max_length=limit).strip()


def visible(text: str) -> str:
    """Untrusted text a manager approves: control characters *shown* (``\\x1b``), not
    stripped, so an escape sequence hidden in a command cannot disguise what runs."""
    return _INVISIBLE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


#: The arguments that say what a built-in tool call does, most telling first.
_TOOL_KEYS = ("command", "file_path", "path", "url", "pattern", "query", "prompt", "description")
#: ... and an MCP tool call: what it creates or says before where it goes or how.
_MCP_KEYS = (
    "title", "summary", "subject", "name", "message", "text", "query", "command", "sql",
    "url", "path", "file_path", "prompt", "description", "body", "content",
)  # fmt: skip


def _telling(data: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` with a non-empty text value."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def mcp_tool_name(tool: str) -> tuple[str, str] | None:
    """``mcp__github__create_issue`` -> ``("github", "create_issue")``; None for others."""
    if not tool.startswith("mcp__"):
        return None
    server, sep, name = tool[5:].partition("__")
    return (server, name) if sep and server and name else None


def describe_tool(tool: str, tool_input: dict[str, Any] | None) -> str:
    """The escalation's title, what a manager decides on: ``Bash: rm -rf build/``,
    ``Edit: src/app.py``, ``github create_issue: Fix login bug`` (an MCP tool: its
    server and name, and its most telling argument, else its first text or value)."""
    data = tool_input or {}
    mcp = mcp_tool_name(tool)
    if mcp is None:
        value = _telling(data, _TOOL_KEYS)
        return clean(visible(f"{tool}: {value}" if value else tool), 200)
    what = f"{mcp[0]} {mcp[1]}"
    value = _telling(data, _MCP_KEYS)
    if value is None:  # the first argument that is text, else the first plain value
        texts = [v for v in data.values() if isinstance(v, str) and v.strip()]
        plain = [v for v in data.values() if isinstance(v, int | float) and not isinstance(v, bool)]
        value = texts[0] if texts else (str(plain[0]) if plain else None)
    return clean(visible(f"{what}: {value}" if value else what), 200)


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


def outside(cwd: str, path: str) -> bool:
    """Whether ``path`` (relative to ``cwd``) leaves the project directory."""
    full = os.path.normpath(os.path.join(cwd, os.path.expanduser(path)))
    root = os.path.normpath(cwd)
    return not (full == root or full.startswith(root.rstrip(os.sep) + os.sep))


def severity_of(call: HookCall) -> Severity:
    """A heuristic: destructive shell commands and writes outside the project rank higher."""
    if call.command is not None:
        if _DESTRUCTIVE.search(call.command):
            return "critical" if _ROOT_WIPE.search(call.command) else "high"
        if _RISKY.search(call.command):
            return "normal"
        return "low"
    if call.paths:
        return "high" if any(outside(call.cwd, p) for p in call.paths) else "normal"
    if call.tool_kind == "mcp":
        return "normal"
    return "low"


def _host() -> str:
    if not _HOST:
        _HOST.append(clean(socket.gethostname() or "localhost", 200))
    return _HOST[0]


_HOST: list[str] = []


class Translator:
    """Turns one hook call into events; one instance per call.

    Args:
        call: the vendor module's reading of the payload.
        session_agent: the session's agent name (:mod:`.naming`).
        source: the ``source`` of the events (the bridge's).
        title: the CLI's name as a manager reads it (``Codex``), for bodies.
    """

    def __init__(self, call: HookCall, session_agent: str, source: str, title: str) -> None:
        self.call = call
        self.source = source
        self.title = title
        self.session_agent = session_agent
        self.agent = (
            subagent_name(session_agent, call.subagent_type, call.subagent_id)
            if call.subagent_id
            else session_agent
        )
        self.now = datetime.now(UTC)
        self._n = 0

    def _id(self, what: str) -> str:
        self._n += 1
        return f"{id_part(self.call.session_id)}:{uuid.uuid4().hex[:12]}:{what}{self._n}"

    def seen(self) -> list[Event]:
        """agent.seen for the session (and the subagent): stable ids, so re-sent ones dedupe."""
        c = self.call
        data: dict[str, Any] = {
            "name": self.session_agent,
            "role": c.vendor,
            "vendor": c.vendor,
            "host": _host(),
        }
        if c.model:
            data["model"] = clean(c.model, 200)
        out = [
            make_event(
                "agent.seen",
                id=f"seen:{id_part(c.session_id)}",
                source=self.source,
                agent=self.session_agent,
                ts=self.now,
                data=data,
            )
        ]
        if c.subagent_id:
            out.append(
                make_event(
                    "agent.seen",
                    id=f"seen:{id_part(c.session_id)}:{id_part(c.subagent_id)}",
                    source=self.source,
                    agent=self.agent,
                    ts=self.now,
                    data={
                        "name": self.agent,
                        "role": clean(c.subagent_type or "subagent", 100),
                        "vendor": c.vendor,
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
        return make_event(
            "escalation.raised",
            id=escalation_id,
            source=self.source,
            agent=self.agent,
            ts=self.now,
            data={
                "id": escalation_id,
                "kind": "approval",
                "title": self.call.title,
                "body": self._body(),
                "severity": severity_of(self.call),
                # Structured, so a rule can match the tool and not the free-text title.
                "tool": clean(self.call.tool or "", 200) or "?",
            },
        )

    def _body(self) -> str:
        c = self.call
        lines = [
            f"{self.title} asks to run {c.tool}.",
            f"agent: {self.agent}",
            f"cwd: {c.cwd}",
            f"session: {c.session_id}",
            *c.details,
        ]
        if c.subagent_id:
            lines.append(f"subagent: {c.subagent_type} ({c.subagent_id})")
        if c.command is not None:
            lines += ["", "command:", visible(c.command)]
        if c.paths:
            lines += ["", "files:", *(visible(p) for p in c.paths)]
        lines += ["", "input:", json.dumps(c.tool_input or {}, indent=2, ensure_ascii=False)]
        return visible("\n".join(lines))[:60_000]

    def stop_escalation(self, escalation_id: str) -> Event:
        c = self.call
        who = "subagent" if c.subagent_id else "session"
        last = c.last_message or ""
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
                    f"{self.title}'s {who} wants to stop. Approve to let it stop; retry with "
                    f"a reason to keep it working (the reason becomes its next instruction).\n\n"
                    f"cwd: {c.cwd}\nsession: {c.session_id}\n\nlast message:\n{last}"
                )[:60_000],
                "severity": "normal",
                "options": ["approve", "retry"],
            },
        )
