"""``swarmdeck token show|rotate``: the listeners' bearer token, made once, 0600, rotated."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

SWARMDECK = Path(sys.executable).parent / "swarmdeck"


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
    env |= {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    env["HOME"] = str(tmp_path / "home")
    return env


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(SWARMDECK), *args], env=env, capture_output=True, timeout=60)


def test_the_token_is_made_once_0600_shown_and_rotated(tmp_path: Path) -> None:
    env = _env(tmp_path)
    shown = _cli("token", "show", env=env)
    assert shown.returncode == 0, shown.stderr
    token = shown.stdout.decode().strip()
    path = tmp_path / "data" / "swarmdeck" / "token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _cli("token", "show", env=env).stdout.decode().strip() == token
    rotated = _cli("token", "rotate", env=env)
    assert rotated.returncode == 0
    assert token not in (rotated.stdout + rotated.stderr).decode()  # printed by show only
    new = _cli("token", "show", env=env).stdout.decode().strip()
    assert new != token and len(new) >= 32


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    env = _env(tmp_path) | {"SWARMDECK_TOKEN": "from-the-environment-0123456789abcdef"}
    assert _cli("token", "show", env=env).stdout.decode().strip() == env["SWARMDECK_TOKEN"]
