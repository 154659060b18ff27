"""Contract: the named queries of ``swarmdeck.store.queries`` answer what their services ask."""

from __future__ import annotations

from swarmdeck.store.events import Event
from swarmdeck.store.queries import by_origin, dryrun, metrics, sessions, tasks, usage
from tests.helpers import BASE, ev, raise_escalation
from tests.store_contract.harness import ManualClock, StoreFactory

T0 = BASE.timestamp()


async def test_counts_for_the_status_line(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("agent.status", agent="a", data={"state": "working"}),
            ev("agent.status", agent="b", data={"state": "working"}),
            ev("agent.status", agent="c", data={"state": "blocked"}),
            raise_escalation("E1", severity="high", offset=5),
            raise_escalation("E2", severity="high", offset=9),
            raise_escalation("E3", offset=1),
        ],
        origin="o",
    )
    await store.decide("E3", "approve", actor="me")
    counts = await store.counts()
    assert counts["agents"] == {"working": 2, "blocked": 1, "idle": 1}  # coder-1 from raises
    assert counts["open_by_severity"] == {"high": 2}
    assert counts["oldest_open_ts"] == T0 + 5


async def test_a_tasks_open_escalation_and_ids_by_state(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("task.created", task="T1", data={"title": "a"}),
            ev("task.created", task="T2", data={"title": "b"}),
            ev("task.completed", task="T2"),
            raise_escalation("old", task="T1", offset=1),
            raise_escalation("new", task="T1", offset=2),
        ],
        origin="o",
    )
    assert await tasks.open_escalation_of_task(store, "T1") == "old"
    assert await tasks.open_escalation_of_task(store, "T1", newest=True) == "new"
    assert await tasks.open_escalation_of_task(store, "T2") is None
    assert await tasks.task_ids_in_state(store, "done") == {"T2"}
    assert await tasks.task_ids_in_state(store, "pending") == {"T1"}


async def test_the_last_human_decision_on_a_task(store_factory: StoreFactory) -> None:
    clock = ManualClock(T0 + 100)
    store = await store_factory(clock=clock)
    await store.append(
        [raise_escalation(f"E{i}", task="T1") for i in range(3)]
        + [raise_escalation("X", task="T2")],
        origin="o",
    )
    await store.decide("E0", "approve", actor="ann")
    clock.now += 10
    await store.decide("E1", "retry", actor="policy:flaky")
    await store.decide("X", "approve", actor="bob")
    found = await tasks.last_human_decision_on_task(store, "T1", since=T0)
    assert found == tasks.HumanDecision("ann", "approve")
    assert await tasks.last_human_decision_on_task(store, "T1", since=T0 + 105) is None
    clock.now += 10
    await store.decide("E2", "reject", actor="cy", reason="no")
    assert await tasks.last_human_decision_on_task(store, "T1", since=T0 + 105) == (
        tasks.HumanDecision("cy", "reject")
    )


async def test_usage_totals_per_scope_window_and_position(store_factory: StoreFactory) -> None:
    store = await store_factory()

    def use(agent: str, offset: float, tokens: int, cost: float, workflow: str = "wf") -> Event:
        return ev("usage", agent=agent, workflow=workflow, offset=offset,
                  data={"tokens_in": tokens, "tokens_out": 1, "cost_usd": cost})  # fmt: skip

    r = await store.append(
        [use("a", 0, 10, 0.5), use("a", 30, 20, 0.25), use("b", 30, 100, 1.0, "other"),
         use("a", 90, 1000, 9.0)],
        origin="o",
    )  # fmt: skip
    assert r.last_seq is not None
    in_window = await usage.usage_totals(
        store, per="agent", scope="a", since=T0, until=T0 + 60, before_seq=r.last_seq + 1
    )
    assert in_window == usage.UsageTotals(tokens=32.0, cost_usd=0.75)
    before_second = await usage.usage_totals(
        store, per="agent", scope="a", since=T0, until=T0 + 60, before_seq=r.last_seq - 2
    )
    assert before_second == usage.UsageTotals(tokens=11.0, cost_usd=0.5)
    per_workflow = await usage.usage_totals(
        store, per="workflow", scope="other", since=T0, until=T0 + 3600, before_seq=r.last_seq + 1
    )
    assert per_workflow.tokens == 101.0
    buckets = await usage.usage_cost_by_bucket(store, since=T0, until=T0 + 120, width=60)
    assert sorted(buckets) == [usage.CostBucket(0, 1.75), usage.CostBucket(1, 9.0)]


