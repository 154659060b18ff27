"""The policy engine on scripted event streams, against a real Store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swarmdeck.config import ConfigError
from swarmdeck.policy import PolicyService, load_policy
from swarmdeck.store.db import Store
from tests.helpers.clock import Clock, Script

FLAKY = {
    "rules": [
        {
            "name": "flaky-tests",
            "match": {"kind": "task.failed", "role": "tester", "error": "(?i)timeout|flaky"},
            "path": [
                "retry(max=2, backoff=30s)",
                "reroute(role=senior-coder)",
                "escalate(severity=high, deadline=15m)",
            ],
            "on_expiry": "reject(reason=nobody answered within the deadline)",
        },
        {
            "name": "routine-reads",
            "match": {"escalation_kind": "approval", "title": "^(Read|Grep|Glob)"},
            "path": ["approve"],
        },
    ]
}


async def _setup(store: Store, ev: Script) -> None:
    await store.append(
        [
            ev("agent.seen", agent="tester-1", data={"name": "tester-1", "role": "tester"}),
            ev("agent.seen", agent="coder-1", data={"name": "coder-1", "role": "coder"}),
            ev("task.created", task="T-1", workflow="wf", data={"title": "run tests"}),
            ev("task.started", task="T-1", agent="tester-1", workflow="wf"),
        ],
        origin="demo",
    )


async def _fail(store: Store, ev: Script, error: str = "timeout after 60s") -> None:
    await store.append(
        [ev("task.failed", task="T-1", agent="tester-1", data={"error": error})], origin="demo"
    )


async def _restart(store: Store, ev: Script) -> None:
    # act_on_task names its synthetic escalation after the millisecond: let time move.
    ev.clock.advance(1)
    await store.append([ev("task.started", task="T-1", agent="tester-1")], origin="demo")


async def test_failing_task_walks_retry_reroute_escalate(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await _setup(clocked_store, clocked_ev)
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()

    # Failure 1: a retry is scheduled after the 30 s backoff, not sent at once.
    await _fail(clocked_store, clocked_ev)
    await service.step()
    assert await clocked_store.decisions() == []
    clock.advance(31)
    await service.step()
    decisions = await clocked_store.decisions()
    assert [(d.action, d.actor) for d in decisions] == [("retry", "policy:flaky-tests")]
    assert "retry 1 of 2" in (decisions[0].reason or "")

    # Failure 2: the second retry.
    await _restart(clocked_store, clocked_ev)
    await _fail(clocked_store, clocked_ev)
    await service.step()
    clock.advance(31)
    await service.step()
    assert [d.action for d in await clocked_store.decisions()] == ["retry", "retry"]

    # A restart of the service in between keeps the count (persisted per task).
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()

    # Failure 3: retries used up -> reroute to the senior coder.
    await _restart(clocked_store, clocked_ev)
    await _fail(clocked_store, clocked_ev)
    await service.step()
    latest = (await clocked_store.decisions())[0]
    assert (latest.action, latest.target, latest.actor) == (
        "reroute",
        "senior-coder",
        "policy:flaky-tests",
    )

    # Failure 4: escalate to a human, high severity, 15 minute deadline.
    await _restart(clocked_store, clocked_ev)
    await _fail(clocked_store, clocked_ev)
    await service.step()
    open_ = await clocked_store.escalations(state="open")
    assert len(open_) == 1
    esc = open_[0]
    assert esc.severity == "high"
    assert esc.task == "T-1"
    assert esc.deadline == pytest.approx(clock() + 15 * 60)
    assert len(await clocked_store.decisions()) == 3  # escalating decides nothing

    # Failure 5 (path exhausted): nothing more happens automatically.
    await _fail(clocked_store, clocked_ev, "timeout again")
    await service.step()
    assert len(await clocked_store.decisions()) == 3

    # The deadline passes: severity rises one step, audited, then on_expiry rejects.
    clock.advance(15 * 60 + 1)
    await service.step()
    esc = await clocked_store.escalation(esc.id)
    assert esc.state == "decided"
    assert esc.action == "reject"
    assert esc.decided_by == "policy:flaky-tests"
    assert esc.severity == "critical"
    actions = [r.action for r in await clocked_store.audit_records()]
    assert "escalation.deadline_expired" in actions
    assert "policy.escalate" in actions
    assert (await clocked_store.audit_verify()).ok


async def test_no_match_changes_nothing(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await _setup(clocked_store, clocked_ev)
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()
    await _fail(clocked_store, clocked_ev, "assertion error: expected 3, got 4")
    clock.advance(3600)
    await service.step()
    assert await clocked_store.decisions() == []


async def test_routine_requests_approved_and_others_left(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await _setup(clocked_store, clocked_ev)
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()
    for i, title in enumerate(["Read src/app.py", "Bash rm -rf build", "Grep TODO"]):
        await clocked_store.append(
            [
                clocked_ev(
                    "escalation.raised",
                    agent="coder-1",
                    data={"id": f"A-{i}", "kind": "approval", "title": title},
                )
            ],
            origin="demo",
        )
    await service.step()
    by_id = {e.id: e for e in await clocked_store.escalations()}
    assert by_id["A-0"].decided_by == "policy:routine-reads"
    assert by_id["A-0"].action == "approve"
    assert by_id["A-2"].decided_by == "policy:routine-reads"
    assert by_id["A-1"].state == "open"


async def test_restart_neither_reprocesses_nor_skips(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await _setup(clocked_store, clocked_ev)
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()
    await clocked_store.append(
        [
            clocked_ev(
                "escalation.raised", data={"id": "A-1", "kind": "approval", "title": "Read x"}
            )
        ],
        origin="demo",
    )
    await service.step()
    # Stopped; meanwhile a new request arrives; a new instance picks up exactly that one.
    await clocked_store.append(
        [
            clocked_ev(
                "escalation.raised", data={"id": "A-2", "kind": "approval", "title": "Glob *.py"}
            )
        ],
        origin="demo",
    )
    again = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await again.step()
    assert [(o.action, o.subject) for o in again.outcomes] == [("approve", "A-2")]
    assert len(await clocked_store.decisions()) == 2


async def test_rule_change_is_audited_once(clocked_store: Store, clock: Clock) -> None:
    await PolicyService(load_policy(FLAKY), clocked_store, clock, admin="ann@box").start()
    await PolicyService(load_policy(FLAKY), clocked_store, clock, admin="ann@box").start()
    changed = {"rules": [*FLAKY["rules"][:1]]}
    await PolicyService(load_policy(changed), clocked_store, clock, admin="bob@box").start()
    records = [r for r in await clocked_store.audit_records() if r.action == "policy.rules_changed"]
    assert len(records) == 2
    assert records[0].actor == "ann@box"
    assert records[0].detail["added"] == ["flaky-tests", "routine-reads"]
    assert records[1].actor == "bob@box"
    assert records[1].detail["removed"] == ["routine-reads"]


async def test_deadline_without_rule_raises_severity_once(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()
    await clocked_store.append(
        [
            clocked_ev(
                "escalation.raised",
                data={"id": "Q-1", "kind": "question", "title": "which db?", "deadline": "10m"},
            )
        ],
        origin="demo",
    )
    await service.step()
    clock.advance(599)
    assert await service.sweep_deadlines() == []
    clock.advance(2)
    assert await service.sweep_deadlines() == ["Q-1"]
    assert await service.sweep_deadlines() == []
    esc = await clocked_store.escalation("Q-1")
    assert esc.severity == "high"
    assert esc.state == "open"
    [record] = [r for r in await clocked_store.audit_records() if r.subject == "Q-1"]
    assert record.actor == "policy:deadline"
    assert record.detail["severity"] == ["normal", "high"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [{"name": "routine-reads", "match": {"escalation_kind": "approval"},
              "path": ["approve", "retri"]}],
            "policy.rules[routine-reads].path[1]: unknown step 'retri'",
        ),
        (
            [{"name": "x", "match": {"kind": "task.failed", "error": "(unclosed"},
              "path": ["retry"]}],
            "policy.rules[x].match.error: not a valid regular expression",
        ),
        (
            [{"name": "y", "match": {"kind": "task.failed"}, "path": ["reject"]}],
            "policy.rules[y].path[0]: reject: needs reason=...",
        ),
        (
            [{"name": "z", "match": {"kind": "log"}, "path": ["approve"]}],
            "policy.rules[z].match.kind: rules act on",
        ),
        (
            [{"name": "w", "match": {"kind": "task.failed"}, "path": ["retry(max=two)"]}],
            "policy.rules[w].path[0]: retry: max must be a positive integer",
        ),
    ],
)  # fmt: skip
def test_invalid_rules_name_rule_and_field(rules: list[dict[str, object]], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_policy({"rules": rules})
    assert message in str(info.value)


async def test_run_loop_acts_until_cancelled(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    """``run()`` as the collector runs it: follows the feed on its own, stops on cancel."""
    import asyncio

    config = load_policy({**FLAKY, "poll_interval": 0.01})
    service = PolicyService(config, clocked_store, clock)
    await service.start()
    task = asyncio.create_task(service.run())
    try:
        await clocked_store.append(
            [
                clocked_ev(
                    "escalation.raised", data={"id": "A-9", "kind": "approval", "title": "Glob **"}
                )
            ],
            origin="demo",
        )
        async with asyncio.timeout(10):
            while (await clocked_store.escalation("A-9")).state == "open":
                await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert (await clocked_store.escalation("A-9")).decided_by == "policy:routine-reads"
    assert await clocked_store.get_state("policy", "seq") == str(await clocked_store.last_seq())


async def test_watched_config_reloads_rules(
    clocked_store: Store, clocked_ev: Script, clock: Clock, tmp_path: Path
) -> None:
    from swarmdeck.tui.screens.make_rule import append_rule, rule_dict

    config = tmp_path / "config.toml"
    config.write_text("[tui]\nbell = false\n")
    service = PolicyService(load_policy({"rules": FLAKY["rules"][:1]}), clocked_store, clock)
    service.watch(config)
    await service.start()
    # A rule saved from the TUI applies at the next sweep, without a restart.
    append_rule(config, rule_dict("auto-glob", "approval", "^Glob", "approve", ""))
    os.utime(config, (clock() + 5, clock() + 5))
    clock.advance(2)
    await service.step()
    await clocked_store.append(
        [
            clocked_ev(
                "escalation.raised", data={"id": "A-1", "kind": "approval", "title": "Glob *"}
            )
        ],
        origin="demo",
    )
    await service.step()
    assert (await clocked_store.escalation("A-1")).decided_by == "policy:auto-glob"
    changes = [r for r in await clocked_store.audit_records() if r.action == "policy.rules_changed"]
    assert changes[-1].detail["added"] == ["auto-glob"]
    assert changes[-1].detail["removed"] == ["flaky-tests"]  # the file is now the truth
    # A broken file is ignored: the rules in force stay.
    config.write_text("[[policy.rules]]\nname = 'x'\npath = ['retri']\n")
    os.utime(config, (clock() + 10, clock() + 10))
    clock.advance(2)
    assert await service.reload_if_changed() is False
    assert [r.name for r in service.config.rules] == ["auto-glob"]


def test_step_syntax_quoted_or_bare() -> None:
    from swarmdeck.policy import parse_step

    assert parse_step('retry(max=2, backoff="30s")').backoff == 30.0
    assert parse_step("retry(max=2, backoff=30s)").max == 2
    assert parse_step('reroute(role="senior-coder")').target == "senior-coder"
    assert parse_step("escalate(severity=high, deadline=15m)").deadline == 900.0
    assert parse_step('reject(reason="no, not now")').args["reason"] == "no, not now"
    assert parse_step("approve").name == "approve"
    with pytest.raises(ValueError, match="unknown argument 'tries'"):
        parse_step("retry(tries=2)")
    with pytest.raises(ValueError, match=r"needs role=\.\.\. or agent=\.\.\."):
        parse_step("reroute()")


async def test_a_human_decision_during_backoff_wins(
    clocked_store: Store, clocked_ev: Script, clock: Clock
) -> None:
    await _setup(clocked_store, clocked_ev)
    service = PolicyService(load_policy(FLAKY), clocked_store, clock)
    await service.start()
    await clocked_store.append(
        [
            clocked_ev("task.failed", task="T-1", agent="tester-1", data={"error": "timeout"}),
            clocked_ev("escalation.raised", task="T-1", agent="tester-1",
               data={"id": "F-1", "kind": "failure", "title": "T-1 failed"}),
        ],
        origin="demo",
    )  # fmt: skip
    await service.step()  # retry scheduled in 30 s
    clock.advance(5)
    await clocked_store.decide("F-1", "reject", actor="ann@box", reason="stop, the suite is broken")
    clock.advance(30)
    await service.step()
    assert [(d.action, d.actor) for d in await clocked_store.decisions()] == [("reject", "ann@box")]
    assert ("retry.dropped", "T-1") in [(o.action, o.subject) for o in service.outcomes]
