"""``swarmdeck hook codex`` / ``swarmdeck hook gemini`` driven by the real CLIs (issue 12).

Same shape as the Claude Code suite:
approve -> the command ran; reject -> the model's next request
carries the reason; nobody decides -> deny after swarmdeck's timeout.

"The CLI killing the hook -> not allowed" has no test here on purpose: both CLIs decide
without the hook once they kill it (Gemini runs the command, Codex asks its automatic
reviewer; see test_codex.py / test_gemini.py), so only an install that gives the CLI a
longer timeout than swarmdeck's own wait can keep that promise.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.real_clients.clients import (
    GEMINI_POLICY,
    Running,
    codex_args,
    codex_config,
    codex_env,
    gemini_args,
    gemini_env,
    gemini_settings,
)
from tests.real_clients.fake_apis import GeminiFake, ResponsesFake, Script
from tests.real_clients.swarmdeck_cli import SWARMDECK, Swarmdeck

pytestmark = [
    pytest.mark.slow,
    pytest.mark.real_client,
    pytest.mark.timeout(120),
]

RUN_BOUND = 60.0
PROMPT = "Touch the marker file."
REASON = "use a dry run first"
SCENARIOS = ["approve", "reject", "no decision"]


def hook_command(sd: Swarmdeck, vendor: str) -> str:
    parts = [str(SWARMDECK), "--db", str(sd.db), "--config", str(sd.config), "hook", vendor]
    return " ".join(shlex.quote(p) for p in parts)


def decide_and_check(
    scenario: str, sd: Swarmdeck, client: Running, marker: Path, vendor: str, project: Path
) -> str:
    """Play one scenario against a running CLI; returns the escalation id."""
    esc = sd.wait_for_escalation(client=client)
    assert esc["agent"] == f"{vendor}:{project.name}", esc
    assert esc["title"] == f"Bash: touch {marker}" or marker.name in esc["title"], esc
    if scenario == "approve":
        sd.decide(esc["id"], "approve")
    elif scenario == "reject":
        sd.decide(esc["id"], "reject", reason=REASON)
    done = client.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert marker.exists() == (scenario == "approve"), done.explain()
    if scenario == "no decision":
        assert sd.escalation(esc["id"])["state"] == "withdrawn"
    return str(esc["id"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_codex_permission_request_through_swarmdeck(
    scenario: str,
    codex_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    marker: Path,
) -> None:
    sd.write_config(hook_timeout=3 if scenario == "no decision" else 120)
    codex_home = client_home / ".codex"
    codex_home.mkdir()
    with ResponsesFake(Script(command=f"touch {marker}"), escalate=True) as api:
        hooks = {"PermissionRequest": [("*", hook_command(sd, "codex"), 600)]}
        (codex_home / "config.toml").write_text(codex_config(api.url, hooks))
        args = codex_args(codex_bin, PROMPT, "--approve-for-me")
        with Running(args, cwd=project, env=codex_env(client_home, codex_home)) as codex:
            decide_and_check(scenario, sd, codex, marker, "codex", project)
        result = api.tool_result() or ""
    if scenario == "reject":
        assert REASON in result, result


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_gemini_before_tool_through_swarmdeck(
    scenario: str,
    gemini_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    marker: Path,
) -> None:
    sd.write_config(hook_timeout=3 if scenario == "no decision" else 120)
    (client_home / ".gemini").mkdir()
    policy = client_home / "policy.toml"
    policy.write_text(GEMINI_POLICY, encoding="utf-8")
    with GeminiFake(Script(command=f"touch {marker}")) as api:
        hooks = {"BeforeTool": [("run_shell_command", hook_command(sd, "gemini"), 600_000)]}
        (client_home / ".gemini" / "settings.json").write_text(json.dumps(gemini_settings(hooks)))
        args = gemini_args(gemini_bin, PROMPT, policy)
        with Running(args, cwd=project, env=gemini_env(client_home, api.url)) as gemini:
            decide_and_check(scenario, sd, gemini, marker, "gemini", project)
        result = api.tool_result() or ""
    if scenario == "reject":
        assert REASON in result, result
