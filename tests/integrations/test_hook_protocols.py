"""The Codex and Gemini CLI protocol modules against the payloads the real CLIs sent.

Pure translation: what each recorded payload becomes (a gate, a status, a log line) and
what each verdict is written as. The answers are checked against the shapes the CLIs
honour (shared/protocols/codex-hooks.md, gemini-cli-hooks.md, and the real-client suite).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from swarmdeck.adapters.bridge import Outcome
from swarmdeck.adapters.hooks import VENDORS, codex, gemini
from swarmdeck.adapters.hooks.core import (
    HookAnswer,
    HookCall,
    HookConfig,
    HookContext,
    PayloadError,
    protocol_for,
    verdict_of,
)
from swarmdeck.adapters.hooks.gemini_session import interactive_from, is_gemini
from swarmdeck.adapters.hooks.translate import severity_of
from tests.helpers.hooks import payload

CONFIG = HookConfig()
HEADLESS = HookContext("c0ffee", interactive=False)
INTERACTIVE = HookContext("c0ffee", interactive=True)

APPROVED = Outcome("E", "approve", decided_by="ana@laptop")
REJECTED = Outcome("E", "reject", "use a dry run", decided_by="ana@laptop")
REROUTED = Outcome("E", "reroute", "infra owns it", target="ops-bot", decided_by="ana@laptop")
TIMED_OUT = Outcome("E", "timeout", "timed out after 5s; answered deny")


def raw(name: str, **changes: Any) -> bytes:
    return json.dumps({**payload(name), **changes}).encode()


def read_codex(name: str, **changes: Any) -> HookCall:
    return codex.PROTOCOL.read(raw(f"codex/{name}", **changes), CONFIG, HEADLESS)


def read_gemini(name: str, context: HookContext = HEADLESS, **changes: Any) -> HookCall:
    return gemini.PROTOCOL.read(raw(f"gemini/{name}", **changes), CONFIG, context)


def reserved_fields(body: Any) -> set[str]:
    """Every key of Codex's "fail closed" list anywhere in an answer."""
    found: set[str] = set()
    if isinstance(body, dict):
        found |= set(body) & set(codex.RESERVED)
        for value in body.values():
            found |= reserved_fields(value)
    return found


def test_every_vendor_has_a_protocol() -> None:
    for vendor in VENDORS:
        assert protocol_for(vendor).vendor == vendor
    with pytest.raises(KeyError):
        protocol_for("cursor")


# ----------------------------------------------------------------------------- Codex


def test_codex_permission_request_is_a_gate() -> None:
    call = read_codex("PermissionRequest")
    assert (call.intent, call.vendor, call.tool, call.tool_kind) == (
        "gate",
        "codex",
        "Bash",
        "shell",
    )
    assert call.title == "Bash: touch /tmp/swarmdeck-real-clients/project/ran"
    assert call.command == "touch /tmp/swarmdeck-real-clients/project/ran"
    assert "the model says: touch the marker file" in call.details
    assert call.approval_memory == "recall"
    assert call.model == "fake-model"


def test_codex_pretool_gates_matched_tools_only() -> None:
    call = read_codex("PreToolUse")
    assert (call.intent, call.approval_memory) == ("gate", "remember")
    # Codex matches apply_patch as Edit/Write too: the default matcher gates it.
    patch = {"command": "*** Begin Patch\n*** Update File: src/app.py\n@@\n*** End Patch"}
    edit = read_codex("PreToolUse", tool_name="apply_patch", tool_input=patch)
    assert (edit.intent, edit.tool_kind, edit.paths) == ("gate", "write", ("src/app.py",))
    assert edit.title == "apply_patch: src/app.py"
    outside = read_codex(
        "PreToolUse", tool_name="apply_patch",
        tool_input={"command": "*** Begin Patch\n*** Add File: /etc/cron.d/x\n*** End Patch"},
    )  # fmt: skip
    assert severity_of(outside) == "high"
    read = read_codex("PreToolUse", tool_name="read_file", tool_input={"path": "a.py"})
    assert (read.intent, read.state) == ("status", "working")


def test_codex_pretool_and_permission_of_one_call_share_an_approval_key() -> None:
    pre = read_codex("PreToolUse")
    same_turn = read_codex(
        "PermissionRequest", session_id=payload("codex/PreToolUse")["session_id"],
        turn_id=payload("codex/PreToolUse")["turn_id"],
    )  # fmt: skip
    assert pre.approval_key == same_turn.approval_key  # the justification is not compared
    other = read_codex(
        "PermissionRequest", session_id=payload("codex/PreToolUse")["session_id"],
        turn_id=payload("codex/PreToolUse")["turn_id"], tool_input={"command": "rm -rf /"},
    )  # fmt: skip
    assert other.approval_key != pre.approval_key


