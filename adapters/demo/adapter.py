"""The ``demo`` adapter: a :class:`Simulation` paced in real time, reacting to decisions.

It paces the simulation at ``rate`` agent updates a second, feeds the manager's
decisions into it, and saves the world with every batch (:mod:`.persistence`), so a
restart continues the same swarm: the same agents on the same tasks, every open item
still open and answerable. Each start is a new *run* (persisted with the events), which
keeps event ids fresh. A swarm too big to snapshot, or one whose options changed,
starts over instead, closing what the previous run left open.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import ClassVar, cast

from pydantic import ConfigDict, Field

from swarmdeck.adapters.base import Adapter, AdapterContext, AdapterOptions, Batch, DeliveryError
from swarmdeck.adapters.demo import persistence
from swarmdeck.adapters.demo.simulation import Simulation
from swarmdeck.adapters.demo.world import UnknownEscalation
from swarmdeck.store.db import Store
from swarmdeck.store.errors import NotFound
from swarmdeck.store.events import Event
from swarmdeck.store.models import Decision, Delivery
from swarmdeck.store.queries.by_origin import (
    UnfinishedTask,
    active_agent_names,
    open_escalation_ids,
    unfinished_tasks,
)


class DemoOptions(AdapterOptions):
    """Options of the simulated swarm."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seed: int = 42
    """Seed of the simulated world: the same seed gives the same swarm."""
    agents: int = Field(default=12, ge=1, le=100_000)
    """How many agents to simulate (planners, coders, reviewers and testers)."""
    rate: float = Field(default=4.0, gt=0, le=100_000)
    """Agent updates per second, across the whole swarm."""
    workflows: int | None = Field(default=None, ge=1, le=100_000)
    """Workflows kept in flight at once (default: one per four agents)."""


#: Most events put in one yielded batch (the supervisor's transactions stay bounded).
_BATCH_EVENTS = 1000
#: Fastest wake-up rate: above this many updates a second, ticks are batched.
_MAX_WAKEUPS = 20.0
#: Decisions remembered to make a repeated delivery a no-op.
_REMEMBERED_DECISIONS = 10_000


