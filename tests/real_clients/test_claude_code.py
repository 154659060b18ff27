"""The real Claude Code CLI (``claude -p``) with swarmdeck's hooks, against a fake Messages API.

Each test installs the hooks exactly as a user would (``swarmdeck install claude-code
--project DIR``), lets the fake model ask for one Bash call that touches a marker file,
and decides the escalation through ``swarmdeck decide``. The marker says whether the
command ran; the fake API's request log says what the model was told.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.real_clients.clients import Running, claude_args, claude_env
from tests.real_clients.fake_apis import AnthropicFake
from tests.real_clients.recording import check_fixtures, recorded, recorded_events, recording_hook
from tests.real_clients.swarmdeck_cli import Swarmdeck

pytestmark = [pytest.mark.slow, pytest.mark.real_client, pytest.mark.timeout(120)]

PROMPT = "Touch the marker file."
#: Bound of one `claude -p` run once the hook answered (it takes ~1-2 s here).
RUN_BOUND = 60.0


def start_claude(
    claude_bin: Path, project: Path, home: Path, api: AnthropicFake, *extra: str, **env: str
) -> Running:
    return Running(
        claude_args(claude_bin, PROMPT, *extra), cwd=project, env=claude_env(home, api.url, **env)
    )


def test_install_checks_the_installed_claude_code(
    claude_bin: Path, sd: Swarmdeck, project: Path
) -> None:
    """The pinned 2.1.332 is the minimum that fails closed: installed without a warning."""
    version = subprocess.run([str(claude_bin), "--version"], capture_output=True, text=True)
    assert version.stdout.startswith("2.1.332"), version.stdout
    sd.install_claude_code(project)
    assert sd.last_install is not None
    assert sd.last_install.stderr == "", sd.last_install.stderr


def test_approve_runs_the_command(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        assert esc["title"] == f"Bash: touch {marker}"
        assert esc["agent"] == f"claude:{project.name}"
        assert not marker.exists()  # held until the manager decides
        sd.decide(esc["id"], "approve")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()
    assert done.json()["result"] == "done"
    result = anthropic.tool_result_block()
    assert result is not None and not result.get("is_error")
    assert sd.escalation(esc["id"])["state"] == "decided"


def test_reject_carries_the_reason_to_the_model(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        sd.decide(esc["id"], "reject", reason="use a dry run first")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    result = anthropic.tool_result_block()
    assert result is not None, anthropic.describe()
    assert result.get("is_error") is True
    text = anthropic.tool_result() or ""
    assert "use a dry run first" in text, text
    assert text.startswith("PreToolUse:Bash hook"), text  # how Claude Code frames a hook deny
    assert [d["tool_name"] for d in done.json()["permission_denials"]] == ["Bash"]


def test_no_decision_denies_after_the_hook_timeout(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.write_config(hook_timeout=3)  # swarmdeck waits 3 s; Claude Code would wait 63 s
    settings = sd.install_claude_code(project)
    assert settings["hooks"]["PreToolUse"][0]["hooks"][0]["timeout"] == 63
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude, state=None)
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    assert done.seconds >= 3
    text = anthropic.tool_result() or ""
    assert "no decision" in text, text
    after = sd.escalation(esc["id"])
    assert after["state"] == "withdrawn", after
    assert "timed out" in (after["reason"] or ""), after


def test_claude_codes_own_shorter_hook_timeout_fails_closed(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    """Claude Code kills the waiting hook at its own timeout (3 s, ours is 120 s): the
    hook's ``onFailure: "block"`` must keep the command from running."""
    settings = sd.install_claude_code(project, timeout=3)
    assert settings["hooks"]["PreToolUse"][0]["hooks"][0]["onFailure"] == "block"
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude, state=None)
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert not marker.exists(), done.explain()
    result = anthropic.tool_result_block()
    assert result is not None and result.get("is_error") is True, anthropic.describe()
    # The killed hook withdrew its escalation: nobody is asked about a dead request.
    after = sd.wait_until_closed(esc["id"], timeout=15)
    assert after["state"] == "withdrawn", after
    # A late approval is refused rather than "recorded" for a request nobody waits on.
    late = sd.decide(esc["id"], "approve", check=False)
    assert late.returncode != 0, late.stdout
    assert not marker.exists()


