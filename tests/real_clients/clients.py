"""Where the real CLIs are, how to run them headless and bounded, and what each needs.

Every CLI runs with a clean environment (no variable of the developer's own coding
client leaks in: no real API key, no real config), a temporary HOME, and a fake model
API on 127.0.0.1 (see ``fake_apis``). What each one needs, found by running it:

* Claude Code: ``ANTHROPIC_BASE_URL`` + ``ANTHROPIC_API_KEY``; ``claude -p PROMPT
  --output-format json`` in the project directory, whose ``.claude/settings.json``
  holds the hooks.
* Codex: ``CODEX_HOME/config.toml`` with a custom provider (``wire_api =
  "responses"``, ``env_key``) and the hooks; ``codex exec --skip-git-repo-check
  --dangerously-bypass-hook-trust`` (hook trust only, never approvals or sandbox).
* Gemini CLI: ``GOOGLE_GEMINI_BASE_URL`` + ``GEMINI_API_KEY``,
  ``GEMINI_CLI_TRUST_WORKSPACE=true``, ``security.auth.selectedType = gemini-api-key``
  in ``~/.gemini/settings.json``; ``gemini -m gemini-2.5-pro -p PROMPT``, with a policy
  file that offers ``run_shell_command`` (never ``--yolo``) so the BeforeTool hook is
  the gate.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: Where ``install.sh`` puts the CLIs (override with ``SWARMDECK_REAL_CLIENTS``).
PREFIX = Path(os.environ.get("SWARMDECK_REAL_CLIENTS") or REPO / ".cache" / "real-clients")
INSTALL_COMMAND = "bash tests/real_clients/install.sh"
#: The pinned versions, from the one place they are written down.
PINS: dict[str, str] = json.loads((HERE / "package.json").read_text())["dependencies"]

#: npm package of each CLI binary.
PACKAGES = {
    "claude": "@anthropic-ai/claude-code",
    "codex": "@openai/codex",
    "gemini": "@google/gemini-cli",
}

#: Hook groups of a CLI's config: event -> [(matcher or None, shell command, timeout)].
HookGroups = Mapping[str, Sequence[tuple[str | None, str, int]]]

#: Variables a CLI subprocess inherits; everything else is left behind on purpose.
_PASS_THROUGH = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR", "TZ")


def client_binary(name: str) -> Path | None:
    """The installed CLI, or None when ``install.sh`` has not run (or failed)."""
    path = PREFIX / "node_modules" / ".bin" / name
    return path if path.exists() and os.access(path, os.X_OK) else None


def clean_env(home: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment: PATH and locale, a private HOME, plus ``extra``."""
    env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    env.setdefault("LANG", "C.UTF-8")
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_DATA_HOME"] = str(home / ".local" / "share")
    env["XDG_CACHE_HOME"] = str(home / ".cache")
    env["NO_COLOR"] = "1"
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Finished:
    """A CLI run that ended (by itself, or killed at the bound)."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    killed: bool

    def json(self) -> Any:
        """stdout as JSON (``claude --output-format json``)."""
        return json.loads(self.stdout)

    def explain(self) -> str:
        return (
            f"$ {' '.join(self.args)}\nexit {self.returncode} after {self.seconds:.1f}s"
            f"{' (killed at the bound)' if self.killed else ''}\n"
            f"--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"
        )


class Running:
    """A CLI started in its own process group, so a bound can end all of it."""

    def __init__(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.args = [str(a) for a in args]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            self.args,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,  # codex exec and gemini read piped stdin as input
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Signal the CLI itself (not its group): what a user's Ctrl-C or a kill does."""
        if self.alive():
            os.kill(self.proc.pid, sig)

    def finish(self, timeout: float) -> Finished:
        """Wait at most ``timeout`` seconds; past it the whole group is killed."""
        killed = False
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            killed = True
            self.kill_group()
            out, err = self.proc.communicate(timeout=10)
        return Finished(
            self.args,
            self.proc.returncode,
            out,
            err,
            time.monotonic() - self.started,
            killed,
        )

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive():
            self.kill_group()
            self.proc.communicate(timeout=10)
        else:
            # The CLI may have left children (a hook, an MCP server) behind.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)