class DemoAdapter(Adapter):
    """A simulated swarm of planner, coder, reviewer and tester agents that reacts to decisions.

    Every (re)start is a new *run*: the run number, the next workflow and escalation
    numbers and the world itself are saved with the events (adapter state ``run``,
    ``next_workflow``, ``next_escalation``, ``world``), so a restarted demo continues
    the swarm with fresh event ids.
    """

    type_name: ClassVar[str] = "demo"
    description: ClassVar[str] = (
        "Simulated swarm (planners, coders, reviewers, testers) that reacts to decisions"
    )
    Options: ClassVar[type[AdapterOptions]] = DemoOptions
    two_way: ClassVar[bool] = True

    def __init__(self, options: AdapterOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        self.sim: Simulation | None = None
        self._reactions: list[Event] = []
        self._wake: asyncio.Event | None = None
        self._delivered: OrderedDict[int, None] = OrderedDict()
        #: Decisions this instance reacted to (a repeated delivery does not count).
        self.reactions = 0

    @property
    def opts(self) -> DemoOptions:
        return cast(DemoOptions, self.options)

    async def _new_simulation(self) -> tuple[Simulation, list[Event]]:
        """The simulation of this run, and what it says first: the world as it starts, or
        (continuing a saved world) what reconciling it with the store found."""
        opts = self.opts
        store = self.context.store
        saved = await store.get_states(self.name)
        run = _int(saved.get("run"), -1) + 1
        # Claim the run number now, not only with the first batch: a crash before that
        # batch is committed must not let the next start reuse this run's event ids.
        await store.set_state(self.name, "run", str(run))
        sim = Simulation(
            opts.seed,
            opts.agents,
            self.context.clock,
            run=run,
            first_workflow=_int(saved.get("next_workflow"), 42),
            first_escalation=_int(saved.get("next_escalation"), 1),
            source=self.name,
            workflows=opts.workflows,
        )
        if run == 0:
            return sim, sim.initial_events()
        world = saved.get("world") or ""
        if world:
            try:
                persistence.restore(sim, persistence.loads(world))
            except (persistence.SnapshotMismatch, ValueError, KeyError, TypeError) as exc:
                self.context.log.info("demo: not continuing the saved world (%s)", exc)
            else:
                return sim, await self._reconcile(sim)
        # Starting over: close what the previous run left open, its agents are gone.
        escalations, tasks, agents = await _left_open(store, self.name)
        return sim, sim.retire(escalations, tasks, agents) + sim.initial_events()

    async def _reconcile(self, sim: Simulation) -> list[Event]:
        """Line the restored world up with the store: a decision delivered just before the
        stop whose reaction was never stored is applied now; an item open in the store
        that the world does not know (it never should) is withdrawn."""
        store = self.context.store
        open_in_store, _tasks, _agents = await _left_open(store, self.name)
        waiting = set(sim.open_escalations)
        orphans = [e for e in open_in_store if e not in waiting]
        delivered: list[Decision] = []
        gone: list[str] = []
        for esc_id in sorted(waiting.difference(open_in_store)):
            try:
                e = await store.escalation(esc_id)
            except NotFound:
                gone.append(esc_id)
                continue
            if e.state == "decided" and e.delivery == "delivered":
                delivered.extend((await store.decisions(esc_id))[:1])
            elif e.state == "withdrawn":
                gone.append(esc_id)
            # Decided and not yet delivered: the outbox delivers it after the start.
        return sim.resume_events(orphans, delivered, gone)

    async def events(self) -> AsyncIterator[Event | Batch]:
        opts = self.opts
        self._wake = asyncio.Event()
        sim, initial = await self._new_simulation()
        self.sim = sim
        for batch in _batches(sim, initial):
            yield batch
        await self.context.set_health("running", f"{sim.agent_count} agents, {opts.rate:g}/s")
        loop = asyncio.get_running_loop()
        rate = opts.rate
        min_wait = 1.0 / _MAX_WAKEUPS if rate > _MAX_WAKEUPS else 0.0
        max_burst = max(1, math.ceil(rate))  # never more than a second of catch-up
        origin = loop.time()
        done = 0
        while True:
            due = int((loop.time() - origin) * rate) - done
            if due > max_burst:
                # Asleep (suspended laptop, overloaded machine): skip, don't stampede.
                done += due - max_burst
                due = max_burst
            out, self._reactions = self._reactions, []
            for _ in range(max(0, due)):
                out.extend(sim.tick())
            done += max(0, due)
            for batch in _batches(sim, out):
                yield batch
            wait = max(origin + (done + 1) / rate - loop.time(), min_wait)
            if self._reactions:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def deliver(self, delivery: Delivery) -> None:
        decision_id = delivery.decision.id
        if decision_id in self._delivered:
            return  # re-delivery after a crash between delivery and acknowledgement
        sim = self.sim
        if sim is None:
            raise DeliveryError("the simulated swarm is still starting", retryable=True)
        try:
            reaction = sim.on_decision(delivery)
        except UnknownEscalation as exc:
            raise DeliveryError(str(exc), retryable=False) from None
        self._delivered[decision_id] = None
        self.reactions += 1
        while len(self._delivered) > _REMEMBERED_DECISIONS:
            self._delivered.popitem(last=False)
        self._reactions.extend(reaction)
        if self._wake is not None:
            self._wake.set()
        refused = sim.refusal(delivery.decision.escalation)
        if refused is not None:
            # Never "rerouted ✓ delivered" for a task that stayed where it was: the
            # delivery fails for good, saying why, and the agent asks again.
            raise DeliveryError(refused, retryable=False)


def _batches(sim: Simulation, events: list[Event]) -> list[Batch]:
    """``events`` in bounded batches, each saving the position; the last one saves the
    world as it is after all of them (earlier ones clear it: a crash between two of
    them must not leave a world ahead of the store)."""
    if not events:
        return []
    position = sim.position()
    world = persistence.dumps(sim)
    starts = range(0, len(events), _BATCH_EVENTS)
    return [
        Batch(
            events[start : start + _BATCH_EVENTS],
            position={**position, "world": world if start == starts[-1] else ""},
        )
        for start in starts
    ]


async def _left_open(
    store: Store, origin: str
) -> tuple[list[str], list[UnfinishedTask], list[str]]:
    """What an earlier run of ``origin`` left open: escalations, unfinished tasks, agents."""
    return (
        await open_escalation_ids(store, origin),
        await unfinished_tasks(store, origin),
        await active_agent_names(store, origin),
    )


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
