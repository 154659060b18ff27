"""The real Claude Code CLI with swarmdeck's *http* hooks, posting to a real collector.

``swarmdeck install claude-code --http URL`` writes the hooks as a user would get them:
``Authorization: Bearer ${SWARMDECK_TOKEN}`` filled in by Claude Code from its
environment (``allowedEnvVars``), and ``onFailure: block``. A real ``swarmdeck serve``
runs the ``claude-code`` adapter behind the listener guard. With the token, the
manager's approve runs the command; with a wrong one the endpoint refuses the call, and
its 200 deny blocks it: nothing is raised and nothing runs.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.real_clients.clients import Running, claude_args, claude_env, client_binary
from tests.real_clients.fake_apis import AnthropicFake
from tests.real_clients.swarmdeck_cli import SWARMDECK, Swarmdeck

pytestmark = [pytest.mark.slow, pytest.mark.real_client, pytest.mark.timeout(120)]

PROMPT = "Touch the marker file."
TOKEN = "real-client-http-hook-token-0123456789"
RUN_BOUND = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hook_url(sd: Swarmdeck, tmp_path: Path) -> Iterator[str]:
    """A running ``swarmdeck serve`` with the claude-code adapter; its hook URL."""
    port = _free_port()
    sd.write_config(
        extra=f'\n[[adapters]]\nname = "claude"\ntype = "claude-code"\nport = {port}\n'
        "timeout = 60\n"
    )
    sd.env["SWARMDECK_TOKEN"] = TOKEN
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [str(SWARMDECK), "--db", str(sd.db), "--config", str(sd.config), "serve"],
        env=sd.env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/hooks/claude-code"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=2)  # any answer: it listens (the guard refuses it)
                break
            except httpx.TransportError:
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "swarmdeck serve did not listen in 30 s"
                time.sleep(0.1)
        yield url
    finally:
        serve.terminate()
        try:
            serve.wait(15)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
        log.close()
    assert b"Traceback" not in (tmp_path / "serve.log").read_bytes()


def install_http(sd: Swarmdeck, project: Path, url: str) -> None:
    args = ["install", "claude-code", "--project", str(project), "--http", url]
    claude = client_binary("claude")
    if claude is not None:
        args += ["--claude", str(claude)]
    sd.last_install = sd.run(*args)
    written = (project / ".claude" / "settings.json").read_text(encoding="utf-8")
    assert TOKEN not in written  # the secret stays out of a file that may be committed


def test_with_the_token_the_managers_approve_runs_the_command(
    claude_bin: Path,
    sd: Swarmdeck,
    hook_url: str,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    install_http(sd, project, hook_url)
    env = claude_env(client_home, anthropic.url, SWARMDECK_TOKEN=TOKEN)
    with Running(claude_args(claude_bin, PROMPT), cwd=project, env=env) as claude:
        esc = sd.wait_for_escalation(client=claude)
        assert esc["title"] == f"Bash: touch {marker}"
        assert esc["origin"] == "claude"  # raised by the collector's endpoint
        assert not marker.exists()  # held until the manager decides
        sd.decide(esc["id"], "approve")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert marker.exists(), done.explain()


def test_a_wrong_token_is_refused_and_the_call_blocked(
    claude_bin: Path,
    sd: Swarmdeck,
    hook_url: str,
    project: Path,
    client_home: Path,
    anthropic: AnthropicFake,
    marker: Path,
) -> None:
    install_http(sd, project, hook_url)
    env = claude_env(client_home, anthropic.url, SWARMDECK_TOKEN="someone-elses-token-0123456789")
    with Running(claude_args(claude_bin, PROMPT), cwd=project, env=env) as claude:
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert not marker.exists(), done.explain()
    assert sd.escalations(None) == []  # refused before anything was raised
    text = anthropic.tool_result() or ""
    assert "missing or wrong bearer token" in text, anthropic.describe()
