"""The real Gemini CLI (``gemini -p``) against a fake Gemini API, with trivial hooks.

swarmdeck has no ``hook gemini`` yet: these tests pin down what Gemini CLI itself does.
The fake model asks for one ``run_shell_command`` that touches a marker; a policy file
offers that tool in headless mode (never ``--yolo``) and a BeforeTool hook
(``recording_hook.py``) is the gate. They show every hook event's payload (kept in
fixtures/gemini/), which answers Gemini CLI honours, what the model is told, and that
it fails *open* when a hook exits 1 or times out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.real_clients.clients import (
    GEMINI_POLICY,
    Finished,
    HookGroups,
    Running,
    gemini_args,
    gemini_env,
    gemini_settings,
)
from tests.real_clients.fake_apis import GeminiFake
from tests.real_clients.recording import check_fixtures, recorded, recorded_events, recording_hook

pytestmark = [pytest.mark.slow, pytest.mark.real_client, pytest.mark.timeout(120)]

PROMPT = "Touch the marker file."
RUN_BOUND = 60.0
REASON = "manager: use a dry run"
SHELL = "run_shell_command"

#: Events swarmdeck may use for status (the model-level ones fire per model call and
#: carry the whole request: left out).
STATUS_EVENTS = (
    "SessionStart",
    "BeforeAgent",
    "AfterTool",
    "AfterAgent",
    "Notification",
    "PreCompress",
    "SessionEnd",
)


def run_gemini(
    gemini_bin: Path,
    project: Path,
    home: Path,
    api: GeminiFake,
    hooks: HookGroups,
    bound: float = RUN_BOUND,
) -> Finished:
    settings_dir = home / ".gemini"
    settings_dir.mkdir(parents=True, exist_ok=True)
    (settings_dir / "settings.json").write_text(json.dumps(gemini_settings(hooks)))
    policy = home / "policy.toml"
    policy.write_text(GEMINI_POLICY, encoding="utf-8")
    args = gemini_args(gemini_bin, PROMPT, policy)
    with Running(args, cwd=project, env=gemini_env(home, api.url)) as gemini:
        return gemini.finish(bound)


def before_tool(
    command: str, timeout_ms: int = 30_000
) -> dict[str, list[tuple[str | None, str, int]]]:
    return {"BeforeTool": [(SHELL, command, timeout_ms)]}


def test_an_allowing_before_tool_hook_lets_it_run_and_every_event_is_recorded(
    gemini_bin: Path,
    project: Path,
    client_home: Path,
    gemini_api: GeminiFake,
    marker: Path,
    hook_log: Path,
    tmp_path: Path,
) -> None:
    hooks = before_tool(recording_hook(hook_log, stdout={"decision": "allow"}))
    hooks.update({event: [(None, recording_hook(hook_log), 30_000)] for event in STATUS_EVENTS})
    hooks["AfterTool"] = [("*", recording_hook(hook_log), 30_000)]
    done = run_gemini(gemini_bin, project, client_home, gemini_api, hooks)
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()
    assert done.stdout.strip() == "done"
    events = recorded_events(hook_log)
    for expected in ("SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "AfterAgent"):
        assert expected in events, events
    assert events.index("BeforeTool") < events.index("AfterTool")
    [call] = [p for p in recorded(hook_log) if p["hook_event_name"] == "BeforeTool"]
    assert call["tool_name"] == SHELL
    assert call["tool_input"]["command"] == f"touch {marker}"
    assert call["cwd"] == str(project)
    result: dict[str, Any] = json.loads(gemini_api.tool_result() or "{}")
    assert "output" in result and "error" not in result, result
    check_fixtures("gemini", recorded(hook_log), {str(tmp_path): "/tmp/swarmdeck-real-clients"})


def test_before_tool_deny_blocks_and_the_model_hears_the_reason(
    gemini_bin: Path,
    project: Path,
    client_home: Path,
    gemini_api: GeminiFake,
    marker: Path,
    hook_log: Path,
) -> None:
    answer = {"decision": "deny", "reason": REASON}
    done = run_gemini(
        gemini_bin,
        project,
        client_home,
        gemini_api,
        before_tool(recording_hook(hook_log, stdout=answer)),
    )
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    assert json.loads(gemini_api.tool_result() or "{}") == {
        "error": f"Tool execution blocked: {REASON}"
    }


def test_exit_2_with_stderr_denies_with_that_reason(
    gemini_bin: Path,
    project: Path,
    client_home: Path,
    gemini_api: GeminiFake,
    marker: Path,
    hook_log: Path,
) -> None:
    hook = recording_hook(hook_log, stderr=REASON, exit=2)
    done = run_gemini(gemini_bin, project, client_home, gemini_api, before_tool(hook))
    assert done.returncode == 0, done.explain()
    assert not marker.exists()
    assert REASON in (gemini_api.tool_result() or ""), gemini_api.tool_result()


@pytest.mark.parametrize(
    ("how", "hook_options", "timeout_ms"),
    [
        ("exit 1", {"exit": 1, "stderr": "crashed"}, 30_000),
        ("timeout", {"sleep": 20.0}, 2_000),
    ],
)
def test_a_failing_before_tool_hook_fails_open(
    how: str,
    hook_options: dict[str, Any],
    timeout_ms: int,
    gemini_bin: Path,
    project: Path,
    client_home: Path,
    gemini_api: GeminiFake,
    marker: Path,
    hook_log: Path,
) -> None:
    """Exit 1 and a timeout let the command run: ``swarmdeck hook gemini`` must turn
    every failure of its own into an explicit deny (exit 2) before Gemini's timeout."""
    hook = recording_hook(hook_log, **hook_options)
    done = run_gemini(gemini_bin, project, client_home, gemini_api, before_tool(hook, timeout_ms))
    assert done.returncode == 0, done.explain()
    assert done.seconds < 15, done.explain()
    assert marker.exists(), f"{how}: {done.explain()}"


def test_ask_hangs_a_headless_run_and_notifies(
    gemini_bin: Path,
    project: Path,
    client_home: Path,
    gemini_api: GeminiFake,
    marker: Path,
    hook_log: Path,
    tmp_path: Path,
) -> None:
    """``ask`` forces a confirmation nobody can give in ``-p`` mode: the run waits until
    killed (so ``swarmdeck hook gemini`` must never answer it), and the pending
    confirmation is announced by a Notification hook (recorded as a fixture)."""
    hooks = before_tool(recording_hook(hook_log, stdout={"decision": "ask"}))
    hooks["Notification"] = [(None, recording_hook(hook_log), 30_000)]
    done = run_gemini(gemini_bin, project, client_home, gemini_api, hooks, bound=10)
    assert done.killed, done.explain()
    assert not marker.exists()
    assert recorded_events(hook_log) == ["BeforeTool", "Notification"]
    [note] = [p for p in recorded(hook_log) if p["hook_event_name"] == "Notification"]
    assert note["notification_type"] == "ToolPermission"
    assert note["details"]["command"] == f"touch {marker}"
    check_fixtures("gemini", [note], {str(tmp_path): "/tmp/swarmdeck-real-clients"})