@pytest.mark.parametrize(
    ("how", "why"),
    [
        # Claude Code stops its hooks on the way out: the hook's signal handler withdraws.
        pytest.param(signal.SIGTERM, "the hook was stopped before a decision came", id="SIGTERM"),
        # Killed outright, it leaves the hook running: the hook sees its stdout lose its
        # reader and withdraws.
        pytest.param(signal.SIGKILL, "the agent's CLI stopped waiting", id="SIGKILL"),
    ],
)
def test_claude_code_exiting_mid_wait_withdraws_the_escalation(
    how: signal.Signals,
    why: str,
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        claude.signal(how)  # Claude Code only: its hook runs in a session of its own
        claude.finish(RUN_BOUND)
        after = sd.wait_until_closed(esc["id"], timeout=10)
    assert after["state"] == "withdrawn", after
    assert why in (after["reason"] or ""), after
    late = sd.decide(esc["id"], "approve", check=False)
    assert late.returncode != 0, late.stdout
    assert not marker.exists()


def test_reroute_on_pretooluse_tells_the_model_who_takes_over(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        sd.decide(esc["id"], "reroute", to="planner-2", reason="planner owns deploys")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    text = anthropic.tool_result() or ""
    assert "planner-2 takes over" in text, text
    assert "planner owns deploys" in text, text
    assert done.json()["result"] == "done"  # the model heard it and answered


# PermissionRequest fires when no PreToolUse hook decided and a dialog would appear:
# install with a matcher that gates nothing, so Bash reaches the permission step.
NO_PRETOOL_GATE = "NoSuchTool"


def test_permission_request_approve_runs_the_command(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project, matcher=NO_PRETOOL_GATE)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        assert "permission mode: default" in esc["body"]
        assert "tool use:" not in esc["body"]  # PreToolUse bodies name the tool use id
        sd.decide(esc["id"], "approve")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()


def test_permission_request_reject_carries_the_reason(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project, matcher=NO_PRETOOL_GATE)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        sd.decide(esc["id"], "reject", reason="not on a Friday")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    text = anthropic.tool_result() or ""
    assert "not on a Friday" in text, text


def test_permission_request_reroute_tells_the_model_who_takes_over(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    sd.install_claude_code(project, matcher=NO_PRETOOL_GATE)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        sd.decide(esc["id"], "reroute", to="planner-2", reason="planner owns deploys")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()  # not aborted: the model heard it
    assert not marker.exists()
    text = anthropic.tool_result() or ""
    assert "planner-2 takes over" in text, f"{text!r}\n{done.explain()}"
    assert "planner owns deploys" in text, text
    assert done.json()["result"] == "done"


def test_an_ended_session_goes_offline(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
) -> None:
    settings = sd.install_claude_code(project)
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        esc = sd.wait_for_escalation(client=claude)
        sd.decide(esc["id"], "approve")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    agents = {a["name"]: a for a in sd.agents()}
    assert agents[f"claude:{project.name}"]["state"] == "offline", agents
    assert "SessionEnd" in settings["hooks"]


def test_the_next_run_in_a_directory_gets_the_plain_name(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
) -> None:
    sd.install_claude_code(project)
    names = []
    for _ in range(2):
        with start_claude(claude_bin, project, client_home, anthropic) as claude:
            esc = sd.wait_for_escalation(client=claude)
            names.append(esc["agent"])
            sd.decide(esc["id"], "approve")
            done = claude.finish(RUN_BOUND)
        assert done.returncode == 0, done.explain()
    assert names == [f"claude:{project.name}"] * 2


def test_what_claude_code_sends_its_hooks(
    claude_bin: Path,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
    hook_log: Path,
    tmp_path: Path,
) -> None:
    """Every hook event of a ``-p`` run, recorded with a trivial hook (fixtures/claude-code/):
    PreToolUse passes (no output), so Bash reaches PermissionRequest, which allows it."""
    allow = {
        "hookSpecificOutput": {
            "hookEventName": "PermissionRequest",
            "decision": {"behavior": "allow"},
        }
    }
    events = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Notification",
              "Stop", "SessionEnd")  # fmt: skip

    def group(command: str) -> list[dict[str, object]]:
        return [{"matcher": "*", "hooks": [{"type": "command", "command": command, "timeout": 30}]}]

    hooks = {event: group(recording_hook(hook_log)) for event in events}
    hooks["PermissionRequest"] = group(recording_hook(hook_log, stdout=allow))
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps({"hooks": hooks}))
    with start_claude(claude_bin, project, client_home, anthropic) as claude:
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()
    seen = recorded_events(hook_log)
    assert seen == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PermissionRequest",
        "PostToolUse",
        "Stop",
        "SessionEnd",
    ], seen
    payloads = {p["hook_event_name"]: p for p in recorded(hook_log)}
    assert payloads["PermissionRequest"]["tool_input"]["command"] == f"touch {marker}"
    assert payloads["PreToolUse"]["tool_use_id"] == AnthropicFake.CALL_ID
    assert payloads["Stop"]["last_assistant_message"] == "done"
    assert payloads["SessionEnd"]["reason"] == "other"
    # Claude Code keeps transcripts under ~/.claude/projects/<cwd, non-alphanumerics as ->.
    escaped = re.sub(r"[^A-Za-z0-9]", "-", str(project))
    roots = {
        str(tmp_path): "/tmp/swarmdeck-real-clients",
        escaped: "-tmp-swarmdeck-real-clients-project",
    }
    check_fixtures("claude-code", recorded(hook_log), roots)
