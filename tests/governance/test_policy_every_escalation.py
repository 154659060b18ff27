"""Every open escalation is subject to the rules, whenever it arrived; rules match vendors.

The policy follows the change feed from where it stood, and on its very first start
from the end of it. An escalation raised before that (a hook that ran before anyone
started ``serve``), or before the rule that matches it was saved, must still walk the
rule's path: the issue's "Deploy api v2", raised before ``serve``, stayed open and
unescalated for good while "Deploy web v3", raised after, went high, critical, rejected.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swarmdeck.policy import PolicyService, load_policy
from swarmdeck.policy.rules import Subject
from swarmdeck.store.db import Store
from tests.helpers.clock import Clock, Script

DEPLOY = {
    "rules": [
        {
            "name": "deploys",
            "match": {"escalation_kind": "approval", "title": "^Deploy"},
            "path": ["escalate(severity=high, deadline=15m)"],
            "on_expiry": "reject(reason=nobody approved the deploy in time)",
        }
    ]
}


async def _raise(store: Store, ev: Script, escalation_id: str, title: str, agent: str) -> None:
    await store.append(
        [ev("escalation.raised", agent=agent,
            data={"id": escalation_id, "kind": "approval", "title": title})],
        origin="demo",
    )  # fmt: skip


async def _walk_the_path(store: Store, service: PolicyService, clock: Clock, eid: str) -> None:
    esc = await store.escalation(eid)
    assert (esc.severity, esc.state) == ("high", "open")
    assert esc.deadline is not None
    clock.advance(15 * 60 + 1)
    assert eid in await service.sweep_deadlines()
    esc = await store.escalation(eid)
    assert (esc.state, esc.action, esc.decided_by) == ("decided", "reject", "policy:deploys")
    assert esc.severity == "critical"


async def test_an_escalation_raised_before_the_first_start_walks_the_path(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await _raise(
        clocked_store, clocked_ev, "D-api", "Deploy api v2", "coder-1"
    )  # nobody ran serve yet
    service = PolicyService(load_policy(DEPLOY), clocked_store, clock)
    await service.start()  # the very first start: the feed begins at its end
    await _raise(clocked_store, clocked_ev, "D-web", "Deploy web v3", "coder-1")
    await service.step()
    await _walk_the_path(clocked_store, service, clock, "D-api")
    # and the one after the start walked the same path, once
    assert (await clocked_store.escalation("D-web")).state == "decided"
    escalated = [r for r in await clocked_store.audit_records() if r.action == "policy.escalate"]
    assert sorted(r.subject for r in escalated) == ["D-api", "D-web"]


async def test_a_rule_saved_later_applies_to_what_is_already_open(
    clocked_store: Store, clocked_ev: Script, clock: Clock, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    service = PolicyService(load_policy({}), clocked_store, clock)
    service.watch(config)
    await service.start()
    await _raise(clocked_store, clocked_ev, "D-1", "Deploy api v2", "coder-1")
    await service.step()
    assert (await clocked_store.escalation("D-1")).severity == "normal"  # no rule yet
    config.write_text(
        "[[policy.rules]]\nname = 'deploys'\n"
        "match = { escalation_kind = 'approval', title = '^Deploy' }\n"
        "path = ['escalate(severity=high, deadline=15m)']\n"
        "on_expiry = 'reject(reason=nobody approved the deploy in time)'\n"
    )
    os.utime(config, (clock() + 5, clock() + 5))
    clock.advance(2)
    await service.step()
    await _walk_the_path(clocked_store, service, clock, "D-1")


async def test_a_rule_acts_once_however_many_ask(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    """A waiting hook asks the rules about its escalation at once; the feed and the next
    start's catch-up then find it owned and leave it (one escalate, one audit record)."""
    service = PolicyService(load_policy(DEPLOY), clocked_store, clock)
    await service.start()
    await _raise(clocked_store, clocked_ev, "D-1", "Deploy api v2", "coder-1")
    assert await service.check_escalation("D-1") is True
    assert await service.check_escalation("D-1") is False
    await service.step()
    assert await PolicyService(load_policy(DEPLOY), clocked_store, clock).catch_up() == 0
    escalated = [r for r in await clocked_store.audit_records() if r.action == "policy.escalate"]
    assert [r.subject for r in escalated] == ["D-1"]


async def test_rules_match_the_agents_vendor(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    rules = {
        "rules": [
            {"name": "no-gemini-shell", "match": {"escalation_kind": "approval",
             "vendor": "gemini", "title": "^run_shell_command"},
             "path": ["reject(reason=gemini agents do not run shell commands here)"]},
            {"name": "codex-reads", "match": {"escalation_kind": "approval",
             "vendor": ["codex", "claude-*"], "title": "^Read"}, "path": ["approve"]},
        ]
    }  # fmt: skip
    await clocked_store.append(
        [
            clocked_ev("agent.seen", agent="gemini:repo",
               data={"name": "gemini:repo", "role": "gemini", "vendor": "gemini"}),
            clocked_ev("agent.seen", agent="codex:repo",
               data={"name": "codex:repo", "role": "codex", "vendor": "codex"}),
            clocked_ev("agent.seen", agent="claude:repo",
               data={"name": "claude:repo", "role": "claude-code", "vendor": "claude-code"}),
            clocked_ev("agent.seen", agent="coder-1", data={"name": "coder-1", "role": "coder"}),
        ],
        origin="demo",
    )  # fmt: skip
    service = PolicyService(load_policy(rules), clocked_store, clock)
    await service.start()
    await _raise(clocked_store, clocked_ev, "G-1", "run_shell_command: rm -rf build", "gemini:repo")
    await _raise(clocked_store, clocked_ev, "G-2", "run_shell_command: ls", "codex:repo")
    await _raise(clocked_store, clocked_ev, "R-1", "Read src/app.py", "codex:repo")
    await _raise(clocked_store, clocked_ev, "R-2", "Read src/app.py", "claude:repo")
    await _raise(clocked_store, clocked_ev, "R-3", "Read src/app.py", "coder-1")  # vendor unknown
    await service.step()
    by_id = {e.id: e for e in await clocked_store.escalations()}
    assert (by_id["G-1"].action, by_id["G-1"].decided_by) == ("reject", "policy:no-gemini-shell")
    assert by_id["G-2"].state == "open"
    assert by_id["R-1"].decided_by == by_id["R-2"].decided_by == "policy:codex-reads"
    assert by_id["R-3"].state == "open"


@pytest.mark.parametrize(
    ("vendor", "wanted", "hit"),
    [
        ("codex", "codex", True),
        ("codex", ["gemini", "codex"], True),
        ("claude-code", "claude*", True),
        ("gemini", "codex", False),
        (None, "codex", False),
        (None, None, True),
    ],
)
def test_vendor_match_semantics(vendor: str | None, wanted: object, hit: bool) -> None:
    match = {"escalation_kind": "approval"} | ({"vendor": wanted} if wanted else {})
    config = load_policy({"rules": [{"name": "r", "match": match, "path": ["approve"]}]})
    subject = Subject("escalation.raised", escalation_kind="approval", vendor=vendor)
    assert (config.first_match(subject) is not None) is hit
