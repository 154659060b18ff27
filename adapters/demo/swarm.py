"""The simulated world's mechanics: how work moves from plan to production.

:class:`Swarm` owns the world's state (agents, workflows, tasks, open escalations)
and the moves every story shares: a task becomes ready, an agent takes it, finishes
it or lets it go, its dependents become ready, a workflow ends and another starts.
What happens *to* the work (trouble, decisions, timers) is the
:class:`~swarmdeck.adapters.demo.simulation.Simulation`'s part.

Every move appends the events it causes to ``out``, in the order they happen.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque

from swarmdeck.adapters.demo import narration
from swarmdeck.adapters.demo.catalogue import HOTFIX_TEMPLATE, ROLES, TROUBLE, Template
from swarmdeck.adapters.demo.emitter import Emitter
from swarmdeck.adapters.demo.planning import plan_workflow, workflow_graph
from swarmdeck.adapters.demo.roster import Roster
from swarmdeck.adapters.demo.world import SimAgent, SimEscalation, SimTask, SimWorkflow
from swarmdeck.store.events import Event

#: Finished workflows remembered (so late decisions on their tasks still find them).
_KEEP_FINISHED = 500
#: Ticks a workflow waits at its human gate before a newer one may take its place.
_MIN_PARKED_TICKS = 600
#: New work is considered every this many ticks.
_FEED_EVERY = 4


class Swarm:
    """The world's state and the moves that change it.

    Args:
        rng: the simulation's generator, shared (one seeded sequence for the world).
        emit: the simulation's emitter, shared (one id counter for the run).
        agents: how many agents.
        target_workflows: workflows kept in flight.
        next_workflow: number of the next workflow started.
        next_escalation: number of the next escalation raised.
    """

    def __init__(
        self,
        rng: random.Random,
        emit: Emitter,
        *,
        agents: int,
        target_workflows: int,
        next_workflow: int,
        next_escalation: int,
    ) -> None:
        self._rng = rng
        self._emit = emit
        self.target_workflows = target_workflows
        self.next_workflow = next_workflow
        self.next_escalation = next_escalation
        #: Every task still remembered, by id.
        self.tasks: dict[str, SimTask] = {}
        #: Workflows in flight, oldest first.
        self.active: OrderedDict[str, SimWorkflow] = OrderedDict()
        #: Escalations raised and not yet decided, withdrawn or answered, oldest first.
        self.open: dict[str, SimEscalation] = {}
        self._ready: dict[str, deque[SimTask]] = {r: deque() for r in ROLES}
        self._runq: deque[SimTask] = deque()
        self._finished: deque[SimWorkflow] = deque()
        #: Workflows waiting at their human gate, oldest first, with the tick they began.
        self.parked: OrderedDict[str, tuple[SimWorkflow, int]] = OrderedDict()
        #: The simulation's tick (it keeps the clock; the swarm only reads it).
        self.tick = 0
        self.roster = Roster(rng, agents)

    # ------------------------------------------------------------------ workflows

    def start_workflow(
        self, out: list[Event], *, first: bool = False, template: Template | None = None
    ) -> None:
        """Plan the next workflow, announce it and its tasks, and make its first step ready
        (its plan; a hotfix's code)."""
        number = self.next_workflow
        self.next_workflow += 1
        wf = plan_workflow(self._rng, number, self.roster.role_map, first=first, template=template)
        for t in wf.tasks:
            self.tasks[t.id] = t
        self._emit.event(out, "workflow.defined", workflow_graph(wf), workflow=wf.name)
        for t in wf.tasks:
            self._emit.event(
                out,
                "task.created",
                {"title": t.title, "depends_on": t.deps},
                task=t.id,
                workflow=wf.name,
            )
        self.active[wf.name] = wf
        for t in wf.tasks:
            if not t.deps:
                self.make_ready(out, t)

    def feed(self, out: list[Event]) -> None:
        """Work keeps arriving while there are hands for it: a free planner with no plan
        waiting starts the next workflow; free coders with no code waiting (the planners
        are busy, or stuck on a question) get a hotfix, which needs no plan. At most four
        times the target in flight (workflows parked at a human gate do not count: nobody
        works on them; those stuck on an escalation do, but each holds an agent), and
        never with too many parked."""
        if self.tick % _FEED_EVERY:
            return  # work arrives at a steady pace, not in one burst (10,000 free agents)
        self.release_train(out)
        in_flight = len(self.active) - len(self.parked)
        if in_flight >= 4 * self.target_workflows or len(self.parked) > 2 * self.target_workflows:
            return
        planner = self.roster.role_map["planner"]
        coder = self.roster.role_map["coder"]
        if self.roster.has_free(planner) and not self._ready[planner]:
            self.start_workflow(out)
        elif self.roster.has_free(coder) and not self._ready[coder]:
            self.start_workflow(out, template=HOTFIX_TEMPLATE)

    def finish_workflow(self, out: list[Event], wf: SimWorkflow) -> None:
        """The workflow ended (shipped or stopped): start another if too few are in flight."""
        wf.done = True
        self.active.pop(wf.name, None)
        self.parked.pop(wf.name, None)
        self._finished.append(wf)
        while len(self._finished) > _KEEP_FINISHED:
            old = self._finished.popleft()
            for t in old.tasks:
                self.tasks.pop(t.id, None)
        if len(self.active) < self.target_workflows:
            self.start_workflow(out)

    def stop_workflow(self, out: list[Event], wf: SimWorkflow, why: str) -> None:
        """End a workflow early: cancel what has not run, withdraw what still waits."""
        wf.done = True  # freed agents must not pick up this workflow's remaining tasks
        for t in wf.tasks:
            if t.state in ("done", "failed", "cancelled"):
                continue
            if t.escalation is not None:
                self.open.pop(t.escalation, None)
                self._emit.event(
                    out,
                    "escalation.withdrawn",
                    {"id": t.escalation, "reason": f"cancelled: {why}"},
                    task=t.id,
                    workflow=wf.name,
                )
                t.escalation = None
            agent = t.agent
            t.state = "cancelled"
            self._emit.event(
                out,
                "task.failed",
                {"error": f"cancelled: {why}", "retryable": False},
                agent=agent.name if agent else None,
                task=t.id,
                workflow=wf.name,
            )
            if agent is not None and agent.task is t:
                self.free_agent(out, agent)
        self._emit.workflow_log(out, wf, "warning", f"{wf.name} stopped: {why}")
        self.finish_workflow(out, wf)

    # ------------------------------------------------------------------ scheduling

    def make_ready(self, out: list[Event], t: SimTask) -> None:
        """The task can run: the longest-idle agent of its role takes it, or it queues."""
        t.state = "ready"
        t.agent = None
        agent = self.roster.take_free(t.role)
        if agent is not None:
            self.assign(out, t, agent)
        else:
            self._ready[t.role].append(t)

    def assign(self, out: list[Event], t: SimTask, agent: SimAgent, activity: str = "") -> None:
        """``agent`` starts ``t``; on a first attempt, the trouble it will hit is rolled."""
        self.roster.mark_busy(agent)
        t.agent = agent
        t.state = "running"
        t.step = 0
        t.attempt += 1
        agent.task = t
        if t.attempt == 1:
            self._roll_trouble(t)
        wf = t.workflow.name
        self._emit.event(out, "task.started", {}, agent=agent.name, task=t.id, workflow=wf)
        self._emit.status(out, agent, "working", activity or f"starting: {t.title}", t)
        self.enqueue(t)

    def enqueue(self, t: SimTask) -> None:
        """Give the running task a turn in the round robin (once, however often asked)."""
        if not t.in_runq:
            t.in_runq = True
            self._runq.append(t)

    def next_running(self) -> SimTask | None:
        """The next task due for a step; tasks that stopped running meanwhile drop out."""
        while self._runq:
            t = self._runq.popleft()
            t.in_runq = False
            if t.state == "running" and t.agent is not None and t.agent.task is t:
                return t
        return None

    def free_agent(self, out: list[Event], agent: SimAgent, activity: str = "") -> None:
        """The agent finished or let go of its task: give it the next piece of work."""
        agent.task = None
        while agent.backlog:
            t = agent.backlog.popleft()
            if t.state == "ready" and t.agent is None and not t.workflow.done:
                self.assign(out, t, agent, f"picked up {t.id}")
                return
        queue = self._ready[agent.role]
        while queue:
            t = queue.popleft()
            if t.state == "ready" and t.agent is None and not t.workflow.done:
                self.assign(out, t, agent)
                return
        self.roster.mark_free(agent)
        self._emit.status(out, agent, "idle", activity or "idle: waiting for work")

    def _roll_trouble(self, t: SimTask) -> None:
        rng = self._rng
        if t.forced_question:
            t.trouble, t.trouble_step = "question", 2
            return
        chance, mix = TROUBLE.get(t.kind, (0.0, ()))
        if mix and rng.random() < chance:
            kinds = [k for k, _ in mix]
            t.trouble = rng.choices(kinds, weights=[w for _, w in mix])[0]
            t.trouble_step = rng.randint(1, max(1, t.steps - 1))

    # ------------------------------------------------------------------ progress

    def complete(self, out: list[Event], t: SimTask, result: str) -> None:
        """The task is done: its agent moves on, dependents whose inputs are all done
        become ready (a gate asks a human), and a deploy ends its workflow."""
        t.state = "done"
        wf = t.workflow
        if t.kind == "gate":
            self.parked.pop(wf.name, None)  # approved: it goes on to deploy
        agent = t.agent
        self._emit.event(
            out,
            "task.completed",
            {"result": result},
            agent=agent.name if agent else None,
            task=t.id,
            workflow=wf.name,
        )
        if agent is not None and agent.task is t:
            self.free_agent(out, agent, f"finished {t.id}; waiting for work")
        for d in t.dependents:
            d.deps_left -= 1
            if d.deps_left <= 0 and d.state == "pending":
                if d.kind == "gate":
                    self.open_gate(out, d)
                else:
                    self.make_ready(out, d)
        if t.kind == "deploy":
            self._emit.log(out, t, "info", f"{wf.name} shipped to production")
            self.finish_workflow(out, wf)

    def resume(self, out: list[Event], t: SimTask, activity: str) -> None:
        """Unblock a task: its agent goes back to work on it (or it waits for one)."""
        agent = t.agent
        if agent is None or agent.task is not t:
            self.make_ready(out, t)
            return
        was_failed = t.state == "failed"
        t.state = "running"
        if was_failed:
            self._emit.event(
                out, "task.started", {}, agent=agent.name, task=t.id, workflow=t.workflow.name
            )
        self._emit.status(out, agent, "working", activity, t)
        self.enqueue(t)

    def restart(self, out: list[Event], t: SimTask, activity: str) -> None:
        """Start the task over (a retry): a new attempt, from step zero."""
        agent = t.agent
        t.trouble = None
        if agent is None or agent.task is not t:
            t.step = 0
            self.make_ready(out, t)
            return
        t.state = "running"
        t.step = 0
        t.attempt += 1
        self._emit.event(
            out, "task.started", {}, agent=agent.name, task=t.id, workflow=t.workflow.name
        )
        self._emit.status(out, agent, "working", f"{activity} (attempt {t.attempt})", t)
        self.enqueue(t)

    # ------------------------------------------------------------------ escalations

    def new_escalation_id(self) -> str:
        esc_id = f"{self._emit.source}-{self.next_escalation}"
        self.next_escalation += 1
        return esc_id

    def open_gate(self, out: list[Event], t: SimTask) -> None:
        """Review and test passed: the human gate blocks and asks to ship.

        A release train: when more workflows wait at their gates than the swarm runs at
        once, the oldest one that has waited a while misses its window and its changes
        roll into a later release (its request is withdrawn, saying so), so an unattended
        demo keeps a bounded inbox and busy agents.
        """
        t.state = "blocked"
        self._emit.event(out, "task.started", {}, task=t.id, workflow=t.workflow.name)
        self.raise_gate(out, t)
        self.parked[t.workflow.name] = (t.workflow, self.tick)
        self.release_train(out)

    def release_train(self, out: list[Event]) -> None:
        """Too many workflows wait at their gates: the oldest that has waited a while
        misses its window, and its changes roll into the newest one waiting."""
        while len(self.parked) > self.target_workflows:
            wf, since = next(iter(self.parked.values()))
            if self.tick - since < _MIN_PARKED_TICKS:
                break
            newest = next(reversed(self.parked))
            self.stop_workflow(
                out, wf, f"nobody approved it in time; its changes roll into {newest}"
            )

    def raise_gate(self, out: list[Event], t: SimTask, *, again: bool = False) -> None:
        wf = t.workflow
        esc_id = self.new_escalation_id()
        title, body = narration.gate_text(self._rng, wf, again=again)
        data = {
            "id": esc_id,
            "kind": "approval",
            "title": title,
            "body": body,
            "severity": "high",
            "deadline": "30m",
        }
        self._emit.event(out, "escalation.raised", data, task=t.id, workflow=wf.name)
        t.escalation = esc_id
        self.open[esc_id] = SimEscalation(esc_id, "approval", title, t, None, "high", body)