async def test_what_outcome_velocity_counts(store_factory: StoreFactory) -> None:
    clock = ManualClock(T0 + 50)
    store = await store_factory(clock=clock)
    await store.append(
        [
            ev("task.created", task="T1", data={"title": "done"}),
            ev("task.completed", task="T1", offset=20),
            ev("task.created", task="T2", data={"title": "broken"}, offset=5),
            ev("task.failed", task="T2", data={"error": "x"}, offset=30),
            ev("task.created", task="T3", data={"title": "later"}, offset=500),
            raise_escalation("E1", task="T2", offset=10),
            raise_escalation("G1", kind="guardrail", agent="leaky", offset=12),
            raise_escalation("G2", kind="guardrail", agent="leakier", offset=14),
        ],
        origin="o",
    )
    assert await metrics.completed_task_ends(store, since=T0, until=T0 + 100) == [T0 + 20]
    assert await metrics.failed_task_count(store, since=T0, until=T0 + 100) == 1
    assert await metrics.failed_task_count(store, since=T0 + 31, until=T0 + 100) == 0
    assert await metrics.active_task_count(store, since=T0, until=T0 + 100) == 2
    await store.decide("E1", "retry", actor="policy:flaky")
    clock.now += 10
    await store.decide("G2", "reject", actor="ann", reason="leak")
    timings = await metrics.decisions_between(store, since=T0, until=T0 + 100)
    assert timings == [
        metrics.DecisionTiming(T0 + 50, "policy:flaky", "retry", T0 + 10, "test", "E1"),
        metrics.DecisionTiming(T0 + 60, "ann", "reject", T0 + 14, "test", "G2"),
    ]
    assert await metrics.recent_policy_decisions(store) == [
        metrics.PolicyDecision(T0 + 50, "policy:flaky", "retry", "title of E1")
    ]
    assert await metrics.open_guardrail_escalations(store) == [
        metrics.GuardrailHit("leaky", "title of G1", T0 + 12)
    ]


async def test_what_the_dry_run_compares_with(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("agent.seen", agent="a", data={"name": "a", "role": "tester"}),
            raise_escalation("E1"),
            raise_escalation("E2"),
        ],
        origin="o",
    )
    await store.decide("E1", "reject", actor="ann", reason="no")
    assert await dryrun.agent_roles(store) == {"a": "tester", "coder-1": ""}
    assert await dryrun.escalation_outcome(store, "E1") == ("decided", "ann", "reject")
    assert await dryrun.escalation_outcome(store, "E2") == dryrun.EscalationOutcome(
        "open", None, None
    )
    assert await dryrun.escalation_outcome(store, "E404") is None


async def test_what_an_origin_left_open(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("agent.status", agent="b-agent", data={"state": "working"}),
            ev("agent.status", agent="a-agent", data={"state": "offline"}),
            ev("task.created", task="T2", workflow="wf", data={"title": "x"}),
            ev("task.created", task="T1", data={"title": "y"}),
            ev("task.started", task="T1", agent="b-agent"),
            ev("task.created", task="T3", data={"title": "z"}),
            ev("task.completed", task="T3"),
            raise_escalation("E2", agent="b-agent"),
            raise_escalation("E1", agent="b-agent"),
            raise_escalation("E3", agent="b-agent"),
        ],
        origin="demo",
    )
    await store.append([raise_escalation("X1", agent="z")], origin="elsewhere")
    await store.decide("E3", "approve", actor="me")
    assert await by_origin.open_escalation_ids(store, "demo") == ["E1", "E2"]
    assert await by_origin.unfinished_tasks(store, "demo") == [
        by_origin.UnfinishedTask("T1", None),
        by_origin.UnfinishedTask("T2", "wf"),
    ]
    assert await by_origin.active_agent_names(store, "demo") == ["b-agent"]
    assert await by_origin.active_agent_names(store, "elsewhere") == ["z"]


async def test_session_agent_names_are_claimed_once(store_factory: StoreFactory) -> None:
    store = await store_factory()

    async def claim(session: str, live_since: float = T0) -> str:
        return await sessions.claim_session_agent(
            store, "claude-sessions", session, base="claude:repo",
            alternative=f"claude:repo#{session}", live_since=live_since,
        )  # fmt: skip

    assert await claim("s1") == "claude:repo"
    assert await claim("s1") == "claude:repo"  # stable
    # The holder's agent is live (seen after live_since): the second session gets a suffix.
    await store.append(
        [ev("agent.status", agent="claude:repo", data={"state": "working"}, offset=10)],
        origin="claude-code",
    )
    assert await claim("s2") == "claude:repo#s2"
    # Once the holder is over, a new session takes the plain name from it.
    assert await claim("s3", live_since=T0 + 60) == "claude:repo"
    assert await store.get_states("claude-sessions") == {
        "s2": "claude:repo#s2",
        "s3": "claude:repo",
    }
