"""The simulated swarm: determinism, realism, reactions to decisions, scale, restarts."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from swarmdeck.adapters.base import Batch, DeliveryError
from swarmdeck.adapters.demo import DemoAdapter, Simulation, UnknownEscalation
from swarmdeck.store.db import Store
from swarmdeck.store.events import (
    AgentStatus,
    EscalationRaised,
    EscalationWithdrawn,
    Event,
    Log,
    TaskCompleted,
    TaskFailed,
    TaskHandoff,
    TaskStarted,
    parse_event_json,
)
from swarmdeck.testing import Driven, build, drive, has_escalation

FIXED = 1_795_000_000.0


def fixed() -> float:
    return FIXED


def started(seed: int = 42, agents: int = 12, **kw: object) -> tuple[Simulation, list[Event]]:
    sim = Simulation(seed=seed, agents=agents, clock=fixed, **kw)  # type: ignore[arg-type]
    return sim, sim.initial_events()


def tick_until(
    sim: Simulation, found: Callable[[Event], bool], *, limit: int = 5000
) -> tuple[list[Event], Event]:
    """Tick until an event matches; return everything emitted and the match."""
    seen: list[Event] = []
    for _ in range(limit):
        events = sim.tick()
        seen += events  # the whole tick: what follows the match in it belongs to it
        for event in events:
            if found(event):
                return seen, event
    raise AssertionError(f"no matching event in {limit} ticks")


def escalation_of(kind: str, *, gate: bool = False) -> Callable[[Event], bool]:
    def match(e: Event) -> bool:
        return (
            isinstance(e, EscalationRaised)
            and e.data.kind == kind
            and (e.task or "").endswith(".gate") == gate
        )

    return match


def starts(task: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, TaskStarted) and e.task == task


def dumps(events: list[Event]) -> list[str]:
    return [e.model_dump_json() for e in events]


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_events_ids_included() -> None:
    def run(seed: int) -> list[str]:
        sim, events = started(seed)
        for _ in range(300):
            events += sim.tick()
            for esc in sim.open_escalations[:1]:
                events += sim.decide(esc, "approve", actor="dana@laptop")
        return dumps(events)

    first, second = run(7), run(7)
    assert first == second
    assert len(first) > 300
    assert run(8) != first


def test_event_ids_are_unique_and_prefixed_by_seed_and_run() -> None:
    sim, events = started(5, run=3)
    events += sim.advance(500)
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("5-3-") for i in ids)
    assert {e.source for e in events} == {"demo"}


def test_swarm_has_every_role_and_plausible_models() -> None:
    _, events = started(agents=12)
    seen = [e for e in events if e.kind == "agent.seen"]
    roles = Counter(e.data.role for e in seen)
    assert set(roles) == {"planner", "coder", "reviewer", "tester"}
    assert roles["coder"] >= roles["planner"]
    assert {e.agent for e in seen} >= {"planner-1", "coder-3", "reviewer-2", "tester-1"}
    assert all(e.data.model and e.data.host for e in seen)


def test_first_escalation_arrives_within_ten_ticks() -> None:
    for seed in (42, 1, 2, 3, 99):
        sim, _ = started(seed)
        seen, esc = tick_until(sim, lambda e: isinstance(e, EscalationRaised), limit=10)
        assert esc.agent is not None
        blocked = [e for e in seen if isinstance(e, AgentStatus) and e.agent == esc.agent]
        assert blocked[-1].data.state in ("blocked", "failed")
        assert "waiting" in blocked[-1].data.activity


def test_workflow_nodes_are_task_ids_with_a_human_gate() -> None:
    _, events = started()
    wf = next(e for e in events if e.kind == "workflow.defined")
    created = {e.task for e in events if e.kind == "task.created" and e.workflow == wf.workflow}
    nodes = wf.data.nodes
    assert {n.id for n in nodes} == created
    gates = [n for n in nodes if n.gate]
    assert len(gates) == 1
    assert gates[0].id.endswith(".gate")
    kinds = [n.id.rsplit(".", 1)[1] for n in nodes]
    assert kinds[0] == "plan"
    assert kinds[-1] == "deploy"
    assert sum(k.startswith("code-") for k in kinds) >= 1


def test_escalations_are_varied() -> None:
    sim, events = started(11, agents=60)
    for _ in range(4000):
        events += sim.tick()
        # A manager who approves the oldest open escalation now and then keeps work flowing.
        if sim.open_escalations and len(events) % 7 == 0:
            events += sim.decide(sim.open_escalations[0], "approve", actor="ops@host")
    raised = [e for e in events if isinstance(e, EscalationRaised)]
    assert {e.data.kind for e in raised} == {
        "approval",
        "question",
        "failure",
        "guardrail",
        "budget",
    }
    assert {e.data.severity for e in raised} == {"low", "normal", "high", "critical"}
    assert any(e.data.deadline is not None for e in raised)
    assert any(e.data.options for e in raised)
    failures = [e for e in raised if e.data.kind == "failure"]
    assert all(e.data.reroute_targets for e in failures)
    usage = [e for e in events if e.kind == "usage"]
    assert usage
    assert all(100 < e.data.tokens_in < 20_000 for e in usage)
    assert any(e.kind == "log" for e in events)
    assert any(e.kind == "task.progress" and e.data.pct for e in events)
    assert any(isinstance(e, TaskCompleted) and e.task.endswith(".deploy") for e in events)


async def test_every_event_is_valid_and_stored(tmp_path: Path) -> None:
    sim, events = started(3, agents=30)
    for i in range(1500):
        events += sim.tick()
        if i % 25 == 0:
            for esc in sim.open_escalations[:2]:
                action = ("approve", "retry", "reject")[i % 3]
                events += sim.decide(esc, action, reason="not now", actor="a@b")
    for e in events:
        assert parse_event_json(e.model_dump_json()) == e
    async with await Store.open(tmp_path / "demo.db") as store:
        result = await store.append(events, origin="demo")
        assert result.accepted == len(events)
        assert result.duplicates == 0
        again = await store.append(events, origin="demo")
        assert again.accepted == 0
        agents = await store.agents()
        assert len(agents) == 30
        assert {a.state for a in agents} <= {"idle", "working", "blocked", "failed"}
        assert await store.workflows()


# --------------------------------------------------------------------------- reactions


def test_approve_lets_the_task_proceed() -> None:
    sim, _ = started(4, agents=20)
    _, esc = tick_until(sim, escalation_of("approval"))
    assert isinstance(esc, EscalationRaised)
    reaction = sim.decide(esc.data.id, "approve", actor="dana@laptop")
    status = [e for e in reaction if isinstance(e, AgentStatus)]
    assert status[-1].agent == esc.agent
    assert status[-1].data.state == "working"
    assert "dana@laptop" in status[-1].data.activity
    tick_until(sim, lambda e: isinstance(e, TaskCompleted) and e.task == esc.task)
    assert esc.data.id not in sim.open_escalations


def test_reject_replans_with_the_reason() -> None:
    sim, _ = started(4, agents=20)
    _, esc = tick_until(sim, escalation_of("approval"))
    reaction = sim.decide(esc.data.id, "reject", reason="not on a Friday", actor="dana@laptop")  # type: ignore[union-attr]
    logs = [e.data.text for e in reaction if isinstance(e, Log)]
    assert any("re-planning: not on a Friday" in text for text in logs)
    status = [e for e in reaction if isinstance(e, AgentStatus)][-1]
    assert status.data.activity == "re-planning: not on a Friday"
    assert status.data.state == "working"


def test_reject_of_a_failure_fails_and_stops_the_workflow() -> None:
    sim, _ = started(6, agents=20)
    _, esc = tick_until(sim, escalation_of("failure"))
    reaction = sim.decide(esc.data.id, "reject", reason="wrong approach", actor="x@y")  # type: ignore[union-attr]
    assert any(isinstance(e, Log) and "wrong approach" in e.data.text for e in reaction)
    cancelled = [e for e in reaction if isinstance(e, TaskFailed)]
    assert cancelled
    assert all(not e.data.retryable for e in cancelled)
    assert all(e.workflow == esc.workflow for e in cancelled)


def test_retry_restarts_a_failed_task() -> None:
    sim, _ = started(6, agents=20)
    seen, esc = tick_until(sim, escalation_of("failure"))
    assert any(isinstance(e, TaskFailed) and e.task == esc.task for e in seen)
    reaction = sim.decide(esc.data.id, "retry", actor="x@y")  # type: ignore[union-attr]
    restart = [e for e in reaction if isinstance(e, TaskStarted)]
    assert [(e.task, e.agent) for e in restart] == [(esc.task, esc.agent)]
    assert "attempt 2" in [e for e in reaction if isinstance(e, AgentStatus)][-1].data.activity


def test_reroute_hands_off_to_the_target_which_picks_it_up() -> None:
    sim, _ = started(6, agents=20)
    _, esc = tick_until(sim, escalation_of("failure"))
    assert isinstance(esc, EscalationRaised)
    targets = esc.data.reroute_targets or []
    assert targets
    assert esc.agent not in targets
    target = targets[0]
    reaction = sim.decide(esc.data.id, "reroute", target=target, reason="fresh eyes", actor="x@y")
    handoff = [e for e in reaction if isinstance(e, TaskHandoff)]
    assert [(h.agent, h.data.to_agent, h.task) for h in handoff] == [(esc.agent, target, esc.task)]
    picked = [e for e in reaction if isinstance(e, TaskStarted) and e.task == esc.task]
    if not picked:  # the target was busy: it takes the task when its current one ends
        _, start = tick_until(sim, lambda e: isinstance(e, TaskStarted) and e.task == esc.task)
        picked = [start]  # type: ignore[list-item]
    assert picked[0].agent == target


def test_reroute_to_a_role_picks_an_agent_of_that_role() -> None:
    sim, _ = started(6, agents=20)
    _, esc = tick_until(sim, escalation_of("failure"))
    reaction = sim.decide(esc.data.id, "reroute", target="coder", reason="x", actor="x@y")  # type: ignore[union-attr]
    handoff = next(e for e in reaction if isinstance(e, TaskHandoff))
    assert handoff.data.to_agent.startswith("coder-")
    assert handoff.data.to_agent != esc.agent


def test_answer_is_used_by_the_agent() -> None:
    sim, _ = started()
    _, esc = tick_until(sim, escalation_of("question"))
    assert isinstance(esc, EscalationRaised)
    assert esc.data.title == "Which OAuth provider should the login use?"
    assert esc.data.options == ["Google", "GitHub", "Okta"]
    reaction = sim.decide(esc.data.id, "answer", answer="Okta", actor="dana@laptop")
    status = [e for e in reaction if isinstance(e, AgentStatus)][-1]
    assert status.data.activity == "using the answer: Okta"
    assert status.data.state == "working"


def test_human_gate_approve_deploys_and_reject_stops() -> None:
    for action, expect_deploy in (("approve", True), ("reject", False)):
        sim, _ = started(2, agents=12)
        gate_escalations: list[str] = []
        for _ in range(3000):  # approve everything but gates, until a gate asks
            gate_escalations += [
                e.data.id
                for e in sim.tick()
                if isinstance(e, EscalationRaised) and (e.task or "").endswith(".gate")
            ]
            if gate_escalations:
                break
            for esc in sim.open_escalations:
                sim.decide(esc, "approve", actor="bot@ci")
        assert gate_escalations
        reaction = sim.decide(
            gate_escalations[0], action, reason="release freeze", actor="dana@laptop"
        )
        gate_task = next(e.task for e in reaction if e.task and e.task.endswith(".gate"))
        deploy = gate_task.replace(".gate", ".deploy")
        if expect_deploy:
            assert any(isinstance(e, TaskCompleted) and e.task == gate_task for e in reaction)
            if not any(starts(deploy)(e) for e in reaction):  # no tester was free yet
                tick_until(sim, starts(deploy))
        else:
            failed = [e for e in reaction if isinstance(e, TaskFailed)]
            assert any("release freeze" in e.data.error for e in failed)
            assert any(e.task == deploy for e in failed)


def test_unknown_escalation_is_refused() -> None:
    sim, _ = started()
    with pytest.raises(UnknownEscalation, match="nobody is waiting"):
        sim.decide("other-7", "approve", actor="x@y")


def test_decision_on_a_task_without_escalation_acts_on_the_task() -> None:
    """swarmdeck raises a synthetic escalation when a manager acts on a task directly."""
    sim, _ = started(6, agents=20)
    _, esc = tick_until(sim, escalation_of("failure"))
    sim.decide(esc.data.id, "reject", reason="later", actor="x@y")  # type: ignore[union-attr]
    # The workflow stopped; a retry on the (now cancelled) task is acknowledged, not crashed.
    later = sim.decide("task-x-1", "retry", actor="x@y", task=esc.task)
    assert all(isinstance(e, Log) for e in later)


def test_low_severity_questions_do_not_wait_forever() -> None:
    sim, _ = started(11, agents=60)
    seen, withdrawn = tick_until(sim, lambda e: isinstance(e, EscalationWithdrawn), limit=6000)
    raised = next(
        e
        for e in seen
        if isinstance(e, EscalationRaised) and e.data.id == withdrawn.data.id  # type: ignore[union-attr]
    )
    assert raised.data.severity in ("low", "normal")
    assert withdrawn.data.id not in sim.open_escalations  # type: ignore[union-attr]


# --------------------------------------------------------------------------- scale


def test_ten_thousand_agents_stay_cheap() -> None:
    sim, initial = started(1, agents=10_000)
    kinds = Counter(e.kind for e in initial)
    assert kinds["agent.seen"] == 10_000
    assert len(initial) < 10 * 10_000
    per_tick = [len(sim.tick()) for _ in range(3000)]
    # Each tick is one agent update (a handful of events), never a sweep over the swarm.
    assert max(per_tick) < 60
    assert 2 <= sum(per_tick) / len(per_tick) <= 8


# --------------------------------------------------------------------------- the adapter


async def test_adapter_restart_continues_the_swarm(tmp_path: Path) -> None:
    """Help says the swarm keeps running: a restart keeps every open item open and
    answerable, the same agents on the same work; only the event ids are new."""
    opts = {"seed": 42, "agents": 12, "rate": 400.0}
    async with await Store.open(tmp_path / "demo.db") as store:
        first, _ = build(DemoAdapter, opts, store, "demo")
        run1 = await drive(first, store, until=lambda d: len(d.events) > 400 and has_escalation(d))
        assert not run1.timed_out
        open_before = {e.id for e in await store.escalations(state="open")}
        assert open_before
        working_before = {a.name: a.task for a in await store.agents(state="working")}

        second, health = build(DemoAdapter, opts, store, "demo")
        run2 = await drive(second, store, until=lambda d: len(d.events) > 50)
        assert not run2.timed_out
        assert run2.duplicates == 0 and run2.accepted == len(run2.events)
        assert (await store.get_state("demo", "run")) == "1"
        assert health.reports[0][0] == "running"
        assert {e.id.split("-")[1] for e in run2.events} == {"1"}  # fresh ids
        assert not any(isinstance(e, EscalationWithdrawn) for e in run2.events)
        assert not any(e.kind == "agent.seen" for e in run2.events)  # the same agents
        still_open = {e.id for e in await store.escalations(state="open")}
        assert open_before <= still_open | {
            e.data.id for e in run2.events if isinstance(e, EscalationWithdrawn)
        }
        assert open_before & still_open
        # The agents carry on with what they were doing (or have finished it since).
        carried = [
            e for e in run2.events if isinstance(e, AgentStatus) and e.agent in working_before
        ]
        assert carried
        # An item raised by the first run is answered through the second.
        assert isinstance(second, DemoAdapter)
        esc_id = sorted(open_before & still_open)[0]
        await store.decide(esc_id, "approve", actor="dana@laptop")
        [delivery] = await store.due_deliveries(adapters=["demo"])
        await second.deliver(delivery)
        assert second.reactions == 1


async def test_a_decision_taken_while_the_demo_was_down_is_delivered_after(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "demo.db") as store:
        first, _ = build(DemoAdapter, {"rate": 200.0}, store, "demo")
        await drive(first, store, until=has_escalation)
        esc = (await store.escalations(state="open"))[0]
        await store.decide(esc.id, "answer", answer="GitHub", actor="dana@laptop")
        second, _ = build(DemoAdapter, {"rate": 200.0}, store, "demo")
        assert isinstance(second, DemoAdapter)

        async def deliver() -> None:
            await asyncio.sleep(0.05)
            [delivery] = await store.due_deliveries(adapters=["demo"])
            await second.deliver(delivery)

        def used(d: Driven) -> bool:
            return any(
                isinstance(e, AgentStatus) and e.data.activity == "using the answer: GitHub"
                for e in d.events
            )

        driven = await drive(second, store, until=used, stimulate=deliver)
        assert not driven.timed_out


async def test_a_reaction_lost_with_the_process_is_applied_on_restart(tmp_path: Path) -> None:
    """The decision was delivered (acknowledged), the process died before its reaction
    was stored: the restored world applies it instead of waiting forever."""
    async with await Store.open(tmp_path / "demo.db") as store:
        first, _ = build(DemoAdapter, {"rate": 200.0}, store, "demo")
        await drive(first, store, until=has_escalation)
        esc = (await store.escalations(state="open"))[0]
        await store.decide(esc.id, "answer", answer="Okta", actor="dana@laptop")
        [delivery] = await store.due_deliveries(adapters=["demo"])
        await first.deliver(delivery)  # reacted in memory only: never yielded
        await store.delivery_succeeded(delivery.outbox_id)
        second, _ = build(DemoAdapter, {"rate": 200.0}, store, "demo")
        driven = await drive(second, store, until=lambda d: bool(d.events))
        assert any(
            isinstance(e, AgentStatus) and e.data.activity == "using the answer: Okta"
            for e in driven.events
        )


async def test_a_changed_swarm_starts_over_and_closes_what_was_left_open(
    tmp_path: Path,
) -> None:
    async with await Store.open(tmp_path / "demo.db") as store:
        first, _ = build(DemoAdapter, {"rate": 200.0, "agents": 12}, store, "demo")
        await drive(first, store, until=has_escalation)
        esc = (await store.escalations(state="open"))[0]
        await store.decide(esc.id, "approve", actor="dana@laptop")
        open_before = {e.id for e in await store.escalations(state="open")}
        second, _ = build(DemoAdapter, {"rate": 200.0, "agents": 13}, store, "demo")
        run2 = await drive(second, store, until=lambda d: bool(d.events))
        assert any(e.kind == "agent.seen" for e in run2.events)  # a new world
        # Its agents are gone with it: what it left open is withdrawn, not stuck.
        assert not open_before & {e.id for e in await store.escalations(state="open")}
        [delivery] = await store.due_deliveries(adapters=["demo"])
        with pytest.raises(DeliveryError) as info:
            await second.deliver(delivery)
        assert info.value.retryable is False


async def test_adapter_delivers_decisions_from_the_store(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "demo.db") as store:
        adapter, _ = build(DemoAdapter, {"seed": 42, "rate": 20.0}, store, "demo")
        assert isinstance(adapter, DemoAdapter)

        async def manager() -> None:
            async with asyncio.timeout(10):
                while not (waiting := await store.escalations(state="open")):
                    await asyncio.sleep(0.02)
            await store.decide(waiting[0].id, "answer", answer="GitHub", actor="dana@laptop")
            [delivery] = await store.due_deliveries(adapters=["demo"])
            await adapter.deliver(delivery)
            await adapter.deliver(delivery)  # a re-delivery changes nothing

        def used_answer(d: Driven) -> bool:
            return any(
                isinstance(e, AgentStatus) and e.data.activity == "using the answer: GitHub"
                for e in d.events
            )

        driven = await drive(adapter, store, until=used_answer, stimulate=manager)
        assert not driven.timed_out
        assert adapter.reactions == 1
        assert driven.duplicates == 0


async def test_high_rate_batches_ticks(tmp_path: Path) -> None:
    async with await Store.open(tmp_path / "demo.db") as store:
        adapter, _ = build(DemoAdapter, {"agents": 200, "rate": 4000.0}, store, "demo")
        driven = await drive(adapter, store, until=lambda d: len(d.events) > 5000)
        assert not driven.timed_out
        # Hundreds of ticks per wake-up, not one sleep per tick.
        assert driven.items < len(driven.events) / 20


async def test_a_start_that_stored_nothing_still_uses_up_its_run(tmp_path: Path) -> None:
    """A crash before the first batch is committed must not let the next start reuse ids."""
    async with await Store.open(tmp_path / "demo.db") as store:
        crashed, _ = build(DemoAdapter, {"rate": 100.0}, store, "demo")
        agen = crashed.events()
        lost = await agen.__anext__()  # yielded, never stored
        await agen.aclose()  # type: ignore[attr-defined]
        assert isinstance(lost, Batch)
        assert lost.events[0].id.startswith("42-0-")
        second, _ = build(DemoAdapter, {"rate": 100.0}, store, "demo")
        driven = await drive(second, store, until=lambda d: len(d.events) > 50)
        assert {e.id.split("-")[1] for e in driven.events} == {"1"}
        assert driven.duplicates == 0


@pytest.mark.parametrize("seed", [0, 5])
async def test_random_decisions_keep_world_and_store_consistent(tmp_path: Path, seed: int) -> None:
    """Whatever managers decide, the store's projection agrees with the simulated world."""
    sim, events = started(seed, agents=25)
    rng = random.Random(seed)
    decided: set[str] = set()
    for _ in range(2500):
        events += sim.tick()
        if sim.open_escalations and rng.random() < 0.08:
            esc = rng.choice(sim.open_escalations)
            decided.add(esc)
            events += sim.decide(
                esc,
                rng.choice(["approve", "reject", "retry", "reroute", "answer"]),
                reason="because",
                target=rng.choice(["coder", "coder-2", "tester-1", "nobody"]),
                answer="yes",
                actor="t@h",
            )
    async with await Store.open(tmp_path / "demo.db") as store:
        result = await store.append(events, origin="demo")
        assert result.duplicates == 0
        still_open = {e.id for e in await store.escalations(state="open")} - decided
        assert still_open == set(sim.open_escalations)
        tasks = {t.id: t for t in await store.tasks()}
        for agent in await store.agents(state="working"):
            task = tasks[agent.task or ""]
            assert (task.state, task.assignee) == ("running", agent.name)
