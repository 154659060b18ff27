"""Contract: append is atomic and idempotent, and folds events into the projections."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmdeck.store.errors import NotFound
from tests.helpers import ev, raise_escalation
from tests.store_contract.backends import Backend
from tests.store_contract.harness import StoreFactory


async def test_projections_follow_the_events(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("agent.seen", agent="coder-1",
               data={"name": "coder-1", "role": "coder", "model": "m"}),
            ev(
                "workflow.defined",
                workflow="wf",
                data={
                    "name": "wf",
                    "nodes": [{"id": "T-0"}, {"id": "T-1"}, {"id": "gate", "gate": True}],
                    "edges": [["T-0", "T-1"], ["T-1", "gate"]],
                },
            ),
            ev("task.created", task="T-1", workflow="wf",
               data={"title": "code it", "depends_on": ["T-0"]}),
            ev("task.started", task="T-1", agent="coder-1", workflow="wf", offset=1),
            ev("agent.status", agent="coder-1", data={"state": "working", "activity": "editing"},
               offset=2),
            ev("usage", agent="coder-1", task="T-1",
               data={"tokens_in": 100, "tokens_out": 10, "cost_usd": 0.25}, offset=3),
            ev("usage", agent="coder-1", task="T-1",
               data={"tokens_in": 50, "tokens_out": 5, "cost_usd": 0.25}, offset=4),
            ev("task.failed", task="T-1", agent="coder-1", workflow="wf",
               data={"error": "tests red", "retryable": True}, offset=5),
        ],
        origin="demo",
    )  # fmt: skip
    agent = await store.agent("coder-1")
    assert (agent.role, agent.model, agent.state, agent.activity, agent.task) == (
        "coder", "m", "working", "editing", "T-1",
    )  # fmt: skip
    assert (agent.tokens_in, agent.tokens_out, agent.cost_usd, agent.events) == (150, 15, 0.5, 6)
    assert agent.origin == "demo"
    task = await store.task("T-1")
    assert (task.state, task.error, task.retryable, task.failures, task.assignee) == (
        "failed", "tests red", True, 1, "coder-1",
    )  # fmt: skip
    assert task.depends_on == ["T-0"]
    # A retry: started again clears the end time and moves the state on.
    await store.append([ev("task.started", task="T-1", agent="coder-1", offset=6)], origin="demo")
    task = await store.task("T-1")
    assert (task.state, task.ended_ts, task.failures) == ("running", None, 1)
    wf = await store.workflow("wf")
    assert [n.id for n in wf.nodes] == ["T-0", "T-1", "gate"]
    assert {n.id: n.state for n in wf.nodes} == {
        "T-0": "pending",
        "T-1": "running",
        "gate": "pending",
    }
    assert [n.gate for n in wf.nodes] == [False, False, True]
    assert ("T-0", "T-1") in wf.edges and ("T-1", "gate") in wf.edges


async def test_a_value_not_given_never_overwrites(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [ev("agent.seen", agent="a", data={"name": "a", "role": "coder", "model": "m1"})],
        origin="o",
    )
    await store.append([ev("agent.status", agent="a", data={"state": "working"})], origin="o")
    agent = await store.agent("a")
    assert (agent.role, agent.model, agent.state) == ("coder", "m1", "working")


async def test_workflow_blocked_node_and_undefined_workflow(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [
            ev("task.created", task="A", workflow="adhoc", data={"title": "a"}),
            ev("task.created", task="B", workflow="adhoc",
               data={"title": "b", "depends_on": ["A"]}),
            ev("task.started", task="B", workflow="adhoc", agent="x"),
            raise_escalation("E-B", task="B", agent="x"),
        ],
        origin="demo",
    )  # fmt: skip
    wf = await store.workflow("adhoc")
    assert {n.id: n.state for n in wf.nodes} == {"A": "pending", "B": "blocked"}
    assert wf.edges == [("A", "B")]
    summaries = await store.workflows()
    assert (summaries[0].name, summaries[0].tasks, summaries[0].open_escalations) == (
        "adhoc",
        2,
        1,
    )
    with pytest.raises(NotFound):
        await store.workflow("nope")
    with pytest.raises(NotFound):
        await store.agent("nobody")
    with pytest.raises(NotFound):
        await store.task("T-404")
    with pytest.raises(NotFound):
        await store.escalation("E-404")


async def test_append_is_idempotent_and_counts_duplicates(store_factory: StoreFactory) -> None:
    store = await store_factory()
    events = [ev("log", agent="a", data={"text": str(i)}) for i in range(5)]
    first = await store.append(events, origin="o")
    again = await store.append(events + events[:2], origin="o")
    assert (first.accepted, first.duplicates) == (5, 0)
    assert first.first_seq is not None and first.last_seq == first.first_seq + 4
    assert (again.accepted, again.duplicates, again.first_seq) == (0, 7, None)
    assert (await store.agent("a")).events == 5
    assert again.rev == first.rev  # nothing changed, nothing to repaint


async def test_the_same_id_from_two_sources_is_two_events(store_factory: StoreFactory) -> None:
    store = await store_factory()
    result = await store.append(
        [ev("log", agent="a", id="same", source="left", data={"text": "l"}),
         ev("log", agent="a", id="same", source="right", data={"text": "r"})],
        origin="o",
    )  # fmt: skip
    assert (result.accepted, result.duplicates) == (2, 0)
    assert [e.source for e in await store.events_since(0)] == ["left", "right"]


async def test_an_empty_batch_changes_nothing(store_factory: StoreFactory) -> None:
    store = await store_factory()
    rev = await store.rev()
    result = await store.append([], origin="o")
    assert (result.accepted, result.duplicates, result.rev) == (0, 0, rev)


async def test_a_clashing_raise_never_rewrites_a_decided_or_foreign_escalation(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append([raise_escalation("deploy", title="deploy v1")], origin="team-a")
    await store.decide("deploy", "approve", actor="dana@ops")
    hijack = ev(
        "escalation.raised", source="team-b", agent="x",
        data={"id": "deploy", "kind": "approval", "title": "DROP prod db", "severity": "critical"},
    )  # fmt: skip
    await store.append([hijack], origin="team-b")
    kept = await store.escalation("deploy")
    assert (kept.title, kept.severity, kept.decided_by) == ("deploy v1", "normal", "dana@ops")
    [letter] = await store.dead_letters()
    assert "escalation id 'deploy' is already in use" in letter.error
    assert "DROP prod db" in letter.raw
    # Not even the source that raised an open escalation may change what the manager sees.
    await store.append([raise_escalation("open-1")], origin="team-a")
    await store.append([raise_escalation("open-1", severity="high")], origin="team-a")
    assert (await store.escalation("open-1")).severity == "normal"
    assert "severity changed" in (await store.dead_letters())[0].error


async def test_a_withdrawn_escalation_stays_withdrawn(store_factory: StoreFactory) -> None:
    store = await store_factory()
    await store.append(
        [raise_escalation("E1"), ev("escalation.withdrawn", data={"id": "E1", "reason": "gone"})],
        origin="demo",
    )
    esc = await store.escalation("E1")
    assert (esc.state, esc.reason) == ("withdrawn", "gone")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=120),
    cut=st.integers(min_value=1, max_value=40),
)
def test_any_redelivery_pattern_stores_each_event_once(
    store_backend: Backend, picks: list[int], cut: int
) -> None:
    """Whatever the batching and however often events repeat, each is stored once."""
    pool = [
        ev("usage", agent=f"a{i % 3}", data={"tokens_in": 1, "tokens_out": 0, "cost_usd": 0})
        for i in range(31)
    ]

    location = store_backend.new_database()

    async def scenario() -> None:
        async with await store_backend.open(location) as s:
            stream = [pool[i] for i in picks]
            accepted = 0
            for start in range(0, len(stream), cut):
                accepted += (await s.append(stream[start : start + cut], origin="o")).accepted
            unique = len(set(picks))
            assert accepted == unique
            assert len(await s.events_since(0, limit=1000)) == unique  # seq may have gaps
            total = sum(a.tokens_in for a in await s.agents())
            assert total == unique  # projections applied exactly once per event

    try:
        asyncio.run(scenario())
    finally:
        store_backend.dispose(location)


async def test_an_escalation_remembers_the_seq_of_the_event_that_raised_it(
    store_factory: StoreFactory,
) -> None:
    store = await store_factory()
    await store.append([ev("log", data={"text": "before"})], origin="o")
    batch = [
        ev("log", data={"text": "first"}),
        raise_escalation("E-late", offset=1),
        ev("log", data={"text": "after"}, offset=2),
    ]
    await store.append(batch, origin="o")
    # A replay with one new escalation among stored events is folded on its own.
    await store.append([*batch, raise_escalation("E-new", offset=3)], origin="o")
    seqs = {e.id: e.seq for e in await store.events_since(0, limit=100)}
    assert (await store.escalation("E-late")).raised_seq == seqs[batch[1].id]
    new_id = [i for i in seqs if i not in {b.id for b in batch}][-1]
    assert (await store.escalation("E-new")).raised_seq == seqs[new_id]
