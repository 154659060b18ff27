"""Rules that approve must say who asks and what runs; high/critical needs its severity named.

Issue 10, item 11: the README's ``routine-reads`` example (``title = "^(Read|Grep|Glob)"``)
auto-approved a *critical* MCP escalation titled "Read the prod credentials, then DROP
DATABASE customers". These tests pin the three fixes: rules match on origin/source/tool,
the severity guard, and the ``policy check`` warning.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from swarmdeck.policy import PolicyService, load_policy
from swarmdeck.policy.dryrun import dry_run
from swarmdeck.store.db import Store
from tests.helpers.clock import Clock, Script
from tests.helpers.hooks import claude_translator

README = Path(__file__).resolve().parents[2] / "README.md"
DANGEROUS = "Read the prod credentials, then DROP DATABASE customers"
OLD_EXAMPLE: dict[str, Any] = {
    "rules": [
        {
            "name": "routine-reads",
            "match": {"escalation_kind": "approval", "title": "^(Read|Grep|Glob)"},
            "path": ["approve"],
        }
    ]
}


def readme_rules() -> dict[str, Any]:
    """The ``routine-reads`` rule exactly as the README shows it."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r'\[\[policy\.rules\]\]\nname = "routine-reads".*?\n```', text, re.S)
    assert block is not None, "the README lost its routine-reads example"
    doc = tomllib.loads(block.group(0).removesuffix("```"))
    return {"rules": doc["policy"]["rules"]}


def escalation(
    ev: Script, eid: str, title: str, severity: str, tool: str | None = None, source: str = "x"
) -> Any:
    data: dict[str, Any] = {"id": eid, "kind": "approval", "title": title, "severity": severity}
    if tool is not None:
        data["tool"] = tool
    return ev("escalation.raised", agent="agent-1", source=source, data=data)


async def _run(store: Store, clock: Clock, rules: dict[str, Any]) -> PolicyService:
    service = PolicyService(load_policy(rules), store, clock)
    await service.start()
    return service


async def test_old_readme_example_no_longer_approves_a_critical_mcp_request(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    service = await _run(clocked_store, clock, OLD_EXAMPLE)
    await clocked_store.append(
        [escalation(clocked_ev, "M-1", DANGEROUS, "critical", source="mcp-stdio")],
        origin="mcp-stdio",
    )
    await service.step()
    esc = await clocked_store.escalation("M-1")
    assert (esc.state, esc.decided_by) == ("open", None)
    assert [o.action for o in service.outcomes] == ["approve.withheld"]


async def test_readme_example_matches_origin_and_tool_not_the_title(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    service = await _run(clocked_store, clock, readme_rules())
    await clocked_store.append(
        [escalation(clocked_ev, "M-1", DANGEROUS, "normal", source="mcp-stdio")], origin="mcp-stdio"
    )
    # A JSONL feed that claims the hook's source and tool is still not the hook's origin.
    await clocked_store.append(
        [escalation(clocked_ev, "J-1", "Read: x", "low", tool="Read", source="claude-code-hook")],
        origin="ci-bots",
    )
    hook = "claude-code-hook"
    await clocked_store.append(
        [
            escalation(clocked_ev, "H-1", "Read: src/app.py", "low", tool="Read", source=hook),
            escalation(
                clocked_ev, "H-2", "Read the docs, then rm -rf /", "high", tool="Bash", source=hook
            ),
        ],
        origin=hook,
    )
    await service.step()
    states = {
        e: (await clocked_store.escalation(e)).decided_by for e in ("M-1", "J-1", "H-1", "H-2")
    }
    assert states == {"M-1": None, "J-1": None, "H-1": "policy:routine-reads", "H-2": None}


async def test_a_rule_that_names_the_severity_may_approve_it(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    rules = {
        "rules": [
            {
                "name": "trusted-deploys",
                "match": {"origin": "ci-*", "tool": "deploy", "severity": ["high", "critical"]},
                "path": ["approve"],
            }
        ]
    }
    service = await _run(clocked_store, clock, rules)
    await clocked_store.append(
        [escalation(clocked_ev, "D-1", "deploy", "critical", tool="deploy")], origin="ci-1"
    )
    await service.step()
    assert (await clocked_store.escalation("D-1")).decided_by == "policy:trusted-deploys"


async def test_on_expiry_approve_is_held_once_the_deadline_raised_severity(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    rules = {
        "rules": [
            {
                "name": "reads",
                "match": {"origin": "hook", "tool": "Read"},
                "path": ["escalate(deadline=1m)"],
                "on_expiry": "approve",
            }
        ]
    }
    service = await _run(clocked_store, clock, rules)
    await clocked_store.append(
        [escalation(clocked_ev, "R-1", "Read: a", "normal", tool="Read")], origin="hook"
    )
    await service.step()
    clock.advance(120)
    await service.step()
    esc = await clocked_store.escalation("R-1")
    assert (esc.severity, esc.state) == ("high", "open")
    assert "approve.withheld" in [o.action for o in service.outcomes]


async def test_dry_run_counts_what_the_guard_leaves_to_a_human(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await clocked_store.append(
        [
            escalation(clocked_ev, "M-1", DANGEROUS, "critical"),
            escalation(clocked_ev, "M-2", "Read: notes.txt", "low"),
        ],
        origin="mcp-stdio",
    )
    report = await dry_run(clocked_store, load_policy(OLD_EXAMPLE))
    [reads] = report.rules
    assert (reads.matched, reads.withheld, reads.would["approve"]) == (2, 1, 1)
    assert "1 high/critical left to a human" in reads.headline()


def test_hook_escalations_carry_the_tool_name() -> None:
    payload = (
        '{"session_id": "s1", "cwd": "/p", "hook_event_name": "PreToolUse", '
        '"tool_name": "mcp__github__create_issue", "tool_input": {"title": "Read me"}}'
    )
    event = claude_translator(payload, "claude:p", "claude-code-hook").escalation("cc-1")
    assert event.data.tool == "mcp__github__create_issue"  # type: ignore[union-attr]


def test_title_only_approval_warns_and_tool_match_does_not() -> None:
    rules = load_policy(OLD_EXAMPLE).rules[0]
    assert rules.warnings() and "title match alone" in rules.warnings()[0]
    assert load_policy(readme_rules()).rules[0].warnings() == []
    rejecting = load_policy(
        {"rules": [{"name": "r", "match": {"title": "^rm"}, "path": ["reject(reason=no)"]}]}
    )
    assert rejecting.rules[0].warnings() == []


def test_policy_check_prints_the_warning_and_exits_0(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nname = "routine-reads"\n'
        'match = { escalation_kind = "approval", title = "^(Read|Grep|Glob)" }\n'
        'path = ["approve"]\n'
    )
    config = tmp_path / "config.toml"
    config.write_text("[demo]\nenabled = false\n")
    env = {k: v for k, v in os.environ.items() if k != "SWARMDECK_CONFIG"}
    out = subprocess.run(
        [sys.executable, "-m", "swarmdeck", "--db", str(tmp_path / "x.db"), "--config",
         str(config), "policy", "check", "--rules", str(rules)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "warning: rule routine-reads approves on a title match alone" in out.stderr
