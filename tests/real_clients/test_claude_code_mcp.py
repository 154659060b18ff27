"""The real Claude Code CLI as an MCP client of ``swarmdeck mcp`` (stdio).

The fake model calls ``mcp__swarmdeck__request_approval``; Claude Code starts
``swarmdeck mcp`` from an ``--mcp-config`` file and forwards the call, which blocks
until a manager decides. The tool is allowed by name (``--allowedTools``), the way a
user allows one tool: no permission bypass.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.real_clients.clients import Running, claude_args, claude_env
from tests.real_clients.fake_apis import AnthropicFake, Script
from tests.real_clients.swarmdeck_cli import Swarmdeck

pytestmark = [pytest.mark.slow, pytest.mark.real_client, pytest.mark.timeout(120)]

TOOL = "mcp__swarmdeck__request_approval"
SUMMARY = "Deploy api v2 to production"
RUN_BOUND = 60.0


@pytest.fixture
def mcp_api() -> Iterator[AnthropicFake]:
    script = Script(
        command="",
        tool=TOOL,
        tool_input={"summary": SUMMARY, "details": "blue/green, rollback ready"},
    )
    with AnthropicFake(script) as fake:
        yield fake


def start_claude_with_mcp(
    claude_bin: Path, sd: Swarmdeck, project: Path, home: Path, api: AnthropicFake
) -> Running:
    config = project.parent / "mcp.json"
    server = sd.mcp_command("--progress-every", "1")
    config.write_text(
        json.dumps({"mcpServers": {"swarmdeck": {"command": server[0], "args": server[1:]}}})
    )
    args = claude_args(
        claude_bin,
        "Ask the manager before deploying.",
        "--mcp-config",
        str(config),
        "--strict-mcp-config",
        "--allowedTools",
        TOOL,
    )
    # Offer MCP tools up front: newer versions defer them behind ToolSearch.
    env = claude_env(home, api.url, ENABLE_TOOL_SEARCH="false", MCP_TOOL_TIMEOUT="120000")
    return Running(args, cwd=project, env=env)


def test_request_approval_from_claude_code_is_decided_by_the_manager(
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    mcp_api: AnthropicFake,
) -> None:
    with start_claude_with_mcp(claude_bin, sd, project, client_home, mcp_api) as claude:
        esc = sd.wait_for_escalation(client=claude)
        assert esc["title"] == SUMMARY
        assert esc["origin"] == "mcp-stdio"
        sd.decide(esc["id"], "reject", reason="wait for the freeze to end")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert TOOL in mcp_api.offered_tools()
    text = mcp_api.tool_result() or ""
    assert "reject" in text and "wait for the freeze to end" in text, text


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(signal.SIGTERM, id="SIGTERM"),
        pytest.param(signal.SIGINT, id="SIGINT"),
        pytest.param(signal.SIGKILL, id="SIGKILL"),  # without a word: its stdin just closes
    ],
)
def test_the_client_exiting_mid_wait_withdraws_the_escalation(
    how: signal.Signals,
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    mcp_api: AnthropicFake,
) -> None:
    with start_claude_with_mcp(claude_bin, sd, project, client_home, mcp_api) as claude:
        esc = sd.wait_for_escalation(client=claude)
        claude.signal(how)  # Claude Code only; its `swarmdeck mcp` child lives on
        claude.finish(RUN_BOUND)
        after = sd.wait_until_closed(esc["id"], timeout=10)
    assert after["state"] == "withdrawn", after
    late = sd.decide(esc["id"], "approve", check=False)
    assert late.returncode != 0, late.stdout


@pytest.mark.parametrize(
    "matcher",
    [
        pytest.param(None, id="default-matcher"),  # leaves mcp__swarmdeck__* out
        pytest.param("mcp__.*", id="user-matcher"),  # matches it: the hook passes it through
    ],
)
def test_swarmdeck_never_gates_its_own_mcp_tools(
    matcher: str | None,
    claude_bin: Path,
    sd: Swarmdeck,
    project: Path,
    client_home: Path,
    mcp_api: AnthropicFake,
) -> None:
    sd.install_claude_code(project, matcher=matcher)  # both integrations, as the README says
    with start_claude_with_mcp(claude_bin, sd, project, client_home, mcp_api) as claude:
        esc = sd.wait_for_escalation(client=claude)
        first_origin = esc["origin"]
        sd.decide(esc["id"], "approve")
        if first_origin != "mcp-stdio":  # the hook's gate came first: let the call through
            esc = sd.wait_for_escalation(client=claude)
            sd.decide(esc["id"], "approve")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert first_origin == "mcp-stdio", "the hook gated swarmdeck's own MCP tool first"
    assert len(sd.escalations()) == 1