# ============================================================================ Claude Code


def claude_env(home: Path, api_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        home,
        {
            "ANTHROPIC_BASE_URL": api_url,
            "ANTHROPIC_API_KEY": "sk-ant-fake-key-for-tests",
            # Nothing but the fake API: no update checks, telemetry or error reports.
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            **extra,
        },
    )


def claude_args(binary: Path, prompt: str, *extra: str) -> list[str]:
    return [str(binary), "-p", prompt, "--output-format", "json", *extra]


# ============================================================================ Codex


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def codex_config(api_url: str, hooks: HookGroups) -> str:
    """``config.toml`` for a fake provider plus hook groups: event -> (matcher, cmd, timeout)."""
    lines = [
        'model = "fake-model"',
        'model_provider = "fake"',
        "",
        "[model_providers.fake]",
        'name = "Fake"',
        f"base_url = {toml_string(api_url + '/v1')}",
        'env_key = "FAKE_API_KEY"',
        'wire_api = "responses"',
    ]
    for event, groups in hooks.items():
        for matcher, command, timeout in groups:
            lines += ["", f"[[hooks.{event}]]"]
            if matcher is not None:
                lines.append(f"matcher = {toml_string(matcher)}")
            lines += [
                f"[[hooks.{event}.hooks]]",
                'type = "command"',
                f"command = {toml_string(command)}",
                f"timeout = {timeout}",
            ]
    return "\n".join(lines) + "\n"


def codex_env(home: Path, codex_home: Path, **extra: str) -> dict[str, str]:
    return clean_env(home, {"CODEX_HOME": str(codex_home), "FAKE_API_KEY": "fake-key", **extra})


def codex_args(binary: Path, prompt: str, *extra: str) -> list[str]:
    # --dangerously-bypass-hook-trust trusts the hooks of this run only; approvals and
    # the sandbox stay as configured (workspace-write lets the command touch the project).
    return [
        str(binary),
        "exec",
        "--skip-git-repo-check",
        "--dangerously-bypass-hook-trust",
        *extra,
        prompt,
    ]


# ============================================================================ Gemini CLI

#: Gemini CLI offers no tool that needs a confirmation in headless mode; this policy
#: offers the shell tool (and nothing else extra), so the BeforeTool hook is its gate.
GEMINI_POLICY = '[[rule]]\ntoolName = "run_shell_command"\ndecision = "allow"\npriority = 100\n'


def gemini_settings(hooks: HookGroups) -> dict[str, Any]:
    """``~/.gemini/settings.json``: api-key auth (else the base URL means 'gateway' and
    ``-p`` exits 41), no update/telemetry traffic, and hook groups (timeouts in ms)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for event, entries in hooks.items():
        for n, (matcher, command, timeout_ms) in enumerate(entries):
            group: dict[str, Any] = {
                "hooks": [
                    {
                        "name": f"test-{event}-{n}",
                        "type": "command",
                        "command": command,
                        "timeout": timeout_ms,
                    }
                ]
            }
            if matcher is not None:
                group["matcher"] = matcher
            groups.setdefault(event, []).append(group)
    return {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "hooks": groups,
    }


def gemini_env(home: Path, api_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        home,
        {
            "GOOGLE_GEMINI_BASE_URL": api_url,
            "GEMINI_API_KEY": "fake-key",
            "GEMINI_CLI_TRUST_WORKSPACE": "true",
            **extra,
        },
    )


def gemini_args(binary: Path, prompt: str, policy: Path, *extra: str) -> list[str]:
    # -m: without it, model routing first asks a flash-lite model to classify the prompt.
    return [str(binary), "-m", "gemini-2.5-pro", "--policy", str(policy), *extra, "-p", prompt]
