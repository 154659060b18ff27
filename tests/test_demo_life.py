"""A swarm worth watching: busy agents, coherent content, every escalation actionable,
reroutes that move the work (or say why not)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from swarmdeck.adapters.base import DeliveryError
from swarmdeck.adapters.demo import DemoAdapter, Simulation
from swarmdeck.adapters.demo.catalogue import APPROVALS, FAILURES, FEATURES, QUESTIONS
from swarmdeck.guardrails import GuardrailConfig, IngestFilter
from swarmdeck.store.db import Store
from swarmdeck.store.events import (
    AgentStatus,
    EscalationRaised,
    EscalationWithdrawn,
    Event,
    TaskCreated,
    TaskHandoff,
)
from swarmdeck.store.governance import reveal
from swarmdeck.testing import build, drive

FIXED = 1_795_000_000.0


def busy_share(seed: int, ticks: int, *, decide_after: int | None) -> tuple[float, float]:
    """(busy, working) shares of agent-ticks: busy is working or waiting on a person about
    one's work (blocked, failed), the opposite of idle for want of work. With
    ``decide_after``, a manager approves (answers) each item that many ticks after it
    is raised."""
    sim = Simulation(seed=seed, agents=12, clock=lambda: FIXED)
    state: dict[str, str] = {}
    raised: dict[str, int] = {}

    def see(events: list[Event], tick: int) -> None:
        for e in events:
            if isinstance(e, AgentStatus):
                state[e.agent] = e.data.state
            elif isinstance(e, EscalationRaised):
                raised[e.data.id] = tick

    see(sim.initial_events(), 0)
    busy = working = 0.0
    for tick in range(1, ticks + 1):
        see(sim.tick(), tick)
        if decide_after is not None:
            for esc in sim.open_escalations:
                if tick - raised.get(esc, tick) >= decide_after:
                    see(sim.decide(esc, "approve", actor="ops@deck"), tick)
        busy += sum(s in ("working", "blocked", "failed") for s in state.values()) / len(state)
        working += sum(s == "working" for s in state.values()) / len(state)
    return busy / ticks, working / ticks


@pytest.mark.parametrize("seed", [1, 2, 42])
def test_with_a_manager_at_the_desk_most_agents_are_busy(seed: int) -> None:
    """A manager deciding within a minute (240 ticks at the default 4/s): on average at
    least 70% of the agents busy, and most of them actually working."""
    busy, working = busy_share(seed, 4000, decide_after=240)
    assert busy >= 0.70, busy
    assert working >= 0.50, working


def test_nobody_at_the_desk_still_keeps_agents_on_their_work() -> None:
    """Unattended, items pile up that wait for a person (high and critical ones), yet the
    agents are mostly on their work or waiting on it, not idle for lack of work."""
    busy, _working = busy_share(42, 4000, decide_after=None)
    assert busy >= 0.60, busy


def _about(title: str, body: str) -> tuple[str, ...] | None:
    """The features an escalation raised with this text belongs to (None: any)."""
    for entries in QUESTIONS.values():
        for q in entries:
            if q.about and q.title == title:
                return q.about
    for approvals in APPROVALS.values():
        for a in approvals:
            if a.about and a.title == title:
                return a.about
    for failures in FAILURES.values():
        for f in failures:
            if f.about and f.error in title:
                return f.about
    return None


@pytest.mark.parametrize("seed", [0, 3, 11])
def test_what_agents_ask_fits_the_workflow_they_work_on(seed: int) -> None:
    """No OAuth question in a Redis-cache workflow: a question, approval or failure that
    is about some features only appears where those features are being built."""
    sim = Simulation(seed=seed, agents=40, clock=lambda: FIXED)
    events = sim.initial_events()
    for _ in range(6000):
        events += sim.tick()
        for esc in sim.open_escalations[:2]:
            events += sim.decide(esc, "approve", actor="ops@deck")
    by_name = {f.name: f.key for f in FEATURES}
    features: dict[str, set[str]] = {}  # task id -> feature keys it speaks for
    titles: dict[str, str] = {}
    for e in events:
        if isinstance(e, TaskCreated) and e.task:
            titles[e.task] = e.data.title
    for task, title in titles.items():
        if task.endswith(".plan"):  # "Plan release-42: OAuth login, audit log"
            names = title.split(": ", 1)[1].split(", ")
            features[task] = {by_name[n] for n in names}
        elif ".code-" in task:  # "Implement OAuth login" / "Fix OAuth login"
            features[task] = {by_name[title.split(" ", 1)[1]]}
    checked = 0
    for e in events:
        if not isinstance(e, EscalationRaised) or e.task not in features:
            continue
        about = _about(e.data.title, e.data.body)
        if about is not None:
            checked += 1
            assert features[e.task] & set(about), (e.task, e.data.title, features[e.task])
    assert checked  # the feature-bound ones did come up


# --------------------------------------------------------------------------- reroute (10.10)


def _first(sim: Simulation, match: Callable[[Event], bool], limit: int = 20_000) -> Event:
    """Tick until ``match``; a manager approves everything else meanwhile (work flows)."""
    for _ in range(limit):
        for e in sim.tick():
            if match(e):
                return e
        for esc in sim.open_escalations[:1]:
            sim.decide(esc, "approve", actor="ops@deck")
    raise AssertionError("never raised")


def _failure_of(role: str) -> Callable[[Event], bool]:
    return lambda e: (
        isinstance(e, EscalationRaised)
        and e.data.kind == "failure"
        and (e.agent or "").startswith(f"{role}-")
    )


def test_reroute_to_a_role_moves_the_task_to_another_agent_of_it() -> None:
    sim = Simulation(seed=6, agents=20, clock=lambda: FIXED)
    sim.initial_events()
    esc = _first(sim, _failure_of("coder"))
    assert isinstance(esc, EscalationRaised)
    reaction = sim.decide(esc.data.id, "reroute", target="role:coder", reason="x", actor="m")
    [handoff] = [e for e in reaction if isinstance(e, TaskHandoff)]
    assert handoff.data.to_agent.startswith("coder-") and handoff.data.to_agent != esc.agent
    assert sim.refusal(esc.data.id) is None


def test_reroute_to_a_role_nobody_else_has_says_so_and_asks_again() -> None:
    sim = Simulation(seed=2, agents=5, clock=lambda: FIXED)  # one planner only
    sim.initial_events()
    esc = _first(sim, _failure_of("planner"))
    assert isinstance(esc, EscalationRaised)
    reaction = sim.decide(esc.data.id, "reroute", target="role:planner", reason="x", actor="m")
    assert not any(isinstance(e, TaskHandoff) for e in reaction)
    again = [e for e in reaction if isinstance(e, EscalationRaised)]
    assert [(e.task, e.data.kind) for e in again] == [(esc.task, "failure")]
    assert again[0].data.id in sim.open_escalations  # still waiting for a decision
    why = sim.refusal(esc.data.id)
    assert why is not None and "planner-1 is the only planner" in why
    # Not a retry on the same agent under another name.
    assert not any(isinstance(e, AgentStatus) and "attempt" in e.data.activity for e in reaction)


async def test_an_impossible_reroute_fails_its_delivery_saying_why(tmp_path: Path) -> None:
    """The inbox must not say "rerouted ✓ delivered" for a task that stayed put."""
    async with await Store.open(tmp_path / "demo.db", clock=lambda: FIXED) as store:
        adapter, _ = build(DemoAdapter, {"seed": 6, "agents": 20, "rate": 2000.0}, store, "demo")
        assert isinstance(adapter, DemoAdapter)
        driven = await drive(
            adapter,
            store,
            until=lambda d: any(_failure_of("coder")(e) for e in d.events),
            timeout=30,
        )
        assert not driven.timed_out
        esc = next(e for e in driven.events if _failure_of("coder")(e))
        assert isinstance(esc, EscalationRaised)
        await store.decide(esc.data.id, "reroute", target="nobody", reason="x", actor="m")
        [delivery] = await store.due_deliveries(adapters=["demo"])
        with pytest.raises(DeliveryError, match="no agent or role is named 'nobody'") as info:
            await adapter.deliver(delivery)
        assert info.value.retryable is False
        assert adapter.sim is not None
        again = adapter.sim.open_escalations[-1]  # asked again, for the same task
        assert adapter.sim._swarm.open[again].task.id == esc.task


# --------------------------------------------------------------------------- guardrails


async def test_a_demo_guardrail_item_can_be_revealed(tmp_path: Path) -> None:
    """Through the real ingest filter: the made-up key is masked where it is stored, kept
    for an audited reveal on the escalation the agent raised, and raises no second one."""
    sim = Simulation(seed=11, agents=60, clock=lambda: FIXED)
    events = sim.initial_events()
    for _ in range(20_000):
        events += sim.tick()
        if any(isinstance(e, EscalationRaised) and e.data.kind == "guardrail" for e in events):
            break
        for esc in sim.open_escalations[:1]:
            events += sim.decide(esc, "approve", actor="m")
    [raised] = [e for e in events if isinstance(e, EscalationRaised) and e.data.kind == "guardrail"]
    async with await Store.open(tmp_path / "g.db", clock=lambda: FIXED) as store:
        flt = IngestFilter(GuardrailConfig(), store=store, clock=lambda: FIXED)
        stored = await flt(events, "demo")
        await store.append(stored, origin="demo")
        guardrails = [e for e in await store.escalations() if e.kind == "guardrail"]
        assert [g.id for g in guardrails] == [raised.data.id]  # no second escalation
        body = guardrails[0].body
        assert "[secret:" in body or "[pii:" in body or "…@" in body
        found = await reveal(store, actor="dana@deck", reason="check", escalation=raised.data.id)
        assert found and all(f.original and f.original not in body for f in found)
        assert any(r.action == "guardrail.reveal" for r in await store.audit_records())


# --------------------------------------------------------------------------- every kind


@pytest.mark.parametrize(
    ("kind", "action", "expect"),
    [
        ("question", "answer", "using the answer: "),
        ("approval", "approve", "approved by ops@deck"),
        ("failure", "retry", "(attempt 2)"),
        ("guardrail", "approve", "approved by ops@deck"),
        ("budget", "approve", "budget raised"),
        ("guardrail", "reject", "re-planning: not in a fixture"),
    ],
)
def test_every_kind_the_demo_raises_can_be_acted_on(kind: str, action: str, expect: str) -> None:
    """As the help and README say: questions answered, approvals and guardrail holds
    approved or rejected, failures retried, budgets raised; the agent carries on."""
    sim = Simulation(seed=11, agents=60, clock=lambda: FIXED)
    sim.initial_events()

    def raised(e: Event) -> bool:
        return (
            isinstance(e, EscalationRaised)
            and e.data.kind == kind
            and e.agent is not None
            and not (e.task or "").endswith(".gate")
        )

    esc = _first(sim, raised, limit=40_000)
    assert isinstance(esc, EscalationRaised)
    answer = (esc.data.options or ["as you see fit"])[0]
    reaction = sim.decide(
        esc.data.id, action, actor="ops@deck", answer=answer, reason="not in a fixture"
    )
    status = [e for e in reaction if isinstance(e, AgentStatus) and e.agent == esc.agent]
    assert status and status[-1].data.state == "working", reaction
    assert expect in status[-1].data.activity, status[-1].data.activity
    assert esc.data.id not in sim.open_escalations


def test_a_question_nobody_answers_waits_minutes_not_seconds() -> None:
    """It used to give up after about a minute (240 ticks at the default 4/s)."""
    sim = Simulation(seed=42, agents=12, clock=lambda: FIXED)
    sim.initial_events()
    raised_at: dict[str, int] = {}
    for tick in range(1, 6000):
        for e in sim.tick():
            if isinstance(e, EscalationRaised) and e.data.kind == "question":
                raised_at[e.data.id] = tick
            elif isinstance(e, EscalationWithdrawn) and e.data.id in raised_at:
                waited = tick - raised_at[e.data.id]
                assert waited >= 1200, (e.data.id, waited)  # five minutes at 4/s
                return
    raise AssertionError("no question was ever given up on")
