"""Coding agents' hook protocols: one mechanism, one small module per vendor.

A coding agent's CLI (Claude Code, Codex CLI, Gemini CLI) runs a hook command before a
tool call and waits for its answer. The mechanism is the same for every vendor and
lives in :mod:`.core` (the flow, the wait, the fail-closed fallbacks), :mod:`.translate`
(swarmdeck events from a call), :mod:`.naming` (a session's agent name) and
:mod:`.bounded_json` (agent-written JSON read with bounded depth, never a crash). A vendor
module only reads that CLI's payloads and writes that CLI's answers:

* :mod:`.claude_code` -- ``PermissionRequest`` / ``PreToolUse`` / ``Stop`` JSON;
* :mod:`.codex` -- ``PermissionRequest`` ``decision.behavior``; every error denies, since
  a Codex hook that fails lets the call through;
* :mod:`.gemini` -- ``BeforeTool`` ``decision``; every error exits 2, since a Gemini hook
  that times out or exits 1 lets the tool run.

Two paths carry a call to the store and its decision back (:mod:`swarmdeck.adapters.bridge`):
the ``claude-code`` adapter inside the collector, and the hook command, which hands the
call to a running collector over a Unix socket (:mod:`.handoff`, :mod:`.server`) or, when
none runs, writes to the store itself.

This package's ``__init__`` imports nothing: the thin hook client imports
:mod:`.handoff` and :mod:`.gemini_session` (standard library only) and must stay fast.
"""

from __future__ import annotations

#: Vendor name -> module of its protocol (``PROTOCOL`` in it). The name is what
#: ``swarmdeck hook <vendor>`` and ``swarmdeck install <vendor>`` take.
VENDORS: dict[str, str] = {
    "claude-code": "swarmdeck.adapters.hooks.claude_code",
    "codex": "swarmdeck.adapters.hooks.codex",
    "gemini": "swarmdeck.adapters.hooks.gemini",
}