@pytest.mark.parametrize(
    ("name", "intent", "state", "activity"),
    [
        ("SessionStart", "status", "working", "session started"),
        ("UserPromptSubmit", "status", "working", "prompt submitted"),
        ("PostToolUse", "status", "working", "ran Bash: touch"),
        ("Stop", "review", "idle", "finished its turn; waiting for the next prompt: done"),
        ("SessionEnd", "status", "offline", "session ended"),
    ],
)
def test_codex_status_events(name: str, intent: str, state: str, activity: str) -> None:
    call = read_codex(name)
    assert (call.intent, call.state) == (intent, state)
    assert activity in call.activity


def test_codex_permission_answers() -> None:
    def answer(outcome: Outcome, default: str = "deny") -> dict[str, Any] | None:
        return codex.permission_answer("PermissionRequest", outcome, HookConfig(default=default))  # type: ignore[arg-type]

    assert answer(APPROVED) == {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "allow"},
        }
    }
    denied = answer(REJECTED)
    assert denied == {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "deny", "message": "Denied by ana@laptop: use a dry run"},
        }
    }
    rerouted = answer(REROUTED)
    assert rerouted is not None
    assert "ops-bot takes over" in rerouted["hookSpecificOutput"]["decision"]["message"]
    timeout = answer(TIMED_OUT)
    assert timeout is not None
    assert timeout["hookSpecificOutput"]["decision"]["behavior"] == "deny"
    assert answer(TIMED_OUT, "ask") is None  # no verdict: Codex's own approval asks


def test_codex_pretool_answers() -> None:
    def answer(outcome: Outcome, default: str = "deny") -> dict[str, Any] | None:
        return codex.permission_answer("PreToolUse", outcome, HookConfig(default=default))  # type: ignore[arg-type]

    assert answer(APPROVED) is None  # PreToolUse cannot allow: no answer lets the call go on
    assert answer(REJECTED) == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "Denied by ana@laptop: use a dry run",
        }
    }
    # PreToolUse cannot ask either, and no answer would run the command: "ask" denies.
    asked = answer(TIMED_OUT, "ask")
    assert asked is not None
    assert asked["hookSpecificOutput"]["permissionDecision"] == "deny"


def test_codex_answers_never_use_a_reserved_field() -> None:
    answers: list[HookAnswer] = []
    for name in ("PermissionRequest", "PreToolUse"):
        call = read_codex(name)
        for outcome in (APPROVED, REJECTED, REROUTED, TIMED_OUT):
            for default in ("deny", "allow", "ask"):
                verdict = verdict_of(outcome, default)
                answers.append(codex.PROTOCOL.gate_answer(call, verdict, HEADLESS))
        answers.append(codex.PROTOCOL.failure(call, b"", "store unavailable", CONFIG))
    stop = read_codex("Stop")
    answers.append(codex.PROTOCOL.review_answer(stop, Outcome("E", "retry", "add tests")))
    assert answers
    assert all(reserved_fields(a.body) == set() for a in answers)


def test_codex_failures_deny_explicitly() -> None:
    gate = codex.PROTOCOL.failure(read_codex("PermissionRequest"), b"", "store down", CONFIG)
    assert gate.exit_code == 0
    assert gate.body is not None
    assert gate.body["hookSpecificOutput"]["decision"] == {
        "behavior": "deny",
        "message": "swarmdeck: store down; answered deny",
    }
    # Even with hooks.default = "allow": a failure is not a timeout.
    allow = HookConfig(default="allow")
    pre = codex.PROTOCOL.failure(read_codex("PreToolUse"), b"", "bug", allow)
    assert pre.body is not None
    assert pre.body["hookSpecificOutput"]["permissionDecision"] == "deny"
    # A payload we cannot read: its event, if readable, says how to deny.
    bad = raw("codex/PermissionRequest", session_id="")
    assert codex.PROTOCOL.failure(None, bad, "invalid", allow).body is not None
    unreadable = codex.PROTOCOL.failure(None, b"{not json", "invalid", allow)
    assert (unreadable.exit_code, unreadable.body) == (2, None)  # exit 2: Codex's deny
    assert "answered deny" in unreadable.stderr
    # A status hook that failed changes nothing (exit 2 on Stop would keep Codex going).
    status = codex.PROTOCOL.failure(None, raw("codex/Stop", session_id=""), "invalid", allow)
    assert (status.exit_code, status.body) == (0, None)


def test_codex_payload_errors_are_one_line() -> None:
    with pytest.raises(PayloadError, match="PermissionRequest without tool_name"):
        codex.PROTOCOL.read(raw("codex/PermissionRequest", tool_name=None), CONFIG, HEADLESS)
    with pytest.raises(PayloadError, match="session_id"):
        codex.PROTOCOL.read(b'{"hook_event_name": "Stop", "cwd": "/x"}', CONFIG, HEADLESS)


# ----------------------------------------------------------------------------- Gemini


