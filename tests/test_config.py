"""Configuration precedence (flag > env > file > default) and secrets that never print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from swarmdeck.config import ConfigError, default_db_path, load_settings, redacted


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_precedence_flag_over_env_over_file_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(
        tmp_path / "c.toml",
        '[tui]\ntheme = "from-file"\nbell = false\n[demo]\nagents = 30\nrate = 7.5\n',
    )
    settings = load_settings(config)
    assert (settings.tui.theme, settings.tui.bell, settings.demo.agents) == ("from-file", False, 30)
    assert settings.tui.toast is True  # default survives
    monkeypatch.setenv("SWARMDECK_TUI__THEME", "from-env")
    monkeypatch.setenv("SWARMDECK_DEMO__AGENTS", "40")
    settings = load_settings(config)
    assert (settings.tui.theme, settings.demo.agents, settings.demo.rate) == ("from-env", 40, 7.5)
    settings = load_settings(config, tui={"theme": "from-flag"}, demo={"agents": 50})
    assert (settings.tui.theme, settings.tui.bell) == ("from-flag", False)  # deep merge
    assert (settings.demo.agents, settings.demo.rate) == (50, 7.5)


def test_config_file_from_environment_and_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings().db == default_db_path()
    assert str(default_db_path()).startswith(os.environ["XDG_DATA_HOME"])
    config = write(tmp_path / "env.toml", f'db = "{tmp_path / "x.db"}"\n')
    monkeypatch.setenv("SWARMDECK_CONFIG", str(config))
    assert load_settings().db == tmp_path / "x.db"
    monkeypatch.setenv("SWARMDECK_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings()


def test_invalid_values_name_the_field(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.toml", "[demo]\nagents = 0\n")
    with pytest.raises(
        ConfigError, match=r"demo.agents: Input should be greater than or equal to 1"
    ):
        load_settings(config)
    config = write(
        tmp_path / "dup.toml",
        '[[adapters]]\nname="a"\ntype="jsonl"\n[[adapters]]\nname="a"\ntype="http"\n',
    )
    with pytest.raises(ConfigError, match="two adapters are named 'a'"):
        load_settings(config)


def test_demo_runs_only_when_nothing_else_is_configured(tmp_path: Path) -> None:
    assert load_settings().demo_enabled()
    config = write(
        tmp_path / "a.toml", '[[adapters]]\nname = "bots"\ntype = "jsonl"\npath = "/tmp/x"\n'
    )
    assert not load_settings(config).demo_enabled()
    assert load_settings(config, demo={"enabled": True}).demo_enabled()


SECRET = "sk-live-THIS-MUST-NEVER-PRINT-42"


def test_secrets_never_appear_in_output(tmp_path: Path) -> None:
    config = write(
        tmp_path / "s.toml",
        f'''
[[adapters]]
name = "ci-bots"
type = "http"
url = "http://127.0.0.1:9000/agent-events"
token = "{SECRET}"
''',
    )
    settings = load_settings(config)
    assert SECRET not in json.dumps(redacted(settings))
    env = {**os.environ, "SWARMDECK_CONFIG": str(config)}
    for args in (["config"], ["config", "--json"], ["adapters"], ["adapters", "--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "swarmdeck", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert SECRET not in proc.stdout + proc.stderr, args
    shown = subprocess.run(
        [sys.executable, "-m", "swarmdeck", "config", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert json.loads(shown.stdout)["adapters"][0]["token"] == "**********"


def test_settings_remember_their_config_file(tmp_path: Path) -> None:
    """Rules saved from the TUI and the policy's file watch follow --config, not the default."""
    from swarmdeck.config import default_config_path

    config = write(tmp_path / "team.toml", "[tui]\nbell = false\n")
    assert load_settings(config).config_path == config.resolve()
    assert load_settings().config_path == default_config_path().resolve()
