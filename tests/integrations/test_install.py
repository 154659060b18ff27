"""``swarmdeck install claude-code``: a real subprocess merging into a real settings file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from swarmdeck.cli.install import desired_groups, merge_hooks
from tests.helpers.hooks import SWARMDECK

EXISTING: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm run test:*)"], "deny": ["Read(./.env)"]},
    "env": {"FOO": "bar"},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "./lint-guard.sh"}]}
        ],
        "PostToolUse": [
            {"matcher": "Edit|Write", "hooks": [{"type": "command", "command": "ruff format"}]}
        ],
    },
}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SWARMDECK), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_merge_keeps_unrelated_settings_and_is_idempotent(
    tmp_path: Path, env: dict[str, str]
) -> None:
    project = tmp_path / "repo"
    settings = project / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(json.dumps(EXISTING, indent=4))
    db = tmp_path / "team.db"

    first = run(
        ["install", "claude-code", "--project", str(project), "--db", str(db)], env, tmp_path
    )
    assert first.returncode == 0, first.stderr
    assert "installed swarmdeck hooks" in first.stdout
    merged = json.loads(settings.read_text())
    for key in ("model", "permissions", "env"):
        assert merged[key] == EXISTING[key]
    assert merged["hooks"]["PostToolUse"] == EXISTING["hooks"]["PostToolUse"]
    pre = merged["hooks"]["PreToolUse"]
    assert pre[0] == EXISTING["hooks"]["PreToolUse"][0]  # the user's own hook stays first
    # Every tool that changes or sends something; every MCP tool but swarmdeck's own.
    assert pre[1]["matcher"] == (
        "Bash|Edit|Write|MultiEdit|NotebookEdit|WebFetch|mcp__(?!swarmdeck__).*"
    )
    [handler] = pre[1]["hooks"]
    assert handler["type"] == "command"
    assert handler["command"] == f"{SWARMDECK} hook claude-code --db {db}"
    assert handler["timeout"] == 660  # hooks.timeout + 60
    assert handler["onFailure"] == "block"  # a crashed hook must not let the call through
    assert merged["hooks"]["PermissionRequest"][0]["matcher"] == "*"
    for event in ("Notification", "Stop", "SubagentStop", "SessionEnd"):
        assert merged["hooks"][event][0]["hooks"][0]["command"] == handler["command"]
    backups = list(settings.parent.glob("settings.json.bak-*"))
    assert len(backups) == 1
    assert json.loads(backups[0].read_text()) == EXISTING

    before = settings.read_bytes()
    second = run(
        ["install", "claude-code", "--project", str(project), "--db", str(db)], env, tmp_path
    )
    assert second.returncode == 0, second.stderr
    assert "nothing changed" in second.stdout
    assert settings.read_bytes() == before
    assert len(list(settings.parent.glob("settings.json.bak-*"))) == 1


def test_invalid_json_is_left_untouched(tmp_path: Path, env: dict[str, str]) -> None:
    settings = tmp_path / "repo" / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"model": "opus",}')
    result = run(["install", "claude-code", "--project", str(tmp_path / "repo")], env, tmp_path)
    assert result.returncode != 0
    assert "not valid JSON (line 1" in result.stderr
    assert "left untouched" in result.stderr
    assert settings.read_text() == '{"model": "opus",}'
    assert not list(settings.parent.glob("*.bak-*"))


def test_user_settings_created_when_missing(tmp_path: Path, env: dict[str, str]) -> None:
    result = run(["install", "claude-code", "--user"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    path = Path(env["HOME"]) / ".claude" / "settings.json"
    data = json.loads(path.read_text())
    assert set(data["hooks"]) == {
        "PermissionRequest", "PreToolUse", "Notification", "Stop", "SubagentStop", "SessionEnd"
    }  # fmt: skip


def test_reinstall_with_new_path_replaces_in_place() -> None:
    old = desired_groups("/old/bin/swarmdeck hook claude-code", "Bash", 100)
    mine = {"type": "command", "command": "./mine.sh"}
    settings = {
        "hooks": {
            "PreToolUse": [
                old["PreToolUse"],
                {"matcher": "Edit", "hooks": [mine, *old["PreToolUse"]["hooks"]]},
            ]
        }
    }
    new = desired_groups("/new/bin/swarmdeck hook claude-code", "Bash|Write", 700)
    merged = merge_hooks(settings, new, "settings.json")
    pre = merged["hooks"]["PreToolUse"]
    assert pre[0] == new["PreToolUse"]  # replaced where it stood
    assert pre[1] == {"matcher": "Edit", "hooks": [mine]}  # ours removed from the user's group
    assert len(pre) == 2
    assert merge_hooks(merged, new, "settings.json") == merged


def test_codex_hooks_merge_idempotently_with_a_backup(tmp_path: Path, env: dict[str, str]) -> None:
    codex_home = tmp_path / "codex-home"
    hooks = codex_home / "hooks.json"
    hooks.parent.mkdir()
    theirs: dict[str, Any] = {
        "description": "team hooks",
        "hooks": {
            "PostToolUse": [
                {"matcher": "apply_patch", "hooks": [{"type": "command", "command": "ruff format"}]}
            ]
        },
    }
    hooks.write_text(json.dumps(theirs))  # fmt: skip
    env = {**env, "CODEX_HOME": str(codex_home)}
    db = tmp_path / "team.db"
    first = run(["install", "codex", "--db", str(db)], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "/hooks" in first.stdout  # the trust step: Codex skips untrusted hooks silently
    assert "--dangerously-bypass-hook-trust" in first.stdout
    merged = json.loads(hooks.read_text())
    assert merged["description"] == "team hooks"
    assert merged["hooks"]["PostToolUse"] == theirs["hooks"]["PostToolUse"]
    [gate] = merged["hooks"]["PermissionRequest"]
    assert gate["matcher"] == "*"
    [handler] = gate["hooks"]
    assert handler["command"] == f"{SWARMDECK} hook codex --db {db}"
    assert handler["timeout"] == 660  # seconds: longer than swarmdeck's own 600 s wait
    assert merged["hooks"]["PreToolUse"][0]["matcher"] == "Bash|Edit|Write|mcp__.*"  # no (?!
    for event in ("SessionStart", "UserPromptSubmit", "Stop", "SubagentStop", "SessionEnd"):
        assert merged["hooks"][event][0]["hooks"][0]["command"] == handler["command"]
    allowed = {"type", "command", "timeout", "statusMessage"}
    groups = [g for event in merged["hooks"].values() for g in event]
    assert all(set(h) <= allowed for g in groups for h in g["hooks"])
    [backup] = list(codex_home.glob("hooks.json.bak-*"))
    assert json.loads(backup.read_text()) == theirs

    before = hooks.read_bytes()
    second = run(["install", "codex", "--db", str(db)], env, tmp_path)
    assert "nothing changed" in second.stdout
    assert hooks.read_bytes() == before
    assert len(list(codex_home.glob("hooks.json.bak-*"))) == 1


def test_gemini_hooks_merge_with_a_timeout_past_its_60s_default(
    tmp_path: Path, env: dict[str, str]
) -> None:
    settings = Path(env["HOME"]) / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True)
    theirs: dict[str, Any] = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "hooksConfig": {"enabled": True},
    }
    settings.write_text(json.dumps(theirs))
    first = run(["install", "gemini"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    merged = json.loads(settings.read_text())
    assert merged["security"] == theirs["security"]
    assert merged["hooksConfig"] == theirs["hooksConfig"]
    [gate] = merged["hooks"]["BeforeTool"]
    assert gate["matcher"] == "run_shell_command|write_file|replace|mcp_.*"
    [handler] = gate["hooks"]
    assert handler["timeout"] == 660_000  # milliseconds; Gemini runs the tool after 60 000
    assert handler["command"].endswith(" hook gemini")
    assert handler["name"] == "swarmdeck"
    assert set(merged["hooks"]) == {
        "BeforeTool", "SessionStart", "BeforeAgent", "AfterAgent", "Notification", "SessionEnd"
    }  # fmt: skip
    assert len(list(settings.parent.glob("settings.json.bak-*"))) == 1
    before = settings.read_bytes()
    second = run(["install", "gemini"], env, tmp_path)
    assert "nothing changed" in second.stdout
    assert settings.read_bytes() == before


def test_invalid_gemini_settings_are_left_untouched(tmp_path: Path, env: dict[str, str]) -> None:
    settings = tmp_path / "repo" / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text('{"hooks": []}')
    result = run(["install", "gemini", "--project", str(tmp_path / "repo")], env, tmp_path)
    assert result.returncode != 0
    assert "'hooks' is not a JSON object; left untouched" in result.stderr
    assert settings.read_text() == '{"hooks": []}'


def test_codex_refuses_a_matcher_it_cannot_parse(tmp_path: Path, env: dict[str, str]) -> None:
    """Codex (0.169) skips a hook whose matcher has look-around, and runs the call unasked."""
    env = {**env, "CODEX_HOME": str(tmp_path / "codex-home")}
    result = run(["install", "codex", "--matcher", "Bash|mcp__(?!swarmdeck__).*"], env, tmp_path)
    assert result.returncode == 2
    assert "no look-around" in result.stderr
    assert not (tmp_path / "codex-home" / "hooks.json").exists()
