"""Item 9: MCP tools answer legal but odd arguments cleanly, and bound what they take.

An agent name that is only an escape code, a 200-character name, an empty option and 60,000
control characters each made a tool call error. (The other half of the item, withdrawing the
escalation of a request that ended, is on main with its tests in tests/integrations/test_mcp.py.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from swarmdeck.store.db import Store
from tests.doors.conftest import SWARMDECK, cli

ODD: dict[str, dict[str, Any]] = {
    "escape-only agent": {"summary": "s1", "agent": "\x1b[2J\x1b[H"},
    "200-character agent": {"summary": "s2", "agent": "a" * 200},
    "empty option": {"summary": "s3", "options": ["", "approve"]},
    "60,000 control characters": {"summary": "\x07" * 500, "details": "\x01" * 60_000},
}

#: Beyond what a tool takes: refused by the tool's schema, before anything is stored.
TOO_BIG: dict[str, dict[str, Any]] = {
    "101 options": {"summary": "b1", "options": [f"o{i}" for i in range(101)]},
    "a 1,001-character option": {"summary": "b2", "options": ["x" * 1001]},
    "a 1,001-character agent": {"summary": "b3", "agent": "a" * 1001},
}


def stdio(db: Path) -> Client:
    return Client(StdioServerParameters(command=str(SWARMDECK), args=["mcp", "--db", str(db)]))


async def test_odd_arguments_get_a_clean_answer(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    async with stdio(db) as client:
        for what, args in ODD.items():
            result = await client.call_tool("request_approval", {**args, "timeout_seconds": 0.3})
            assert not result.is_error, (what, result.content)
            assert result.structured_content["decision"] == "timeout", what
        status = await client.call_tool(
            "report_status", {"state": "working", "task": "\x1b]0;x\x07", "agent": "\x1b[31m"}
        )
        assert not status.is_error, status.content
        # A name that cleans to nothing falls back to the client's: never empty, never raw.
        assert status.structured_content["agent"].startswith("mcp:")
    async with await Store.open(db) as store:
        raised = {e.title: e for e in await store.escalations()}
        assert len(raised) == 4
        for esc in raised.values():
            assert esc.agent and len(esc.agent) <= 200 and "\x1b" not in esc.agent
            assert len(esc.body) <= 60_000
        assert raised["s3"].options == ["approve"]


async def test_arguments_beyond_the_bounds_are_refused_by_name(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    async with stdio(db) as client:
        for what, args in TOO_BIG.items():
            result = await client.call_tool("request_approval", {**args, "timeout_seconds": 0.3})
            assert result.is_error, what
            said = " ".join(getattr(c, "text", "") for c in result.content)
            assert "Traceback" not in said and ("options" in said or "agent" in said), said
        status = await client.call_tool("report_status", {"state": "idle", "agent": "a" * 1001})
        assert status.is_error
    async with await Store.open(db) as store:
        assert await store.escalations() == []


@pytest.mark.parametrize(
    "flag", [("--timeout", "nan"), ("--timeout", "inf"), ("--progress-every", "nan")]
)
def test_a_wait_that_never_ends_is_refused_at_start(
    flag: tuple[str, str], tmp_path: Path, clean_env: dict[str, str]
) -> None:
    # NaN compares false with every bound: FloatRange took it, and the wait never ended.
    proc = cli("mcp", *flag, "--db", tmp_path / "db.sqlite", env=clean_env, stdin=b"", timeout=30)
    assert proc.returncode == 2
    assert flag[1] in proc.stderr.decode()