def test_gemini_before_tool_is_a_gate() -> None:
    call = read_gemini("BeforeTool")
    assert (call.intent, call.vendor, call.tool_kind) == ("gate", "gemini", "shell")
    assert call.title == "run_shell_command: touch /tmp/swarmdeck-real-clients/project/ran"
    assert "session: headless (Gemini cannot ask its user here)" in call.details
    write = read_gemini("BeforeTool", tool_name="write_file", tool_input={"file_path": "/etc/x"})
    assert (write.intent, write.paths, severity_of(write)) == ("gate", ("/etc/x",), "high")
    read = read_gemini("BeforeTool", tool_name="read_file", tool_input={"file_path": "a.py"})
    assert (read.intent, read.state) == ("status", "working")


@pytest.mark.parametrize(
    ("name", "intent", "state", "activity"),
    [
        ("SessionStart", "status", "working", "session started"),
        ("BeforeAgent", "status", "working", "prompt submitted"),
        ("AfterTool", "status", "working", "ran run_shell_command: touch"),
        ("AfterAgent", "status", "idle", "finished its turn; waiting for the next prompt: done"),
        ("Notification", "status", "blocked", "Tool Confirm Shell Command requires execution"),
        ("SessionEnd", "status", "offline", "session ended (exit)"),
        ("PreCompress", "log", None, "PreCompress hook"),
    ],
)
def test_gemini_status_events(name: str, intent: str, state: str | None, activity: str) -> None:
    call = read_gemini(name)
    assert (call.intent, call.state) == (intent, state)
    assert activity in call.activity


def test_gemini_answers() -> None:
    call = read_gemini("BeforeTool")

    def answer(
        outcome: Outcome, context: HookContext = HEADLESS, default: str = "deny"
    ) -> HookAnswer:
        return gemini.PROTOCOL.gate_answer(call, verdict_of(outcome, default), context)  # type: ignore[arg-type]

    assert answer(APPROVED).body == {"decision": "allow"}
    denied = answer(REJECTED)
    assert (denied.exit_code, denied.body) == (
        0, {"decision": "deny", "reason": "Denied by ana@laptop: use a dry run"},
    )  # fmt: skip
    timed_out = answer(TIMED_OUT)
    assert (timed_out.exit_code, timed_out.body) == (2, None)  # exit 2 + stderr: Gemini's deny
    assert "timed out after 5s" in timed_out.stderr
    # "ask" only with a person at the terminal: a headless run that is asked hangs.
    assert answer(TIMED_OUT, INTERACTIVE, "ask").body == {
        "decision": "ask", "reason": "swarmdeck: no decision (timed out after 5s; answered deny)",
    }  # fmt: skip
    headless = answer(TIMED_OUT, HEADLESS, "ask")
    assert (headless.exit_code, headless.body) == (2, None)
    assert "a headless Gemini run cannot ask its user" in headless.stderr
    unknown = answer(TIMED_OUT, HookContext("c"), "ask")
    assert unknown.exit_code == 2  # not known to be interactive: never ask


def test_gemini_failures_exit_2_with_the_reason() -> None:
    gate = gemini.PROTOCOL.failure(read_gemini("BeforeTool"), b"", "store down", CONFIG)
    assert (gate.exit_code, gate.body, gate.stderr) == (
        2,
        None,
        "swarmdeck: store down; answered deny",
    )
    unreadable = gemini.PROTOCOL.failure(None, b"\xff\xfe", "not JSON", HookConfig(default="allow"))
    assert unreadable.exit_code == 2
    status = gemini.PROTOCOL.failure(None, raw("gemini/AfterAgent", cwd=""), "invalid", CONFIG)
    assert status.exit_code == 0  # exit 2 on AfterAgent would interrupt the turn for nothing


@pytest.mark.parametrize(
    ("argv", "tty", "interactive"),
    [
        (["node", "/usr/lib/node_modules/@google/gemini-cli/dist/index.js"], True, True),
        (["node", "/home/u/.npm/bin/gemini", "-m", "gemini-2.5-pro"], True, True),
        (["gemini", "-p", "fix the tests"], True, False),
        (["gemini", "--prompt=fix the tests"], True, False),
        (["gemini", "fix the tests"], True, False),  # a positional prompt: one-shot
        (["gemini", "-i", "fix the tests"], False, True),
        (["gemini", "--acp"], False, True),
        (["gemini"], False, False),  # stdin is a pipe: headless
        (["gemini", "--model", "x", "--approval-mode", "yolo"], True, True),
        (["gemini", "--weird-flag", "value"], True, False),  # cannot place "value": headless
    ],
)
def test_gemini_interactive_from_its_command_line(
    argv: list[str], tty: bool, interactive: bool
) -> None:
    assert is_gemini(argv)
    assert interactive_from(argv, tty) is interactive


def test_other_processes_are_not_gemini() -> None:
    assert not is_gemini(["/usr/bin/python3", "-m", "pytest"])
    assert not is_gemini(["bash", "-c", "swarmdeck hook gemini"])
