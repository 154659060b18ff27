"""The simulated world's objects: agents, workflows, their tasks, and escalations waiting.

Mutable on purpose: the simulation moves tasks between states in place. Compared by
identity (``eq=False``), since two tasks with equal fields are still two tasks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from swarmdeck.adapters.demo.catalogue import Feature


class UnknownEscalation(LookupError):
    """A decision names an escalation (and task) this simulation run knows nothing about."""


@dataclass(eq=False, slots=True)
class SimAgent:
    name: str
    role: str
    model: str
    host: str
    task: SimTask | None = None
    #: Tasks rerouted to this agent while it was busy, picked up before the role's queue.
    backlog: deque[SimTask] = field(default_factory=deque)
    tokens: int = 0


@dataclass(eq=False, slots=True)
class SimWorkflow:
    name: str
    template: str
    features: list[Feature]
    tasks: list[SimTask] = field(default_factory=list)
    done: bool = False


@dataclass(eq=False, slots=True)
class SimTask:
    id: str
    kind: str
    role: str
    title: str
    workflow: SimWorkflow
    feature: Feature
    steps: int
    deps: list[str] = field(default_factory=list)
    deps_left: int = 0
    dependents: list[SimTask] = field(default_factory=list)
    #: pending, ready, running, blocked, failed, done, cancelled
    state: str = "pending"
    agent: SimAgent | None = None
    step: int = 0
    attempt: int = 0
    trouble: str | None = None
    trouble_step: int = 0
    forced_question: bool = False
    escalation: str | None = None
    error: str | None = None
    in_runq: bool = False


@dataclass(slots=True)
class SimEscalation:
    """An escalation raised and still waiting for a decision."""

    id: str
    kind: str
    title: str
    task: SimTask
    options: tuple[str, ...] | None = None
    severity: str = "normal"
    body: str = ""
