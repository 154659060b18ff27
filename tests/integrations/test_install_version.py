"""``install claude-code`` checks the installed Claude Code's version (issue 10 item 4).

Below 2.1.332 a killed or timed-out hook lets the tool call run (``onFailure: "block"``
is ignored) and PermissionRequest never fires in ``-p`` mode: the install refuses, unless
forced; a version it cannot read is installed with a plain warning.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from swarmdeck.cli.claude_version import parse_version
from tests.integrations.test_install import run


def fake_claude(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "claude"
    exe.write_text(f"#!/bin/sh\n{script}\n")
    exe.chmod(0o755)


def install(tmp_path: Path, env: dict[str, str], *extra: str) -> tuple[int, str, Path]:
    project = tmp_path / "repo"
    done = run(["install", "claude-code", "--project", str(project), *extra], env, tmp_path)
    return done.returncode, done.stdout + done.stderr, project / ".claude" / "settings.json"


@pytest.fixture
def path_env(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """PATH with only a directory for a fake ``claude`` and the system's tools."""
    return {**env, "PATH": f"{tmp_path / 'bin'}{os.pathsep}/usr/bin{os.pathsep}/bin"}


def test_an_old_claude_code_is_refused(tmp_path: Path, path_env: dict[str, str]) -> None:
    fake_claude(tmp_path / "bin", 'echo "2.1.197 (Claude Code)"')
    code, out, settings = install(tmp_path, path_env)
    assert code == 2, out
    assert "Claude Code 2.1.197 is older than 2.1.332" in out
    assert 'onFailure: "block"' in out and "--force" in out
    assert not settings.exists()


def test_force_installs_for_an_old_claude_code_and_says_so(
    tmp_path: Path, path_env: dict[str, str]
) -> None:
    fake_claude(tmp_path / "bin", 'echo "2.1.197 (Claude Code)"')
    code, out, settings = install(tmp_path, path_env, "--force")
    assert code == 0, out
    assert "warning (--force): Claude Code 2.1.197 is older" in out
    assert "PreToolUse" in json.loads(settings.read_text())["hooks"]


def test_the_minimum_and_newer_install_without_a_word(
    tmp_path: Path, path_env: dict[str, str]
) -> None:
    fake_claude(tmp_path / "bin", 'echo "2.1.332 (Claude Code)"')
    code, out, settings = install(tmp_path, path_env)
    assert code == 0, out
    assert "warning" not in out
    assert settings.exists()


def test_an_explicit_executable_is_checked(tmp_path: Path, path_env: dict[str, str]) -> None:
    fake_claude(tmp_path / "elsewhere", 'echo "3.0.1 (Claude Code)"')
    fake_claude(tmp_path / "bin", 'echo "2.0.0 (Claude Code)"')
    code, out, _ = install(tmp_path, path_env, "--claude", str(tmp_path / "elsewhere" / "claude"))
    assert code == 0, out
    assert "warning" not in out


@pytest.mark.parametrize(
    ("script", "said"),
    [
        (None, "'claude' was not found on PATH"),
        ("echo 'command not understood'", "said 'command not understood'"),
        ("echo boom >&2; exit 3", "exited 3"),
    ],
)
def test_an_unreadable_version_installs_with_a_plain_warning(
    script: str | None, said: str, tmp_path: Path, path_env: dict[str, str]
) -> None:
    if script is not None:
        fake_claude(tmp_path / "bin", script)
    code, out, settings = install(tmp_path, path_env)
    assert code == 0, out
    assert "warning: could not read the installed Claude Code's version" in out
    assert said in out
    assert "fail closed only with Claude Code 2.1.332 or newer" in out
    assert settings.exists()


def test_version_parsing() -> None:
    assert parse_version("2.1.332 (Claude Code)\n") == (2, 1, 332)
    assert parse_version("claude 10.20.30-beta") == (10, 20, 30)
    assert parse_version("Claude Code") is None
