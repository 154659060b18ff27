"""Policy rules answer hooks at once, with or without a collector; and nothing is too old.

A rule that auto-approves must not leave an agent waiting for a collector that is not
running: the hook process applies the rules to its own escalation. And an escalation
ingested before the collector's first start is still matched when it starts.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import Store
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import eventually
from tests.integrations.test_agent_hooks import NO_DEMO, Deck, start_collector

pytestmark = pytest.mark.slow

RULES = (
    NO_DEMO
    + """
[[policy.rules]]
name = "listing-is-fine"
match = { escalation_kind = "approval", title = "^(Bash|run_shell_command): ls( |$)" }
path = ["approve"]

[[policy.rules]]
name = "no-gemini-deletes"
match = { escalation_kind = "approval", vendor = "gemini", title = "rm -rf" }
path = ["reject(reason=gemini agents never delete trees here)"]

[[policy.rules]]
name = "deploys"
match = { escalation_kind = "approval", title = "^Deploy" }
path = ["escalate(severity=high, deadline=15m)"]
on_expiry = "reject(reason=nobody approved the deploy in time)"
"""
)

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "claude-code": ("permission_request_bash", {"command": "ls -la", "description": "list"}),
    "codex": ("codex/PermissionRequest", {"command": "ls -la", "description": "list"}),
    "gemini": ("gemini/BeforeTool", {"command": "ls -la"}),
}
ALLOW = {
    "claude-code": {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                           "decision": {"behavior": "allow"}}},
    "codex": {"hookSpecificOutput": {"hookEventName": "PermissionRequest",
                                     "decision": {"behavior": "allow"}}},
    "gemini": {"decision": "allow"},
}  # fmt: skip


def rules_deck(root: Path, env: dict[str, str]) -> Deck:
    (root / "config.toml").write_text(RULES)
    return Deck(root, env)


@pytest.mark.parametrize("served", [False, True], ids=["no-collector", "collector"])
@pytest.mark.parametrize("vendor", sorted(CASES))
async def test_an_auto_approve_answers_at_once(
    tmp_path: Path, env: dict[str, str], vendor: str, served: bool
) -> None:
    deck = rules_deck(tmp_path, env)
    collector = start_collector(deck) if served else None
    try:
        name, tool_input = CASES[vendor]
        data = {**payload(name), "tool_input": tool_input}
        started = time.monotonic()
        code, body, _ = await (await deck.hook(vendor, data)).result(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        if collector is not None:
            collector.send_signal(signal.SIGTERM)
            collector.wait(30)
    assert (code, body) == (0, ALLOW[vendor])
    assert elapsed < 10  # no manager, no poll of a collector that is not there
    async with await Store.open(deck.db) as store:
        [esc] = await store.escalations()
        assert (esc.state, esc.decided_by) == ("decided", "policy:listing-is-fine")
        assert esc.delivery == "delivered"


async def test_a_vendor_rule_rejects_with_its_reason(tmp_path: Path, env: dict[str, str]) -> None:
    deck = rules_deck(tmp_path, env)
    data = {**payload("gemini/BeforeTool"), "tool_input": {"command": "rm -rf build/"}}
    code, body, _ = await (await deck.hook("gemini", data)).result(timeout=20)
    assert code == 0
    assert body == {
        "decision": "deny",
        "reason": "Denied by policy:no-gemini-deletes: gemini agents never delete trees here",
    }
    # The same command from Codex is not gemini's: it waits for a manager.
    codex = {**payload("codex/PermissionRequest"), "tool_input": {"command": "rm -rf build/"}}
    code, body, _ = await (await deck.hook("codex", codex, "--timeout", "0.5")).result()
    assert "timed out after 0.5s" in body["hookSpecificOutput"]["decision"]["message"]


async def test_an_escalation_ingested_before_the_first_serve_is_matched(
    tmp_path: Path, env: dict[str, str]
) -> None:
    deck = rules_deck(tmp_path, env)
    line = {
        "v": 1, "id": "deploy-api-v2", "ts": "2026-12-01T10:00:00Z", "source": "ci",
        "kind": "escalation.raised", "agent": "deployer-1",
        "data": {"id": "deploy-api-v2", "kind": "approval", "title": "Deploy api v2"},
    }  # fmt: skip
    done = subprocess.run(
        [str(SWARMDECK), "--db", str(deck.db), "--config", str(deck.config), "ingest", "-"],
        input=json.dumps(line).encode(), env=env, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    collector = start_collector(deck)
    try:
        async with await Store.open(deck.db) as store:

            async def escalated() -> bool:
                esc = await store.escalation("deploy-api-v2")
                return esc.severity == "high" and esc.deadline is not None

            await eventually(escalated, timeout=30)
            esc = await store.escalation("deploy-api-v2")
            assert esc.state == "open"  # now it waits for a human, with a deadline
    finally:
        collector.send_signal(signal.SIGTERM)
        await asyncio.to_thread(collector.wait, 30)
