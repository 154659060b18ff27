"""What reaches the inbox from Claude Code's tool calls (issue 10 items 3, 5 and 6):

* swarmdeck never gates its own MCP tools, whatever the matcher (item 3);
* the default matcher gates every tool that changes or sends something (item 5);
* an MCP tool's escalation has a title a manager can decide on (item 6).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from swarmdeck.adapters.hooks.claude_code import DEFAULT_MATCHER
from swarmdeck.adapters.hooks.claude_code import PROTOCOL as CLAUDE_CODE
from swarmdeck.adapters.hooks.codex import PROTOCOL as CODEX
from swarmdeck.adapters.hooks.core import HookCall, HookConfig, HookContext, HookProtocol
from swarmdeck.adapters.hooks.gemini import PROTOCOL as GEMINI
from swarmdeck.adapters.hooks.translate import describe_tool
from swarmdeck.config import HookSettings


def read(
    protocol: HookProtocol,
    event: str,
    tool: str,
    tool_input: dict[str, Any] | None = None,
    config: HookConfig | None = None,
) -> HookCall:
    raw = json.dumps(
        {"session_id": "s1", "cwd": "/home/dev/shop", "hook_event_name": event,
         "tool_name": tool, "tool_input": tool_input or {}}
    ).encode()  # fmt: skip
    return protocol.read(raw, config or HookConfig(), HookContext("c1"))


@pytest.mark.parametrize(
    "tool", ["Bash", "Edit", "Write", "MultiEdit", "NotebookEdit", "WebFetch",
             "mcp__github__create_issue", "mcp__swarmdeckish__run"],
)  # fmt: skip
def test_the_default_matcher_gates_what_changes_or_sends(tool: str) -> None:
    assert read(CLAUDE_CODE, "PreToolUse", tool).intent == "gate"


@pytest.mark.parametrize("tool", ["Read", "Grep", "Glob", "BashOutput", "TodoWrite"])
def test_the_default_matcher_leaves_reads_alone(tool: str) -> None:
    assert read(CLAUDE_CODE, "PreToolUse", tool).intent == "status"


def test_one_default_matcher_everywhere() -> None:
    """The settings' default, the hook's and what install writes are one string."""
    assert HookSettings().pretool_matcher == DEFAULT_MATCHER == HookConfig().pretool_matcher
    assert HookSettings().codex_matcher == HookConfig().codex_matcher
    assert "(?" not in HookConfig().codex_matcher  # Codex cannot parse look-around


@pytest.mark.parametrize(
    "tool", ["mcp__swarmdeck__request_approval", "mcp__swarmdeck__report_status"]
)
@pytest.mark.parametrize("event", ["PreToolUse", "PermissionRequest"])
def test_swarmdecks_own_tools_are_never_gated_even_by_a_user_matcher(event: str, tool: str) -> None:
    everything = HookConfig(pretool_matcher="mcp__.*")
    call = read(CLAUDE_CODE, event, tool, {"summary": "deploy"}, everything)
    assert call.intent != "gate"


def test_a_renamed_swarmdeck_server_is_recognised_from_the_settings() -> None:
    config = HookConfig(pretool_matcher="mcp__.*", own_mcp_servers=("approvals",))
    assert read(CLAUDE_CODE, "PreToolUse", "mcp__approvals__request_approval",
                config=config).intent != "gate"  # fmt: skip
    # Only swarmdeck's own tool names under that name: anything else there is gated.
    assert read(CLAUDE_CODE, "PreToolUse", "mcp__approvals__delete_all",
                config=config).intent == "gate"  # fmt: skip
    assert read(CLAUDE_CODE, "PreToolUse", "mcp__swarmdeck__request_approval",
                config=config).intent == "gate"  # fmt: skip


def test_codex_and_gemini_pass_swarmdecks_own_tools_too() -> None:
    assert read(CODEX, "PreToolUse", "mcp__swarmdeck__request_approval").intent != "gate"
    assert read(CODEX, "PreToolUse", "mcp__github__create_issue").intent == "gate"
    assert read(GEMINI, "BeforeTool", "mcp_swarmdeck_report_status").intent != "gate"
    assert read(GEMINI, "BeforeTool", "mcp_github_create_issue").intent == "gate"


@pytest.mark.parametrize(
    ("tool", "tool_input", "title"),
    [
        ("mcp__github__create_issue", {"repo": "acme/shop", "title": "Fix login bug",
                                        "body": "Steps..."}, "github create_issue: Fix login bug"),
        ("mcp__slack__post_message", {"channel": "#ops", "text": "deploying v2"},
         "slack post_message: deploying v2"),
        ("mcp__postgres__query", {"sql": "DROP TABLE users"}, "postgres query: DROP TABLE users"),
        ("mcp__kube__scale", {"replicas": 0}, "kube scale: 0"),
        ("mcp__files__sync", {"target": "s3://bucket", "dry_run": False},
         "files sync: s3://bucket"),
        ("mcp__misc__ping", {}, "misc ping"),
        ("Bash", {"command": "ls"}, "Bash: ls"),
    ],
)  # fmt: skip
def test_mcp_titles_name_the_tool_and_its_most_telling_argument(
    tool: str, tool_input: dict[str, Any], title: str
) -> None:
    assert describe_tool(tool, tool_input) == title
    call = read(CLAUDE_CODE, "PreToolUse", tool, tool_input)
    assert call.title == title


def test_an_mcp_title_shows_hidden_escapes() -> None:
    title = describe_tool("mcp__github__create_issue", {"title": "ok\x1b[2K rm -rf"})
    assert "\\x1b[2K" in title and "\x1b" not in title
