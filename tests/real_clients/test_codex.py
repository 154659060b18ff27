"""The real Codex CLI (``codex exec``) against a fake Responses API, with trivial hooks.

swarmdeck has no ``hook codex`` yet: these tests pin down what Codex itself does, for
whoever writes it. Each run offers Codex one ``exec_command`` call that touches a
marker, with a recording hook (``recording_hook.py``) answering a fixed JSON/exit
code. They show the payload of every hook event (kept in fixtures/codex/), which
answers Codex honours and what the model is told, and that Codex fails *open* when a
hook times out, so ``swarmdeck hook codex`` must answer before Codex gives up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.real_clients.clients import (
    Finished,
    HookGroups,
    Running,
    codex_args,
    codex_config,
    codex_env,
)
from tests.real_clients.fake_apis import ResponsesFake, Script
from tests.real_clients.recording import check_fixtures, recorded, recorded_events, recording_hook

pytestmark = [pytest.mark.slow, pytest.mark.real_client, pytest.mark.timeout(120)]

PROMPT = "Touch the marker file."
RUN_BOUND = 60.0
REASON = "manager: use a dry run"

#: Events that only report (no verdict): each gets a silent recording hook.
STATUS_EVENTS = ("SessionStart", "UserPromptSubmit", "PostToolUse", "Stop", "SessionEnd")


def run_codex(
    codex_bin: Path,
    project: Path,
    home: Path,
    api: ResponsesFake,
    hooks: HookGroups,
    *flags: str,
) -> Finished:
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(api.url, hooks), encoding="utf-8")
    args = codex_args(codex_bin, PROMPT, *flags)
    with Running(args, cwd=project, env=codex_env(home, codex_home)) as codex:
        return codex.finish(RUN_BOUND)


def status_hooks(log: Path) -> dict[str, list[tuple[str | None, str, int]]]:
    return {event: [(None, recording_hook(log), 30)] for event in STATUS_EVENTS}


def pretool_deny() -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": REASON,
        }
    }


def permission(behavior: str) -> dict[str, Any]:
    decision: dict[str, Any] = {"behavior": behavior}
    if behavior == "deny":
        decision["message"] = REASON
    return {"hookSpecificOutput": {"hookEventName": "PermissionRequest", "decision": decision}}


def roots(tmp_path: Path) -> dict[str, str]:
    return {str(tmp_path): "/tmp/swarmdeck-real-clients"}


def test_a_silent_pretooluse_hook_lets_the_command_run_and_every_event_is_recorded(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    responses_api: ResponsesFake,
    marker: Path,
    hook_log: Path,
    tmp_path: Path,
) -> None:
    hooks = status_hooks(hook_log)
    hooks["PreToolUse"] = [("*", recording_hook(hook_log), 30)]
    done = run_codex(codex_bin, project, client_home, responses_api, hooks, "-s", "workspace-write")
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()
    events = recorded_events(hook_log)
    assert events == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ], events
    [pre] = [p for p in recorded(hook_log) if p["hook_event_name"] == "PreToolUse"]
    assert pre["tool_name"] == "Bash"  # exec_command is reported as Bash
    assert pre["tool_input"] == {"command": f"touch {marker}"}
    assert pre["tool_use_id"] == ResponsesFake.CALL_ID
    assert pre["cwd"] == str(project)
    # Plain exec forces approval_policy=never, which hooks see as bypassPermissions
    # (with --approve-for-me it is "default"): not a sign that someone skipped checks.
    assert pre["permission_mode"] == "bypassPermissions"
    check_fixtures("codex", recorded(hook_log), roots(tmp_path))


def test_pretooluse_deny_blocks_and_the_model_hears_the_reason(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    responses_api: ResponsesFake,
    marker: Path,
    hook_log: Path,
) -> None:
    hooks = {"PreToolUse": [("Bash", recording_hook(hook_log, stdout=pretool_deny()), 30)]}
    done = run_codex(codex_bin, project, client_home, responses_api, hooks, "-s", "workspace-write")
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    assert responses_api.tool_result() == (
        f"Command blocked by PreToolUse hook: {REASON}. Command: touch {marker}"
    )


def test_pretooluse_exit_2_with_stderr_denies_with_that_reason(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    responses_api: ResponsesFake,
    marker: Path,
    hook_log: Path,
) -> None:
    hooks = {"PreToolUse": [("*", recording_hook(hook_log, stderr=REASON, exit=2), 30)]}
    done = run_codex(codex_bin, project, client_home, responses_api, hooks, "-s", "workspace-write")
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    assert REASON in (responses_api.tool_result() or "")


def test_a_pretooluse_hook_that_times_out_fails_open(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    responses_api: ResponsesFake,
    marker: Path,
    hook_log: Path,
) -> None:
    """Codex gives up on a hook at its ``timeout`` and runs the command anyway: a
    swarmdeck hook must answer deny before Codex's timeout, never let it pass."""
    hooks = {"PreToolUse": [("*", recording_hook(hook_log, sleep=20), 2)]}
    done = run_codex(codex_bin, project, client_home, responses_api, hooks, "-s", "workspace-write")
    assert done.returncode == 0, done.explain()
    assert done.seconds < 15, done.explain()  # Codex did not wait out the hook's sleep
    assert marker.exists(), done.explain()


