"""The simulated swarm as a pure model: calls in, validated events out.

:class:`Simulation` never sleeps and does no I/O; the clock is injected and read once
per call. Same seed, same calls, same clock values: the same events, ids included.

It decides what happens to the work (an agent's step, trouble, a manager's decision,
a question nobody answered in time); the :class:`~swarmdeck.adapters.demo.swarm.Swarm`
it holds carries the moves every story shares (ready, assigned, done, next).

``tick()`` costs O(events it produces), not O(agents): the world is a round-robin
queue of running tasks plus per-role pools of free agents and ready tasks, so a
10,000-agent swarm ticks as cheaply as a 12-agent one.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable, Sequence

from swarmdeck.adapters.demo import narration
from swarmdeck.adapters.demo.catalogue import DEFAULT_PRICE, PRICES
from swarmdeck.adapters.demo.emitter import Emitter
from swarmdeck.adapters.demo.swarm import Swarm
from swarmdeck.adapters.demo.world import SimAgent, SimEscalation, SimTask, UnknownEscalation
from swarmdeck.store.events import Event
from swarmdeck.store.models import Decision, Delivery

#: Ticks a low-severity question or approval waits before the agent decides for itself
#: (normal-severity ones, and failures a retry may fix, wait twice as long): about five
#: and ten minutes at the default pace. High and critical ones wait for a person.
_SELF_ANSWER_TICKS = 1200


class Simulation:
    """A deterministic swarm of AI agents.

    Filling a store deterministically (e.g. for snapshot tests)::

        FIXED = 1_795_000_000.0
        sim = Simulation(seed=7, agents=12, clock=lambda: FIXED)
        events = sim.initial_events() + sim.advance(200)   # advance(n) == n calls of tick()
        await store.append(events, origin="demo")

    Args:
        seed: the world's random seed.
        agents: how many agents (planner, coder, reviewer and tester, about
            15/45/20/20%).
        clock: wall-clock seconds; read once per call to stamp its events.
        run: which run of this simulation against one database (0, 1, ...). It
            goes into every event id, so a restarted demo never repeats ids.
        first_workflow: number of the first workflow (``release-42``); a restart
            continues from :meth:`position`.
        first_escalation: number of the first escalation (``demo-1``), likewise.
        source: the ``source`` of every event, and the escalation id prefix.
        workflows: workflows kept in flight (default: one per four agents).

    Methods return lists of validated :data:`swarmdeck.store.events.Event` objects, in order.
    """

    def __init__(
        self,
        seed: int = 42,
        agents: int = 12,
        clock: Callable[[], float] | None = None,
        *,
        run: int = 0,
        first_workflow: int = 42,
        first_escalation: int = 1,
        source: str = "demo",
        workflows: int | None = None,
    ) -> None:
        if agents < 1:
            raise ValueError("a swarm needs at least one agent")
        self.seed = seed
        self.run = run
        self.source = source
        self._emit = Emitter(source, f"{seed}-{run}-", clock if clock is not None else _wall_clock)
        self._rng = random.Random(f"swarmdeck-demo:{seed}:{run}")
        self._swarm = Swarm(
            self._rng,
            self._emit,
            agents=agents,
            target_workflows=workflows if workflows is not None else max(1, round(agents / 4)),
            next_workflow=first_workflow,
            next_escalation=first_escalation,
        )
        self._tick = 0
        #: Decisions that could not be carried out as asked, by escalation: why.
        self.refusals: dict[str, str] = {}
        #: Agents let go of failed tasks this tick (see :meth:`_release`).
        self._pending_release: list[tuple[SimAgent, SimTask]] = []
        self._timers: list[tuple[int, int, str, str]] = []
        self._timer_seq = 0
        self._started = False

    # ------------------------------------------------------------------ public API

    def initial_events(self) -> list[Event]:
        """The world as it starts: every agent, the first workflows, their tasks."""
        self._emit.begin()
        out: list[Event] = []
        for agent in self._swarm.roster.agents.values():
            self._emit.event(
                out,
                "agent.seen",
                {"name": agent.name, "role": agent.role, "model": agent.model, "host": agent.host},
                agent=agent.name,
            )
        self._started = True
        for i in range(self._swarm.target_workflows):
            self._swarm.start_workflow(out, first=(i == 0))
        for agent in self._swarm.roster.agents.values():
            if agent.task is None:
                self._emit.status(out, agent, "idle", "idle: waiting for work")
        return out

    def tick(self) -> list[Event]:
        """Advance the world by one agent update (plus any timers that fall due)."""
        if not self._started:
            raise RuntimeError("call initial_events() before tick()")
        self._emit.begin()
        self._tick += 1
        self._swarm.tick = self._tick
        out: list[Event] = []
        self._fire_timers(out)
        for agent, t in self._pending_release:
            self._swarm.free_agent(out, agent, f"left {t.id} failed for a manager; next task")
        self._pending_release.clear()
        task = self._swarm.next_running()
        if task is not None:
            self._step(task, out)
        self._swarm.feed(out)
        return out

    def advance(self, ticks: int) -> list[Event]:
        """``ticks`` calls of :meth:`tick`, concatenated."""
        return [e for _ in range(ticks) for e in self.tick()]

    def on_decision(self, delivery: Delivery) -> list[Event]:
        """React to a manager's decision delivered from the outbox.

        Decisions on escalations swarmdeck raised about an agent (guardrail, budget,
        policy) act on the task when it is ours, and are otherwise noted in the log.

        Raises:
            UnknownEscalation: a demo escalation that does not belong to this run.
        """
        d = delivery.decision
        try:
            return self.decide(
                d.escalation,
                d.action,
                reason=d.reason,
                target=d.target,
                answer=d.answer,
                actor=d.actor,
                task=delivery.escalation.task,
            )
        except UnknownEscalation:
            if delivery.escalation.source == self.source:
                raise  # ours, from an earlier run: nobody is waiting for it
        # Raised by swarmdeck itself about this agent (a guardrail hit, a budget, a
        # policy step) with no task of ours to act on: the agent takes note.
        self._emit.begin()
        out: list[Event] = []
        detail = f": {d.reason}" if d.reason else ""
        self._emit.event(
            out,
            "log",
            {
                "level": "info",
                "text": f"{d.actor} decided {d.action} on "
                f"{delivery.escalation.kind} {d.escalation!r}{detail}",
            },
            agent=delivery.escalation.agent,
        )
        return out

    def decide(
        self,
        escalation: str,
        action: str,
        *,
        reason: str | None = None,
        target: str | None = None,
        answer: str | None = None,
        actor: str = "a manager",
        task: str | None = None,
    ) -> list[Event]:
        """React to a decision given by its parts (what :meth:`on_decision` calls).

        ``task`` locates the work when the escalation is not one this simulation
        raised (swarmdeck raises synthetic ones when a manager acts on a task).

        Raises:
            UnknownEscalation: neither the escalation nor the task belongs to this run.
        """
        self._emit.begin()
        out: list[Event] = []
        esc = self._swarm.open.pop(escalation, None)
        if esc is None:
            esc = self._synthetic_escalation(out, escalation, action, actor, task)
        t = esc.task
        t.escalation = None
        if t.state in ("done", "cancelled") or t.workflow.done:
            self._emit.log(
                out, t, "info", f"{actor} decided {action} on {t.id}, which already ended"
            )
            return out
        if t.state == "pending":
            self._emit.log(
                out, t, "info", f"{actor} decided {action} on {t.id}, which has not started"
            )
            return out
        if t.kind == "gate":
            self._gate_decision(out, t, action, reason, actor)
        elif action == "approve":
            self._approve(out, esc, actor)
        elif action == "answer":
            text = (answer or "").strip() or (esc.options[0] if esc.options else "go ahead")
            self._emit.log(out, t, "info", f"{actor} answered: {text}")
            self._swarm.resume(out, t, f"using the answer: {text}")
        elif action == "reject":
            self._reject(out, esc, reason or "no reason given", actor)
        elif action == "retry":
            self._swarm.restart(out, t, f"retrying {t.id} as {actor} asked")
        elif action == "reroute":
            self._reroute(out, esc, target or "", reason or "", actor)
        else:
            self._emit.log(out, t, "warning", f"ignoring unknown action {action!r} from {actor}")
            self._swarm.resume(out, t, f"continuing {t.title}")
        return out

    def retire(
        self,
        escalations: Sequence[str],
        tasks: Sequence[tuple[str, str | None]],
        agents: Sequence[str],
    ) -> list[Event]:
        """Close what an earlier run left open in the store (call before initial_events).

        Args:
            escalations: ids of open escalations raised by the earlier run: withdrawn.
            tasks: ``(task id, workflow)`` still pending or running: failed, not retryable.
            agents: agents of the earlier run that this run does not simulate: offline.
        """
        self._emit.begin()
        out: list[Event] = []
        why = f"the simulated swarm restarted (run {self.run})"
        for esc_id in escalations:
            self._emit.event(out, "escalation.withdrawn", {"id": esc_id, "reason": why})
        for task_id, workflow in tasks:
            self._emit.event(
                out,
                "task.failed",
                {"error": f"abandoned: {why}", "retryable": False},
                task=task_id,
                workflow=workflow,
            )
        for name in agents:
            if name not in self._swarm.roster.agents:
                self._emit.event(
                    out, "agent.status", {"state": "offline", "activity": why}, agent=name
                )
        return out

    def resume_events(
        self, orphans: list[str], delivered: list[Decision], gone: list[str]
    ) -> list[Event]:
        """What a world restored after a restart says first (call instead of
        :meth:`initial_events`): it carries on, withdrawing what the store holds open
        but it does not know, and applying decisions that were delivered but whose
        reaction was lost with the previous process."""
        self._emit.begin()
        out: list[Event] = []
        why = f"the simulated swarm restarted (run {self.run}) without this request"
        for esc_id in orphans:
            self._emit.event(out, "escalation.withdrawn", {"id": esc_id, "reason": why})
        for esc_id in gone:
            esc = self._swarm.open.pop(esc_id, None)
            if esc is not None:
                esc.task.escalation = None
                self._swarm.resume(out, esc.task, f"carrying on with {esc.task.title}")
        for d in delivered:
            out += self.decide(
                d.escalation, d.action, reason=d.reason, target=d.target, answer=d.answer,
                actor=d.actor,
            )  # fmt: skip
        self._emit.event(
            out,
            "log",
            {
                "level": "info",
                "text": f"the simulated swarm carries on after a restart (run {self.run}): "
                f"{len(self._swarm.active)} workflows, {len(self._swarm.open)} requests open",
            },
        )
        return out

    def position(self) -> dict[str, str]:
        """What a restart needs to continue without reusing names (saved with events)."""
        return {
            "run": str(self.run),
            "next_workflow": str(self._swarm.next_workflow),
            "next_escalation": str(self._swarm.next_escalation),
        }

    @property
    def agent_count(self) -> int:
        return len(self._swarm.roster.agents)

    @property
    def open_escalations(self) -> list[str]:
        """Ids of escalations raised and still waiting for a decision, oldest first."""
        return list(self._swarm.open)

    # ------------------------------------------------------------------ timers

    def _schedule(self, ticks: int, what: str, key: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (self._tick + ticks, self._timer_seq, what, key))

    def _fire_timers(self, out: list[Event]) -> None:
        while self._timers and self._timers[0][0] <= self._tick:
            _, _, what, key = heapq.heappop(self._timers)
            if what == "self-answer":
                self._self_answer(out, key)
            elif what == "release":
                self._release(key)
            elif what == "regate":
                gate = self._swarm.tasks.get(key)
                if gate is not None and gate.state == "blocked" and gate.escalation is None:
                    self._swarm.raise_gate(out, gate, again=True)

    def _release(self, esc_id: str) -> None:
        """A failure nobody has looked at for a while: its agent moves on to other work and
        the task waits, failed, for the manager's decision (any agent of the role picks
        it up on a retry). Nothing is emitted here: the freed agent says what it does
        next at its next step, and the inbox still holds the failure."""
        esc = self._swarm.open.get(esc_id)
        if esc is None or esc.kind != "failure":
            return
        t = esc.task
        agent = t.agent
        if agent is None or agent.task is not t or t.state != "failed":
            return
        t.agent = None
        self._pending_release.append((agent, t))

    def _self_answer(self, out: list[Event], esc_id: str) -> None:
        """Nobody answered a small question in time: the agent decides for itself."""
        esc = self._swarm.open.pop(esc_id, None)
        if esc is None:
            return  # somebody decided in time
        t = esc.task
        t.escalation = None
        if esc.kind == "failure":
            why = "no decision after a while; retrying on its own"
            self._emit.event(
                out,
                "escalation.withdrawn",
                {"id": esc_id, "reason": why},
                agent=t.agent.name if t.agent else None,
                task=t.id,
                workflow=t.workflow.name,
            )
            self._swarm.restart(out, t, f"no decision on {t.id}; retrying")
            return
        if esc.kind == "question":
            choice = esc.options[0] if esc.options else "the default"
            why = f"no answer after a while; went with {choice!r}"
            activity = f"no answer yet; going with {choice}"
        elif esc.kind == "budget":
            why = "no decision on the budget after a while; finishing with fewer tokens"
            activity = "no budget decision; finishing with a smaller context"
        else:
            why = "no approval after a while; found another way"
            activity = f"skipped: {esc.title.rstrip('?')}; found another way"
        self._emit.event(
            out,
            "escalation.withdrawn",
            {"id": esc_id, "reason": why},
            agent=t.agent.name if t.agent else None,
            task=t.id,
            workflow=t.workflow.name,
        )
        self._swarm.resume(out, t, activity)

    # ------------------------------------------------------------------ one agent update

    def _step(self, t: SimTask, out: list[Event]) -> None:
        agent = t.agent
        assert agent is not None
        rng = self._rng
        t.step += 1
        if t.trouble is not None and t.step >= t.trouble_step:
            kind, t.trouble = t.trouble, None
            self._raise(out, t, kind)
            return
        activity = narration.activity(rng, t)
        wf = t.workflow.name
        self._emit.status(out, agent, "working", activity, t)
        if t.step >= t.steps:
            self._usage(out, t)
            self._swarm.complete(out, t, narration.result(rng, t))
            return
        self._emit.event(
            out,
            "task.progress",
            {"note": activity, "pct": round(100.0 * t.step / t.steps, 1)},
            agent=agent.name,
            task=t.id,
            workflow=wf,
        )
        if rng.random() < 0.5:
            self._usage(out, t)
        if rng.random() < 0.12:
            level = "debug" if rng.random() < 0.5 else "info"
            self._emit.log(out, t, level, narration.log_text(rng, t))
        self._swarm.enqueue(t)

    def _usage(self, out: list[Event], t: SimTask) -> None:
        agent = t.agent
        if agent is None:
            return
        rng = self._rng
        tokens_in = rng.randint(1_500, 14_000)
        tokens_out = rng.randint(150, 2_500)
        price_in, price_out = PRICES.get(agent.model, DEFAULT_PRICE)
        cost = round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)
        agent.tokens += tokens_in + tokens_out
        self._emit.event(
            out,
            "usage",
            {"tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost},
            agent=agent.name,
            task=t.id,
            workflow=t.workflow.name,
        )

    # ------------------------------------------------------------------ trouble

    def _raise(self, out: list[Event], t: SimTask, kind: str) -> None:
        agent = t.agent
        assert agent is not None
        trouble = narration.describe_trouble(self._rng, kind, t, agent)
        t.forced_question = False
        if trouble.tokens is not None:
            agent.tokens = trouble.tokens
        targets: list[str] | None = None
        if trouble.kind == "failure":
            t.error = trouble.error
            targets = self._swarm.roster.reroute_targets(agent)
        esc_id = self._swarm.new_escalation_id()
        wf = t.workflow.name
        if trouble.kind == "failure":
            t.state = "failed"
            self._emit.event(
                out,
                "task.failed",
                {"error": t.error or "failed", "retryable": trouble.retryable},
                agent=agent.name,
                task=t.id,
                workflow=wf,
            )
        else:
            t.state = "blocked"
        data: dict[str, object] = {
            "id": esc_id,
            "kind": trouble.kind,
            "title": trouble.title,
            "body": trouble.body,
            "severity": trouble.severity,
        }
        if trouble.options:
            data["options"] = list(trouble.options)
        if trouble.deadline:
            data["deadline"] = trouble.deadline
        if targets:
            data["reroute_targets"] = targets
        self._emit.event(out, "escalation.raised", data, agent=agent.name, task=t.id, workflow=wf)
        if trouble.kind == "failure":
            activity = f"failed: {t.error}; waiting for a decision"
            self._emit.status(out, agent, "failed", activity, t)
        elif trouble.kind == "question":
            self._emit.status(out, agent, "blocked", f"waiting for an answer: {trouble.title}", t)
        else:
            self._emit.status(out, agent, "blocked", f"{trouble.waiting}: {trouble.title}", t)
        t.escalation = esc_id
        self._swarm.open[esc_id] = SimEscalation(
            esc_id, trouble.kind, trouble.title, t, trouble.options, trouble.severity, trouble.body
        )
        # Agents do not wait forever on small things: a demo nobody answers keeps moving
        # (high and critical ones, and failures, wait for a person).
        severity = trouble.severity
        if (
            (trouble.kind == "question" and severity in ("low", "normal"))
            or (trouble.kind == "approval" and severity in ("low", "normal"))
            or (trouble.kind == "failure" and severity in ("low", "normal") and trouble.retryable)
            or (trouble.kind == "budget" and severity == "normal")
        ):
            wait = _SELF_ANSWER_TICKS * (1 if severity == "low" else 2)
            self._schedule(wait, "self-answer", esc_id)
        if trouble.kind == "failure":
            self._schedule(_SELF_ANSWER_TICKS, "release", esc_id)

    # ------------------------------------------------------------------ decisions

    def _synthetic_escalation(
        self, out: list[Event], escalation: str, action: str, actor: str, task: str | None
    ) -> SimEscalation:
        """A decision on an escalation swarmdeck raised about one of our tasks (a retry or
        reroute from the workflow pane, a policy step): act on the task itself."""
        t = self._swarm.tasks.get(task) if task else None
        if t is None:
            raise UnknownEscalation(
                f"escalation {escalation!r} is not from this run of the simulation "
                f"(run {self.run}); nobody is waiting for it"
            )
        if t.escalation is not None:
            # A decision on the task supersedes the agent's own open question.
            own = self._swarm.open.pop(t.escalation, None)
            self._emit.event(
                out,
                "escalation.withdrawn",
                {"id": t.escalation, "reason": f"superseded by {actor}'s {action}"},
                agent=t.agent.name if t.agent else None,
                task=t.id,
                workflow=t.workflow.name,
            )
            kind = own.kind if own is not None else "approval"
        else:
            kind = "failure" if t.state == "failed" else "approval"
        return SimEscalation(escalation, kind, f"{action} {t.id}", t)

    def _refuse_reroute(
        self, out: list[Event], esc: SimEscalation, target: str, actor: str
    ) -> None:
        """A reroute that cannot move the task: say so (to the log, and through
        :meth:`refusal` to the manager, as a failed delivery) and ask again, so the task
        keeps waiting for a decision instead of being retried where it was."""
        t = esc.task
        current = t.agent
        roster = self._swarm.roster
        role = roster.role_of(target)
        if role is not None and current is not None and current.role == role:
            why = f"{current.name} is the only {role}: nobody else can take {t.id}"
        elif role is not None:
            why = f"no {role} is free or able to take {t.id}"
        else:
            why = f"no agent or role is named {target!r}"
        self.refusals[esc.id] = f"not rerouted: {why}; asked again"
        self._emit.log(out, t, "warning", f"{actor} rerouted {t.id} to {target!r}: {why}")
        esc_id = self._swarm.new_escalation_id()
        targets = roster.reroute_targets(current) if current is not None else []
        data: dict[str, object] = {
            "id": esc_id,
            "kind": esc.kind,
            "title": esc.title,
            "body": f"Rerouting to {target} did not work: {why}. Decide again: "
            + (
                "retry it, accept it, or reroute it elsewhere."
                if esc.kind == "failure"
                else "approve, reject or reroute it elsewhere."
            ),
            "severity": esc.severity,
        }
        if esc.options:
            data["options"] = list(esc.options)
        if targets:
            data["reroute_targets"] = targets
        self._emit.event(
            out,
            "escalation.raised",
            data,
            agent=current.name if current else None,
            task=t.id,
            workflow=t.workflow.name,
        )
        t.escalation = esc_id
        self._swarm.open[esc_id] = SimEscalation(
            esc_id, esc.kind, esc.title, t, esc.options, esc.severity, esc.body
        )

    def refusal(self, escalation: str) -> str | None:
        """Why the decision on ``escalation`` could not be carried out as asked (once)."""
        return self.refusals.pop(escalation, None)

    def _gate_decision(
        self, out: list[Event], t: SimTask, action: str, reason: str | None, actor: str
    ) -> None:
        wf = t.workflow
        if action == "approve":
            self._emit.log(out, t, "info", f"{actor} approved {wf.name} for production")
            self._swarm.complete(out, t, f"approved by {actor}")
        elif action == "reject":
            why = reason or "no reason given"
            t.state = "failed"
            self._emit.event(
                out,
                "task.failed",
                {"error": f"rejected by {actor}: {why}", "retryable": False},
                task=t.id,
                workflow=wf.name,
            )
            self._swarm.stop_workflow(out, wf, f"{wf.name} will not ship: {why}")
        else:
            self._emit.log(
                out, t, "info", f"{actor} chose {action} at the gate; asking again shortly"
            )
            self._schedule(5, "regate", t.id)

    def _approve(self, out: list[Event], esc: SimEscalation, actor: str) -> None:
        t = esc.task
        if esc.kind == "failure":
            self._emit.log(out, t, "info", f"{actor} accepted {t.id} despite: {t.error}")
            if t.agent is not None:
                self._emit.status(out, t.agent, "working", f"wrapping up {t.id} as accepted", t)
            self._swarm.complete(out, t, f"accepted by {actor} despite: {t.error}")
            return
        if esc.kind == "budget" and t.agent is not None:
            self._emit.log(out, t, "info", f"{actor} raised {t.agent.name}'s token budget by 50%")
            self._swarm.resume(out, t, "budget raised; continuing")
            return
        self._emit.log(out, t, "info", f"{actor} approved: {esc.title}")
        self._swarm.resume(out, t, f"approved by {actor}: {esc.title.rstrip('?')}")

    def _reject(self, out: list[Event], esc: SimEscalation, reason: str, actor: str) -> None:
        t = esc.task
        if esc.kind in ("failure", "budget"):
            t.state = "failed"
            error = f"stopped by {actor}: {reason}"
            if esc.kind == "budget":
                self._emit.event(
                    out,
                    "task.failed",
                    {"error": error, "retryable": True},
                    agent=t.agent.name if t.agent else None,
                    task=t.id,
                    workflow=t.workflow.name,
                )
            self._emit.log(out, t, "warning", f"giving up on {t.id}: {reason}")
            agent = t.agent
            if agent is not None and agent.task is t:
                self._swarm.free_agent(out, agent, f"gave up on {t.id}: {reason}")
            self._swarm.stop_workflow(out, t.workflow, f"{t.id} was abandoned: {reason}")
            return
        # Approval, question, guardrail: do it another way.
        t.steps += self._rng.randint(1, 3)
        t.step = max(0, t.step - 1)
        self._emit.log(out, t, "warning", f"{actor} rejected {esc.title!r}: re-planning: {reason}")
        self._emit.event(
            out,
            "task.progress",
            {"note": f"re-planning: {reason}", "pct": round(100.0 * t.step / t.steps, 1)},
            agent=t.agent.name if t.agent else None,
            task=t.id,
            workflow=t.workflow.name,
        )
        self._swarm.resume(out, t, f"re-planning: {reason}")

    def _reroute(
        self, out: list[Event], esc: SimEscalation, target: str, reason: str, actor: str
    ) -> None:
        t = esc.task
        current = t.agent
        dest = self._swarm.roster.resolve_target(target, current)
        if dest is None or dest is current:
            self._refuse_reroute(out, esc, target, actor)
            return
        wf = t.workflow.name
        why = f": {reason}" if reason else ""
        self._emit.event(
            out,
            "task.handoff",
            {"to_agent": dest.name},
            agent=current.name if current else None,
            task=t.id,
            workflow=wf,
        )
        self._emit.log(out, t, "info", f"{actor} rerouted {t.id} to {dest.name}{why}")
        t.state = "ready"
        t.agent = None
        t.trouble = None
        t.step = 0
        if current is not None and current.task is t:
            self._swarm.free_agent(out, current, f"handed {t.id} to {dest.name}")
        if dest.task is None:
            source = current.name if current else "the queue"
            self._swarm.assign(out, t, dest, f"picked up {t.id} from {source}{why}")
        else:
            dest.backlog.append(t)
            note = f"queued: {dest.name} picks it up after finishing {dest.task.id}"
            self._emit.event(
                out, "task.progress", {"note": note, "pct": 0.0}, task=t.id, workflow=wf
            )
            self._emit.log(out, t, "info", note)


def _wall_clock() -> float:
    return time.time()