# PermissionRequest fires in `codex exec` only with an approvals reviewer
# (--approve-for-me) and a command that asks to leave the sandbox.


def test_permission_request_allow_runs_the_escalated_command(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    marker: Path,
    hook_log: Path,
    tmp_path: Path,
) -> None:
    hooks = {
        "PreToolUse": [("*", recording_hook(hook_log), 30)],
        "PermissionRequest": [("*", recording_hook(hook_log, stdout=permission("allow")), 30)],
    }
    with ResponsesFake(Script(command=f"touch {marker}"), escalate=True) as api:
        done = run_codex(codex_bin, project, client_home, api, hooks, "--approve-for-me")
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()
    payloads = recorded(hook_log)
    assert [p["hook_event_name"] for p in payloads] == ["PreToolUse", "PermissionRequest"]
    request = payloads[1]
    assert request["tool_name"] == "Bash"
    # The model's justification arrives as the tool input's description.
    assert request["tool_input"] == {
        "command": f"touch {marker}",
        "description": "touch the marker file",
    }
    assert "tool_use_id" not in request
    check_fixtures("codex", [request], roots(tmp_path))


def test_permission_request_deny_carries_the_message_to_the_model(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    marker: Path,
    hook_log: Path,
) -> None:
    hooks = {"PermissionRequest": [("*", recording_hook(hook_log, stdout=permission("deny")), 30)]}
    with ResponsesFake(Script(command=f"touch {marker}"), escalate=True) as api:
        done = run_codex(codex_bin, project, client_home, api, hooks, "--approve-for-me")
        result = api.tool_result()
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    assert result == f'exec_command failed: CreateProcess {{ message: "Rejected(\\"{REASON}\\")" }}'


def test_a_permission_request_hook_that_times_out_hands_the_decision_to_the_auto_reviewer(
    codex_bin: Path,
    project: Path,
    client_home: Path,
    marker: Path,
    hook_log: Path,
) -> None:
    """No verdict in time -> Codex asks its automatic reviewer (another model request):
    the manager is not asked, the model is. The fake answers the review with text that is
    no verdict, so here the command is rejected; a real reviewer model may approve it."""
    hooks = {"PermissionRequest": [("*", recording_hook(hook_log, sleep=20), 2)]}
    with ResponsesFake(Script(command=f"touch {marker}"), escalate=True) as api:
        done = run_codex(codex_bin, project, client_home, api, hooks, "--approve-for-me")
        reviews = api.reviews()
        result = api.tool_result() or ""
    assert done.returncode == 0, done.explain()
    assert done.seconds < 15, done.explain()
    assert recorded_events(hook_log) == ["PermissionRequest"]
    assert reviews, "no automatic review request reached the model"
    assert "automatic approval review" in result.lower(), result
    assert not marker.exists()
