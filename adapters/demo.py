"""The simulated swarm: what every new user sees first, and the load generator.

Two layers:

* :class:`Simulation` is a pure, clock-injected model of a swarm of planner,
  coder, reviewer and tester agents running workflows (plan -> code fan-out ->
  review + test -> human gate -> deploy). It never sleeps and does no I/O; it
  turns calls into events. Same seed, same calls, same clock values: the same
  events, ids included.
* :class:`DemoAdapter` paces a Simulation in real time (``rate`` agent updates a
  second), feeds the manager's decisions into it, and makes restarts against an
  existing database produce fresh ids and names (a new *run*, persisted with the
  events) instead of duplicates that would freeze the world.

Filling a store deterministically (e.g. for snapshot tests)::

    from swarmdeck.adapters.demo import Simulation
    FIXED = 1_795_000_000.0
    sim = Simulation(seed=7, agents=12, clock=lambda: FIXED)
    events = sim.initial_events() + sim.advance(200)   # advance(n) == n calls of tick()
    await store.append(events, origin="demo")

``tick()`` costs O(events it produces), not O(agents): the world is a round-robin
queue of running tasks plus per-role pools of free agents and ready tasks, so a
10,000-agent swarm ticks as cheaply as a 12-agent one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from pydantic import ConfigDict, Field

from swarmdeck.adapters.base import Adapter, AdapterContext, AdapterOptions, Batch, DeliveryError
from swarmdeck.store.events import EVENT_ADAPTER, Event
from swarmdeck.store.models import Delivery

ROLES: tuple[str, ...] = ("planner", "coder", "reviewer", "tester")

#: Share of each role in a swarm; coders are the rest.
_ROLE_SHARE = {"planner": 0.15, "reviewer": 0.2, "tester": 0.2}

#: Role that runs each kind of workflow node (``gate`` has no agent: a human decides).
_NODE_ROLE = {
    "plan": "planner",
    "code": "coder",
    "review": "reviewer",
    "test": "tester",
    "deploy": "tester",
}

_MODELS: dict[str, tuple[str, ...]] = {
    "planner": ("claude-opus-4-1", "gpt-5", "gemini-2.5-pro"),
    "coder": ("claude-sonnet-4-5", "gpt-5-codex", "claude-sonnet-4-5", "qwen3-coder-480b"),
    "reviewer": ("claude-opus-4-1", "gpt-5", "gemini-2.5-pro"),
    "tester": ("claude-haiku-4-5", "gpt-5-mini", "claude-sonnet-4-5"),
}

#: USD per million tokens (in, out), roughly list prices.
_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4-1": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "gpt-5": (1.25, 10.0),
    "gpt-5-codex": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gemini-2.5-pro": (1.25, 10.0),
    "qwen3-coder-480b": (0.45, 1.8),
}

_HOSTS = (
    "build-01",
    "build-02",
    "gpu-a100-1",
    "gpu-a100-2",
    "ci-runner-7",
    "mbp-dana.local",
)


@dataclass(frozen=True, slots=True)
class _Feature:
    name: str
    key: str
    file: str
    test: str


_FEATURES: tuple[_Feature, ...] = (
    _Feature("OAuth login", "oauth", "src/auth/oauth.py", "tests/test_oauth.py"),
    _Feature("session refresh", "session", "src/auth/session.py", "tests/test_session.py"),
    _Feature(
        "rate limiting on /login",
        "ratelimit",
        "src/api/middleware/ratelimit.py",
        "tests/test_ratelimit.py",
    ),
    _Feature("CSV export", "export", "src/reports/export.py", "tests/test_export.py"),
    _Feature(
        "webhook retries", "webhook", "src/integrations/webhooks.py", "tests/test_webhooks.py"
    ),
    _Feature("search pagination", "search", "src/api/routes/search.py", "tests/test_search.py"),
    _Feature("UUID primary keys", "uuid", "migrations/0042_uuid_keys.py", "tests/test_models.py"),
    _Feature("audit log", "audit", "src/audit/log.py", "tests/test_audit.py"),
    _Feature("dark mode", "theme", "web/src/theme.ts", "web/src/theme.test.ts"),
    _Feature("invoice PDFs", "invoice", "src/billing/invoice_pdf.py", "tests/test_invoice.py"),
    _Feature("password reset e-mail", "reset", "src/auth/reset.py", "tests/test_reset.py"),
    _Feature("feature flags", "flags", "src/flags/client.py", "tests/test_flags.py"),
    _Feature(
        "payment API retry budget", "stripe", "src/billing/stripe_client.py", "tests/test_stripe.py"
    ),
    _Feature("N+1 query in orders list", "orders", "src/orders/queries.py", "tests/test_orders.py"),
    _Feature(
        "flaky checkout test",
        "checkout",
        "tests/e2e/checkout.spec.ts",
        "tests/e2e/checkout.spec.ts",
    ),
    _Feature("Redis session cache", "cache", "src/cache/redis.py", "tests/test_cache.py"),
    _Feature(
        "OpenTelemetry tracing", "tracing", "src/observability/tracing.py", "tests/test_tracing.py"
    ),
    _Feature("settings page i18n", "i18n", "web/src/pages/Settings.tsx", "web/src/i18n.test.ts"),
)

#: Workflow templates: (name prefix, min code tasks, max code tasks, weight).
_TEMPLATES: tuple[tuple[str, int, int, int], ...] = (
    ("release", 2, 4, 4),
    ("feature", 2, 3, 3),
    ("hotfix", 1, 1, 2),
    ("migration", 1, 2, 1),
)

# --------------------------------------------------------------------------- escalation catalogue
# (title, body, severity, deadline) per node kind; {f}/{file}/{wf}/{agent} are filled in.

_APPROVALS: dict[str, tuple[tuple[str, str, str, str | None], ...]] = {
    "code": (
        (
            "Push to main?",
            "{agent} wants to push {branch} straight to main: CI is green but the "
            "review has not finished.",
            "high",
            "15m",
        ),
        (
            "Run `rm -rf build/`?",
            "The build cache looks stale after a toolchain bump; {agent} wants to delete it "
            "before rebuilding.",
            "low",
            None,
        ),
        (
            "Add dependency pyjwt==2.9.0?",
            "New runtime dependency for {f}. Licence MIT, no known CVEs, 0 transitive deps.",
            "normal",
            None,
        ),
        (
            "Run migration 0042_uuid_keys on staging?",
            "Rewrites 3 tables (about 1.2M rows); staging is read-only for ~4 minutes.",
            "high",
            "30m",
        ),
        (
            "Force-push to {branch}?",
            "{agent} rebased {branch} onto main and needs to force-push.",
            "normal",
            None,
        ),
    ),
    "test": (
        (
            "Re-seed the staging test database?",
            "Fixtures drifted from the schema; {agent} wants to drop and re-seed `staging_test`.",
            "normal",
            None,
        ),
    ),
    "deploy": (
        (
            "Run `terraform apply` on staging?",
            "Plan for {wf}: 3 to add, 1 to change, 0 to destroy (aws_lb_listener.api, "
            "aws_ecs_service.worker).",
            "high",
            "15m",
        ),
        (
            "Restart payments-api in production?",
            "Rolling restart of 6 pods to pick up the new config; p99 latency rises "
            "for ~2 minutes.",
            "critical",
            "5m",
        ),
        (
            "Scale the worker pool from 4 to 12 nodes?",
            "Needed for the {wf} backfill; estimated +$38/day until scaled back.",
            "normal",
            "1h",
        ),
    ),
}

_QUESTIONS: dict[str, tuple[tuple[str, str, tuple[str, ...], str], ...]] = {
    "plan": (
        (
            "Which OAuth provider should the login use?",
            "The issue says 'social login' without naming a provider. Each needs its own "
            "client registration.",
            ("Google", "GitHub", "Okta"),
            "normal",
        ),
        (
            "Ship {f} behind a feature flag?",
            "A flag lets us roll back without a deploy but adds a code path to test.",
            ("yes, behind a flag", "no, ship to everyone"),
            "low",
        ),
        (
            "Should the session TTL be 1 hour or 24 hours?",
            "Security prefers 1 hour; support tickets suggest users hate re-logging in.",
            ("1 hour", "24 hours"),
            "normal",
        ),
    ),
    "code": (
        (
            "Keep backward compatibility with API v1 clients?",
            "{f} changes a response shape; 4% of traffic still uses /api/v1.",
            ("keep v1 working", "drop v1"),
            "normal",
        ),
        (
            "Which Python version should CI target?",
            "The new code uses `except*`; the CI matrix still lists 3.10.",
            ("3.11", "3.12", "3.13"),
            "low",
        ),
        (
            "Store timestamps as epoch seconds or ISO-8601 strings?",
            "The existing tables mix both; {agent} wants to pick one for {f}.",
            ("epoch seconds", "ISO-8601"),
            "low",
        ),
    ),
    "review": (
        (
            "The diff also touches src/billing/: review that too?",
            "Out of the declared scope of {wf}; reviewing it adds ~20 minutes.",
            ("yes, review it", "no, out of scope"),
            "low",
        ),
    ),
}

_FAILURES: dict[str, tuple[tuple[str, bool, str], ...]] = {
    "plan": (("tool call failed: `gh issue view 412`: HTTP 502 from api.github.com", True, "low"),),
    "code": (
        ("ModuleNotFoundError: No module named 'jwt'", True, "normal"),
        ("merge conflict in src/api/routes.py (both modified)", False, "high"),
        ("model provider returned 429 Too Many Requests 5 times; gave up", True, "normal"),
        ("context window exceeded (212,480 > 200,000 tokens)", False, "high"),
    ),
    "review": (("tool call failed: `gh pr diff 1287`: HTTP 502", True, "low"),),
    "test": (
        ("pytest: 3 failed, 809 passed (test_login_expired_token and 2 more)", True, "normal"),
        ("playwright: timeout 30000ms exceeded waiting for `#checkout-submit`", True, "normal"),
    ),
    "deploy": (
        (
            "helm upgrade failed: readiness probe failed on 2/6 pods; rolled back",
            True,
            "critical",
        ),
    ),
}

_GUARDRAILS: tuple[tuple[str, str, str], ...] = (
    (
        "Possible secret in output: AWS access key id",
        "{agent} wrote a value matching an AWS access key id (AKIA, 16 characters masked) "
        "to {file}. The output is held until someone looks.",
        "critical",
    ),
    (
        "Possible personal data in output: 14 e-mail addresses",
        "{agent} pasted a customer export sample into a test fixture ({file}).",
        "high",
    ),
    (
        "Possible private key in output",
        "{agent}'s tool output contains an OpenSSH private key header (content masked).",
        "critical",
    ),
)

#: Chance that a task of this kind runs into trouble, and the mix of trouble kinds.
_TROUBLE: dict[str, tuple[float, tuple[tuple[str, int], ...]]] = {
    "plan": (0.3, (("question", 6), ("failure", 1))),
    "code": (
        0.35,
        (("approval", 4), ("question", 3), ("failure", 4), ("guardrail", 2), ("budget", 1)),
    ),
    "review": (0.12, (("question", 2), ("failure", 1), ("guardrail", 1))),
    "test": (0.25, (("failure", 5), ("approval", 1), ("budget", 1))),
    "deploy": (0.5, (("approval", 5), ("failure", 1))),
}

#: Steps (ticks of its own) each kind of task takes, min and max.
_STEPS = {"plan": (4, 6), "code": (6, 12), "review": (4, 7), "test": (4, 8), "deploy": (4, 6)}

#: Ticks a low-severity question or approval waits before the agent decides for itself
#: (normal-severity questions wait twice as long).
_SELF_ANSWER_TICKS = 120
#: Finished workflows remembered (so late decisions on their tasks still find them).
_KEEP_FINISHED = 500


class UnknownEscalation(LookupError):
    """A decision names an escalation (and task) this simulation run knows nothing about."""


# --------------------------------------------------------------------------- world objects


@dataclass(eq=False, slots=True)
class _Agent:
    name: str
    role: str
    model: str
    host: str
    task: _Task | None = None
    backlog: deque[_Task] = field(default_factory=deque)
    tokens: int = 0


@dataclass(eq=False, slots=True)
class _Workflow:
    name: str
    template: str
    features: list[_Feature]
    tasks: list[_Task] = field(default_factory=list)
    done: bool = False


@dataclass(eq=False, slots=True)
class _Task:
    id: str
    kind: str
    role: str
    title: str
    workflow: _Workflow
    feature: _Feature
    steps: int
    deps: list[str] = field(default_factory=list)
    deps_left: int = 0
    dependents: list[_Task] = field(default_factory=list)
    #: pending, ready, running, blocked, failed, done, cancelled
    state: str = "pending"
    agent: _Agent | None = None
    step: int = 0
    attempt: int = 0
    trouble: str | None = None
    trouble_step: int = 0
    forced_question: bool = False
    escalation: str | None = None
    error: str | None = None
    in_runq: bool = False


@dataclass(slots=True)
class _Esc:
    id: str
    kind: str
    title: str
    task: _Task
    options: tuple[str, ...] | None = None


class Simulation:
    """A deterministic swarm of AI agents; see the module docstring for usage.

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

    Methods return lists of validated :data:`store.events.Event` objects, in order.
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
        self._clock: Callable[[], float] = clock if clock is not None else _wall_clock
        self._rng = random.Random(f"swarmdeck-demo:{seed}:{run}")
        self._id_prefix = f"{seed}-{run}-"
        self._counter = 0
        self._tick = 0
        self._now = datetime.fromtimestamp(0, UTC)
        self._next_wf = first_workflow
        self._next_esc = first_escalation
        self._target_workflows = workflows if workflows is not None else max(1, round(agents / 4))
        self._agents: dict[str, _Agent] = {}
        self._by_role: dict[str, list[_Agent]] = {r: [] for r in ROLES}
        self._free: dict[str, OrderedDict[str, _Agent]] = {r: OrderedDict() for r in ROLES}
        self._ready: dict[str, deque[_Task]] = {r: deque() for r in ROLES}
        self._runq: deque[_Task] = deque()
        self._tasks: dict[str, _Task] = {}
        self._active: OrderedDict[str, _Workflow] = OrderedDict()
        self._finished: deque[_Workflow] = deque()
        self._open: dict[str, _Esc] = {}
        self._timers: list[tuple[int, int, str, str]] = []
        self._timer_seq = 0
        self._rr = 0
        self._started = False
        self._build_agents(agents)

    # ------------------------------------------------------------------ public API

    def initial_events(self) -> list[Event]:
        """The world as it starts: every agent, the first workflows, their tasks."""
        self._begin()
        out: list[Event] = []
        for agent in self._agents.values():
            self._emit(
                out,
                "agent.seen",
                {"name": agent.name, "role": agent.role, "model": agent.model, "host": agent.host},
                agent=agent.name,
            )
        self._started = True
        for i in range(self._target_workflows):
            self._start_workflow(out, first=(i == 0))
        for agent in self._agents.values():
            if agent.task is None:
                self._status(out, agent, "idle", "idle: waiting for work")
        return out

    def tick(self) -> list[Event]:
        """Advance the world by one agent update (plus any timers that fall due)."""
        if not self._started:
            raise RuntimeError("call initial_events() before tick()")
        self._begin()
        self._tick += 1
        out: list[Event] = []
        self._fire_timers(out)
        task = self._next_running()
        if task is not None:
            self._step(task, out)
        elif len(self._active) < 3 * self._target_workflows:
            # Everything is waiting on people: work keeps arriving, as it would.
            self._start_workflow(out)
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
        self._begin()
        out: list[Event] = []
        detail = f": {d.reason}" if d.reason else ""
        self._emit(
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
        self._begin()
        out: list[Event] = []
        esc = self._open.pop(escalation, None)
        if esc is None:
            t = self._tasks.get(task) if task else None
            if t is None:
                raise UnknownEscalation(
                    f"escalation {escalation!r} is not from this run of the simulation "
                    f"(run {self.run}); nobody is waiting for it"
                )
            if t.escalation is not None:
                # A decision on the task supersedes the agent's own open question.
                own = self._open.pop(t.escalation, None)
                self._emit(
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
            esc = _Esc(escalation, kind, f"{action} {t.id}", t)
        t = esc.task
        t.escalation = None
        if t.state in ("done", "cancelled") or t.workflow.done:
            self._log(out, t, "info", f"{actor} decided {action} on {t.id}, which already ended")
            return out
        if t.state == "pending":
            self._log(out, t, "info", f"{actor} decided {action} on {t.id}, which has not started")
            return out
        if t.kind == "gate":
            self._gate_decision(out, t, action, reason, actor)
        elif action == "approve":
            self._approve(out, esc, actor)
        elif action == "answer":
            text = (answer or "").strip() or (esc.options[0] if esc.options else "go ahead")
            self._log(out, t, "info", f"{actor} answered: {text}")
            self._resume(out, t, f"using the answer: {text}")
        elif action == "reject":
            self._reject(out, esc, reason or "no reason given", actor)
        elif action == "retry":
            self._restart(out, t, f"retrying {t.id} as {actor} asked")
        elif action == "reroute":
            self._reroute(out, t, target or "", reason or "", actor)
        else:
            self._log(out, t, "warning", f"ignoring unknown action {action!r} from {actor}")
            self._resume(out, t, f"continuing {t.title}")
        return out

    def retire(
        self,
        escalations: list[str],
        tasks: list[tuple[str, str | None]],
        agents: list[str],
    ) -> list[Event]:
        """Close what an earlier run left open in the store (call before initial_events).

        Args:
            escalations: ids of open escalations raised by the earlier run: withdrawn.
            tasks: ``(task id, workflow)`` still pending or running: failed, not retryable.
            agents: agents of the earlier run that this run does not simulate: offline.
        """
        self._begin()
        out: list[Event] = []
        why = f"the simulated swarm restarted (run {self.run})"
        for esc_id in escalations:
            self._emit(out, "escalation.withdrawn", {"id": esc_id, "reason": why})
        for task_id, workflow in tasks:
            self._emit(
                out,
                "task.failed",
                {"error": f"abandoned: {why}", "retryable": False},
                task=task_id,
                workflow=workflow,
            )
        for name in agents:
            if name not in self._agents:
                self._emit(out, "agent.status", {"state": "offline", "activity": why}, agent=name)
        return out

    def position(self) -> dict[str, str]:
        """What a restart needs to continue without reusing names (saved with events)."""
        return {
            "run": str(self.run),
            "next_workflow": str(self._next_wf),
            "next_escalation": str(self._next_esc),
        }

    @property
    def agent_count(self) -> int:
        return len(self._agents)

    @property
    def open_escalations(self) -> list[str]:
        """Ids of escalations raised and still waiting for a decision, oldest first."""
        return list(self._open)

    # ------------------------------------------------------------------ building

    def _build_agents(self, n: int) -> None:
        counts = {r: math.floor(n * share + 0.5) for r, share in _ROLE_SHARE.items()}
        if n >= 4:
            for r in counts:
                counts[r] = max(1, counts[r])
            counts["coder"] = n - sum(counts.values())
        else:
            counts = {"coder": 0, "planner": 0, "reviewer": 0, "tester": 0}
            for i in range(n):
                counts[("coder", "planner", "reviewer", "tester")[i]] += 1
        rng = self._rng
        index = 0
        for role in ROLES:
            for k in range(1, counts.get(role, 0) + 1):
                host = _HOSTS[index % len(_HOSTS)] if n <= 48 else f"node-{index // 16 + 1:04d}"
                agent = _Agent(f"{role}-{k}", role, rng.choice(_MODELS[role]), host)
                self._agents[agent.name] = agent
                self._by_role[role].append(agent)
                self._free[role][agent.name] = agent
                index += 1
        # Roles nobody plays fall back to the biggest team.
        biggest = max(ROLES, key=lambda r: len(self._by_role[r]))
        self._role_map = {r: (r if self._by_role[r] else biggest) for r in ROLES}

    def _start_workflow(self, out: list[Event], *, first: bool = False) -> None:
        rng = self._rng
        number = self._next_wf
        self._next_wf += 1
        if first:
            template, lo, hi = "release", 2, 4
        else:
            choice = rng.choices(_TEMPLATES, weights=[t[3] for t in _TEMPLATES])[0]
            template, lo, hi = choice[0], choice[1], choice[2]
        name = f"{template}-{number}"
        n_code = rng.randint(lo, hi)
        features = rng.sample(_FEATURES, n_code)
        if first and _FEATURES[0] not in features:
            features[0] = _FEATURES[0]
        wf = _Workflow(name, template, features)

        def task(kind: str, suffix: str, title: str, feature: _Feature, deps: list[_Task]) -> _Task:
            lo_steps, hi_steps = _STEPS.get(kind, (1, 1))
            t = _Task(
                id=f"{name}.{suffix}",
                kind=kind,
                role=self._role_map[_NODE_ROLE.get(kind, "planner")],
                title=title,
                workflow=wf,
                feature=feature,
                steps=rng.randint(lo_steps, hi_steps),
                deps=[d.id for d in deps],
                deps_left=len(deps),
            )
            for d in deps:
                d.dependents.append(t)
            wf.tasks.append(t)
            self._tasks[t.id] = t
            return t

        names = ", ".join(f.name for f in features)
        plan = task("plan", "plan", f"Plan {name}: {names}", features[0], [])
        verb = "Fix" if template == "hotfix" else "Implement"
        codes = [
            task("code", f"code-{i}", f"{verb} {f.name}", f, [plan])
            for i, f in enumerate(features, 1)
        ]
        review = task("review", "review", f"Review the {name} changes", features[0], codes)
        test = task("test", "test", f"Run the test suite for {name}", features[-1], codes)
        gate = task("gate", "gate", f"Approve {name} for production", features[0], [review, test])
        task("deploy", "deploy", f"Deploy {name} to production", features[0], [gate])
        if first:
            plan.forced_question = True

        labels = {"plan": "plan", "review": "review", "test": "test", "gate": "human gate"}
        nodes: list[dict[str, Any]] = []
        edges: list[list[str]] = []
        for t in wf.tasks:
            label = labels.get(t.kind) or (
                f"code: {t.feature.name}" if t.kind == "code" else t.kind
            )
            node: dict[str, Any] = {"id": t.id, "label": label}
            if t.kind == "gate":
                node["gate"] = True
            else:
                node["role"] = t.role
            nodes.append(node)
            edges.extend([dep, t.id] for dep in t.deps)
        self._emit(
            out,
            "workflow.defined",
            {"name": name, "nodes": nodes, "edges": edges},
            workflow=name,
        )
        for t in wf.tasks:
            self._emit(
                out,
                "task.created",
                {"title": t.title, "depends_on": t.deps},
                task=t.id,
                workflow=name,
            )
        self._active[name] = wf
        self._make_ready(out, plan)

    # ------------------------------------------------------------------ scheduling

    def _make_ready(self, out: list[Event], t: _Task) -> None:
        t.state = "ready"
        t.agent = None
        pool = self._free[t.role]
        if pool:
            _, agent = pool.popitem(last=False)
            self._assign(out, t, agent)
        else:
            self._ready[t.role].append(t)

    def _assign(self, out: list[Event], t: _Task, agent: _Agent, activity: str = "") -> None:
        self._free[agent.role].pop(agent.name, None)
        t.agent = agent
        t.state = "running"
        t.step = 0
        t.attempt += 1
        agent.task = t
        if t.attempt == 1:
            self._roll_trouble(t)
        wf = t.workflow.name
        self._emit(out, "task.started", {}, agent=agent.name, task=t.id, workflow=wf)
        self._status(out, agent, "working", activity or f"starting: {t.title}", t)
        self._enqueue(t)

    def _enqueue(self, t: _Task) -> None:
        if not t.in_runq:
            t.in_runq = True
            self._runq.append(t)

    def _next_running(self) -> _Task | None:
        while self._runq:
            t = self._runq.popleft()
            t.in_runq = False
            if t.state == "running" and t.agent is not None and t.agent.task is t:
                return t
        return None

    def _free_agent(self, out: list[Event], agent: _Agent, activity: str = "") -> None:
        """The agent finished or let go of its task: give it the next piece of work."""
        agent.task = None
        while agent.backlog:
            t = agent.backlog.popleft()
            if t.state == "ready" and t.agent is None and not t.workflow.done:
                self._assign(out, t, agent, f"picked up {t.id}")
                return
        queue = self._ready[agent.role]
        while queue:
            t = queue.popleft()
            if t.state == "ready" and t.agent is None and not t.workflow.done:
                self._assign(out, t, agent)
                return
        self._free[agent.role][agent.name] = agent
        self._status(out, agent, "idle", activity or "idle: waiting for work")

    def _roll_trouble(self, t: _Task) -> None:
        rng = self._rng
        if t.forced_question:
            t.trouble, t.trouble_step = "question", 2
            return
        chance, mix = _TROUBLE.get(t.kind, (0.0, ()))
        if mix and rng.random() < chance:
            kinds = [k for k, _ in mix]
            t.trouble = rng.choices(kinds, weights=[w for _, w in mix])[0]
            t.trouble_step = rng.randint(1, max(1, t.steps - 1))

    def _schedule(self, ticks: int, what: str, key: str) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (self._tick + ticks, self._timer_seq, what, key))

    def _fire_timers(self, out: list[Event]) -> None:
        while self._timers and self._timers[0][0] <= self._tick:
            _, _, what, key = heapq.heappop(self._timers)
            if what == "self-answer":
                esc = self._open.get(key)
                if esc is None:
                    continue  # somebody decided in time
                del self._open[key]
                t = esc.task
                t.escalation = None
                if esc.kind == "question":
                    choice = esc.options[0] if esc.options else "the default"
                    why = f"no answer after a while; went with {choice!r}"
                    activity = f"no answer yet; going with {choice}"
                else:
                    why = "no approval after a while; found another way"
                    activity = f"skipped: {esc.title.rstrip('?')}; found another way"
                self._emit(
                    out,
                    "escalation.withdrawn",
                    {"id": key, "reason": why},
                    agent=t.agent.name if t.agent else None,
                    task=t.id,
                    workflow=t.workflow.name,
                )
                self._resume(out, t, activity)
            elif what == "regate":
                gate = self._tasks.get(key)
                if gate is not None and gate.state == "blocked" and gate.escalation is None:
                    self._raise_gate(out, gate, again=True)

    # ------------------------------------------------------------------ one agent update

    def _step(self, t: _Task, out: list[Event]) -> None:
        agent = t.agent
        assert agent is not None
        rng = self._rng
        t.step += 1
        if t.trouble is not None and t.step >= t.trouble_step:
            kind, t.trouble = t.trouble, None
            self._raise(out, t, kind)
            return
        activity = self._activity(t)
        wf = t.workflow.name
        self._status(out, agent, "working", activity, t)
        if t.step >= t.steps:
            self._usage(out, t)
            self._complete(out, t, self._result(t))
            return
        self._emit(
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
            self._log(out, t, "debug" if rng.random() < 0.5 else "info", self._log_text(t))
        self._enqueue(t)

    def _usage(self, out: list[Event], t: _Task) -> None:
        agent = t.agent
        if agent is None:
            return
        rng = self._rng
        tokens_in = rng.randint(1_500, 14_000)
        tokens_out = rng.randint(150, 2_500)
        price_in, price_out = _PRICES.get(agent.model, (3.0, 15.0))
        cost = round((tokens_in * price_in + tokens_out * price_out) / 1_000_000, 6)
        agent.tokens += tokens_in + tokens_out
        self._emit(
            out,
            "usage",
            {"tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost},
            agent=agent.name,
            task=t.id,
            workflow=t.workflow.name,
        )

    def _complete(self, out: list[Event], t: _Task, result: str) -> None:
        t.state = "done"
        wf = t.workflow
        agent = t.agent
        self._emit(
            out,
            "task.completed",
            {"result": result},
            agent=agent.name if agent else None,
            task=t.id,
            workflow=wf.name,
        )
        if agent is not None and agent.task is t:
            self._free_agent(out, agent, f"finished {t.id}; waiting for work")
        for d in t.dependents:
            d.deps_left -= 1
            if d.deps_left <= 0 and d.state == "pending":
                if d.kind == "gate":
                    self._open_gate(out, d)
                else:
                    self._make_ready(out, d)
        if t.kind == "deploy":
            self._log(out, t, "info", f"{wf.name} shipped to production")
            self._finish_workflow(out, wf)

    def _finish_workflow(self, out: list[Event], wf: _Workflow) -> None:
        wf.done = True
        self._active.pop(wf.name, None)
        self._finished.append(wf)
        while len(self._finished) > _KEEP_FINISHED:
            old = self._finished.popleft()
            for t in old.tasks:
                self._tasks.pop(t.id, None)
        if len(self._active) < self._target_workflows:
            self._start_workflow(out)

    def _stop_workflow(self, out: list[Event], wf: _Workflow, why: str) -> None:
        """End a workflow early: cancel what has not run, withdraw what still waits."""
        wf.done = True  # freed agents must not pick up this workflow's remaining tasks
        for t in wf.tasks:
            if t.state in ("done", "failed", "cancelled"):
                continue
            if t.escalation is not None:
                self._open.pop(t.escalation, None)
                self._emit(
                    out,
                    "escalation.withdrawn",
                    {"id": t.escalation, "reason": f"cancelled: {why}"},
                    task=t.id,
                    workflow=wf.name,
                )
                t.escalation = None
            agent = t.agent
            t.state = "cancelled"
            self._emit(
                out,
                "task.failed",
                {"error": f"cancelled: {why}", "retryable": False},
                agent=agent.name if agent else None,
                task=t.id,
                workflow=wf.name,
            )
            if agent is not None and agent.task is t:
                self._free_agent(out, agent)
        self._log_wf(out, wf, "warning", f"{wf.name} stopped: {why}")
        self._finish_workflow(out, wf)

    # ------------------------------------------------------------------ escalations

    def _raise(self, out: list[Event], t: _Task, kind: str) -> None:
        rng = self._rng
        agent = t.agent
        assert agent is not None
        fill = {
            "agent": agent.name,
            "f": t.feature.name,
            "file": t.feature.file,
            "wf": t.workflow.name,
            "branch": f"{t.workflow.name}/{t.feature.key}",
        }
        options: tuple[str, ...] | None = None
        deadline: str | None = None
        targets: list[str] | None = None
        retryable = True
        waiting = "waiting for approval"
        if t.forced_question:
            t.forced_question = False
            kind = "question"
            q = _QUESTIONS["plan"][0]
            title, body, options, severity = q[0], q[1], q[2], q[3]
        elif kind == "question" and t.kind in _QUESTIONS:
            q = rng.choice(_QUESTIONS[t.kind])
            title, body, options, severity = q[0], q[1], q[2], q[3]
        elif kind == "approval" and t.kind in _APPROVALS:
            title, body, severity, deadline = rng.choice(_APPROVALS[t.kind])
        elif kind == "guardrail":
            title, body, severity = rng.choice(_GUARDRAILS)
            waiting = "output held by a guardrail"
        elif kind == "budget":
            budget = max(100_000, (agent.tokens // 100_000) * 100_000)
            used = max(agent.tokens, budget + rng.randint(1_000, 40_000))
            agent.tokens = used
            title = f"{agent.name} crossed its token budget"
            body = (
                f"{used:,} tokens used of a {budget:,} budget while working on {t.id}. "
                "Approve to raise the budget by 50%; reject to stop the task."
            )
            severity = "high" if used > 1_000_000 else "normal"
            waiting = "paused: token budget exceeded"
        else:
            kind = "failure"
            error, retryable, severity = rng.choice(_FAILURES.get(t.kind) or _FAILURES["code"])
            t.error = error
            title = f"{t.id} failed: {error}"
            body = (
                f"{agent.name} gave up on {t.title!r} "
                f"({'retryable' if retryable else 'not retryable'}). "
                "Retry it, reroute it to another agent, or accept and move on."
            )
            targets = self._reroute_targets(agent)
        if kind != "failure" and severity != "low" and deadline is None and rng.random() < 0.25:
            deadline = rng.choice(("15m", "30m", "1h"))
        title = title.format(**fill)
        body = body.format(**fill)
        esc_id = self._new_escalation_id()
        wf = t.workflow.name
        if kind == "failure":
            t.state = "failed"
            self._emit(
                out,
                "task.failed",
                {"error": t.error or "failed", "retryable": retryable},
                agent=agent.name,
                task=t.id,
                workflow=wf,
            )
        else:
            t.state = "blocked"
        data: dict[str, Any] = {
            "id": esc_id,
            "kind": kind,
            "title": title,
            "body": body,
            "severity": severity,
        }
        if options:
            data["options"] = list(options)
        if deadline:
            data["deadline"] = deadline
        if targets:
            data["reroute_targets"] = targets
        self._emit(out, "escalation.raised", data, agent=agent.name, task=t.id, workflow=wf)
        if kind == "failure":
            self._status(out, agent, "failed", f"failed: {t.error}; waiting for a decision", t)
        elif kind == "question":
            self._status(out, agent, "blocked", f"waiting for an answer: {title}", t)
        else:
            self._status(out, agent, "blocked", f"{waiting}: {title}", t)
        t.escalation = esc_id
        self._open[esc_id] = _Esc(esc_id, kind, title, t, options)
        # Agents do not wait forever on small things: a demo nobody answers keeps moving
        # (high and critical ones, and failures, wait for a person).
        if (kind == "question" and severity in ("low", "normal")) or (
            kind == "approval" and severity == "low"
        ):
            wait = _SELF_ANSWER_TICKS * (1 if severity == "low" else 2)
            self._schedule(wait, "self-answer", esc_id)

    def _new_escalation_id(self) -> str:
        esc_id = f"{self.source}-{self._next_esc}"
        self._next_esc += 1
        return esc_id

    def _reroute_targets(self, agent: _Agent) -> list[str]:
        free = [a for a in itertools.islice(self._free[agent.role].values(), 3) if a is not agent]
        if len(free) < 3:
            team = self._by_role[agent.role]
            start = team.index(agent) if len(team) < 64 else self._rng.randrange(len(team))
            for k in range(1, min(len(team), 8)):
                candidate = team[(start + k) % len(team)]
                if candidate is not agent and candidate not in free:
                    free.append(candidate)
                if len(free) >= 3:
                    break
        return [a.name for a in free]

    def _open_gate(self, out: list[Event], t: _Task) -> None:
        t.state = "blocked"
        self._emit(out, "task.started", {}, task=t.id, workflow=t.workflow.name)
        self._raise_gate(out, t)

    def _raise_gate(self, out: list[Event], t: _Task, *, again: bool = False) -> None:
        rng = self._rng
        wf = t.workflow
        esc_id = self._new_escalation_id()
        files = rng.randint(6, 40)
        data: dict[str, Any] = {
            "id": esc_id,
            "kind": "approval",
            "title": f"Ship {wf.name} to production?",
            "body": (
                f"{'Asking again. ' if again else ''}Review approved, "
                f"{rng.randint(300, 1200)} tests passed. Diff: +{rng.randint(80, 2400):,} "
                f"-{rng.randint(10, 600):,} across {files} files "
                f"({', '.join(f.name for f in wf.features)})."
            ),
            "severity": "high",
            "deadline": "30m",
        }
        self._emit(out, "escalation.raised", data, task=t.id, workflow=wf.name)
        t.escalation = esc_id
        self._open[esc_id] = _Esc(esc_id, "approval", data["title"], t)

    def _gate_decision(
        self, out: list[Event], t: _Task, action: str, reason: str | None, actor: str
    ) -> None:
        wf = t.workflow
        if action == "approve":
            self._log(out, t, "info", f"{actor} approved {wf.name} for production")
            self._complete(out, t, f"approved by {actor}")
        elif action == "reject":
            why = reason or "no reason given"
            t.state = "failed"
            self._emit(
                out,
                "task.failed",
                {"error": f"rejected by {actor}: {why}", "retryable": False},
                task=t.id,
                workflow=wf.name,
            )
            self._stop_workflow(out, wf, f"{wf.name} will not ship: {why}")
        else:
            self._log(out, t, "info", f"{actor} chose {action} at the gate; asking again shortly")
            self._schedule(5, "regate", t.id)

    def _approve(self, out: list[Event], esc: _Esc, actor: str) -> None:
        t = esc.task
        if esc.kind == "failure":
            self._log(out, t, "info", f"{actor} accepted {t.id} despite: {t.error}")
            if t.agent is not None:
                self._status(out, t.agent, "working", f"wrapping up {t.id} as accepted", t)
            self._complete(out, t, f"accepted by {actor} despite: {t.error}")
            return
        if esc.kind == "budget" and t.agent is not None:
            self._log(out, t, "info", f"{actor} raised {t.agent.name}'s token budget by 50%")
            self._resume(out, t, "budget raised; continuing")
            return
        self._log(out, t, "info", f"{actor} approved: {esc.title}")
        self._resume(out, t, f"approved by {actor}: {esc.title.rstrip('?')}")

    def _reject(self, out: list[Event], esc: _Esc, reason: str, actor: str) -> None:
        t = esc.task
        if esc.kind in ("failure", "budget"):
            t.state = "failed"
            error = f"stopped by {actor}: {reason}"
            if esc.kind == "budget":
                self._emit(
                    out,
                    "task.failed",
                    {"error": error, "retryable": True},
                    agent=t.agent.name if t.agent else None,
                    task=t.id,
                    workflow=t.workflow.name,
                )
            self._log(out, t, "warning", f"giving up on {t.id}: {reason}")
            agent = t.agent
            if agent is not None and agent.task is t:
                self._free_agent(out, agent, f"gave up on {t.id}: {reason}")
            self._stop_workflow(out, t.workflow, f"{t.id} was abandoned: {reason}")
            return
        # Approval, question, guardrail: do it another way.
        t.steps += self._rng.randint(1, 3)
        t.step = max(0, t.step - 1)
        self._log(out, t, "warning", f"{actor} rejected {esc.title!r}: re-planning: {reason}")
        self._emit(
            out,
            "task.progress",
            {"note": f"re-planning: {reason}", "pct": round(100.0 * t.step / t.steps, 1)},
            agent=t.agent.name if t.agent else None,
            task=t.id,
            workflow=t.workflow.name,
        )
        self._resume(out, t, f"re-planning: {reason}")

    def _resume(self, out: list[Event], t: _Task, activity: str) -> None:
        """Unblock a task: its agent goes back to work on it (or it waits for one)."""
        agent = t.agent
        if agent is None or agent.task is not t:
            self._make_ready(out, t)
            return
        was_failed = t.state == "failed"
        t.state = "running"
        if was_failed:
            self._emit(
                out, "task.started", {}, agent=agent.name, task=t.id, workflow=t.workflow.name
            )
        self._status(out, agent, "working", activity, t)
        self._enqueue(t)

    def _restart(self, out: list[Event], t: _Task, activity: str) -> None:
        agent = t.agent
        t.trouble = None
        if agent is None or agent.task is not t:
            t.step = 0
            self._make_ready(out, t)
            return
        t.state = "running"
        t.step = 0
        t.attempt += 1
        self._emit(out, "task.started", {}, agent=agent.name, task=t.id, workflow=t.workflow.name)
        self._status(out, agent, "working", f"{activity} (attempt {t.attempt})", t)
        self._enqueue(t)

    def _resolve_target(self, target: str, current: _Agent | None) -> _Agent | None:
        target = target.strip()
        if target in self._agents:
            return self._agents[target]
        role = target.rstrip("s") if target.rstrip("s") in self._by_role else target
        team = self._by_role.get(role)
        if not team:
            return None
        for agent in self._free[role].values():
            if agent is not current:
                return agent
        for _ in range(len(team)):
            self._rr += 1
            agent = team[self._rr % len(team)]
            if agent is not current:
                return agent
        return team[0]

    def _reroute(self, out: list[Event], t: _Task, target: str, reason: str, actor: str) -> None:
        current = t.agent
        dest = self._resolve_target(target, current)
        if dest is None:
            self._log(
                out, t, "warning", f"{actor} rerouted to unknown {target!r}; retrying in place"
            )
            self._restart(out, t, f"retrying {t.id} (no agent or role named {target!r})")
            return
        if dest is current:
            self._restart(out, t, f"retrying {t.id} as {actor} asked")
            return
        wf = t.workflow.name
        why = f": {reason}" if reason else ""
        self._emit(
            out,
            "task.handoff",
            {"to_agent": dest.name},
            agent=current.name if current else None,
            task=t.id,
            workflow=wf,
        )
        self._log(out, t, "info", f"{actor} rerouted {t.id} to {dest.name}{why}")
        t.state = "ready"
        t.agent = None
        t.trouble = None
        t.step = 0
        if current is not None and current.task is t:
            self._free_agent(out, current, f"handed {t.id} to {dest.name}")
        if dest.task is None:
            self._assign(
                out,
                t,
                dest,
                f"picked up {t.id} from {current.name if current else 'the queue'}{why}",
            )
        else:
            dest.backlog.append(t)
            note = f"queued: {dest.name} picks it up after finishing {dest.task.id}"
            self._emit(out, "task.progress", {"note": note, "pct": 0.0}, task=t.id, workflow=wf)
            self._log(out, t, "info", note)

    # ------------------------------------------------------------------ text

    def _activity(self, t: _Task) -> str:
        rng = self._rng
        f = t.feature
        k = t.kind
        if k == "plan":
            return rng.choice(
                (
                    f"reading issue #{rng.randint(200, 999)}: {f.name}",
                    f"reading {f.file}",
                    f"splitting {t.workflow.name} into {len(t.dependents)} tasks",
                    "checking open PRs for conflicts",
                    "estimating effort per task",
                    f"writing acceptance criteria for {f.name}",
                )
            )
        if k == "code":
            return rng.choice(
                (
                    f"editing {f.file}",
                    f"reading {f.file}",
                    f"writing {f.test}",
                    f"running pytest -k {f.key} ({rng.randint(4, 60)} passed)",
                    "running ruff check src/",
                    f"running mypy {f.file.rsplit('/', 1)[0]}",
                    f"git diff --stat ({rng.randint(1, 9)} files, +{rng.randint(10, 400)} "
                    f"-{rng.randint(0, 120)})",
                    f'grep -rn "{f.key}" src/',
                )
            )
        if k == "review":
            code = rng.choice(t.workflow.tasks[1:-4] or t.workflow.tasks)
            return rng.choice(
                (
                    f"reviewing the diff of {code.id} ({rng.randint(40, 900)} lines)",
                    f"commenting on {code.feature.file}:{rng.randint(10, 400)}",
                    "checking test coverage of the change",
                    "requesting changes: missing test for the error path",
                    f"re-reading {code.feature.file} after the fixup commit",
                )
            )
        if k == "test":
            return rng.choice(
                (
                    f"running pytest -q ({rng.randint(300, 1200)} passed, "
                    f"{rng.randint(0, 9)} skipped)",
                    f"running playwright test e2e/{f.key}.spec.ts",
                    f"coverage {rng.uniform(78, 95):.1f}%",
                    "running pytest -x tests/integration",
                    f"re-running {f.test} to rule out flakiness",
                )
            )
        version = f"1.{self._wf_number(t)}.{rng.randint(0, 9)}"
        return rng.choice(
            (
                f"building image ghcr.io/acme/api:{version}",
                "helm upgrade api --namespace staging",
                f"smoke tests on staging ({rng.randint(10, 14)}/14 passed)",
                f"canary at 10% (error rate {rng.uniform(0.0, 0.1):.2f}%)",
                "promoting canary to 100%",
            )
        )

    def _wf_number(self, t: _Task) -> str:
        return t.workflow.name.rsplit("-", 1)[-1]

    def _result(self, t: _Task) -> str:
        rng = self._rng
        k = t.kind
        if k == "plan":
            return f"plan ready: {len(t.dependents)} tasks"
        if k == "code":
            return (
                f"opened PR #{rng.randint(1000, 9999)} (+{rng.randint(20, 900)} "
                f"-{rng.randint(0, 300)}, {rng.randint(1, 12)} files)"
            )
        if k == "review":
            return rng.choice(("approved", "approved with 2 nits", "LGTM after one fixup"))
        if k == "test":
            return f"{rng.randint(300, 1200)} passed, 0 failed"
        return f"{t.workflow.name} live in production"

    def _log_text(self, t: _Task) -> str:
        rng = self._rng
        f = t.feature
        return rng.choice(
            (
                f"tool call: bash `pytest -k {f.key}` exited 0",
                f"tool call: read_file {f.file} ({rng.randint(40, 900)} lines)",
                f"context at {rng.randint(20, 95)}% of the window",
                f"cache hit for {f.file}",
                f"tool call: gh pr view {rng.randint(1000, 9999)}",
            )
        )

    # ------------------------------------------------------------------ emitting

    def _begin(self) -> None:
        self._now = datetime.fromtimestamp(self._clock(), UTC)

    def _emit(
        self,
        out: list[Event],
        kind: str,
        data: dict[str, Any],
        *,
        agent: str | None = None,
        task: str | None = None,
        workflow: str | None = None,
    ) -> None:
        self._counter += 1
        out.append(
            EVENT_ADAPTER.validate_python(
                {
                    "id": f"{self._id_prefix}{self._counter}",
                    "ts": self._now,
                    "source": self.source,
                    "kind": kind,
                    "agent": agent,
                    "task": task,
                    "workflow": workflow,
                    "data": data,
                }
            )
        )

    def _status(
        self, out: list[Event], agent: _Agent, state: str, activity: str, t: _Task | None = None
    ) -> None:
        self._emit(
            out,
            "agent.status",
            {"state": state, "activity": activity},
            agent=agent.name,
            task=t.id if t else None,
            workflow=t.workflow.name if t else None,
        )

    def _log(self, out: list[Event], t: _Task, level: str, text: str) -> None:
        self._emit(
            out,
            "log",
            {"level": level, "text": text},
            agent=t.agent.name if t.agent else None,
            task=t.id,
            workflow=t.workflow.name,
        )

    def _log_wf(self, out: list[Event], wf: _Workflow, level: str, text: str) -> None:
        self._emit(out, "log", {"level": level, "text": text}, workflow=wf.name)


def _wall_clock() -> float:
    return time.time()


# --------------------------------------------------------------------------- the adapter


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


class DemoAdapter(Adapter):
    """A simulated swarm of planner, coder, reviewer and tester agents that reacts to decisions.

    Every (re)start is a new *run*: the run number and the next workflow and
    escalation numbers are saved with the events (adapter state ``run``,
    ``next_workflow``, ``next_escalation``), so a restarted demo continues with
    fresh ids and names, and first closes what the previous run left open.
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
            return sim, []
        # Close what the previous run left open: its agents are gone with it.
        escalations = [
            str(r[0])
            for r in await store._fetchall(
                "SELECT id FROM escalations WHERE origin = ? AND state = 'open' ORDER BY id",
                (self.name,),
            )
        ]
        tasks = [
            (str(r[0]), None if r[1] is None else str(r[1]))
            for r in await store._fetchall(
                "SELECT id, workflow FROM tasks WHERE origin = ? AND state IN "
                "('pending', 'running') ORDER BY id",
                (self.name,),
            )
        ]
        agents = [
            str(r[0])
            for r in await store._fetchall(
                "SELECT name FROM agents WHERE origin = ? AND state != 'offline' ORDER BY name",
                (self.name,),
            )
        ]
        return sim, sim.retire(escalations, tasks, agents)

    async def events(self) -> AsyncIterator[Event | Batch]:
        opts = self.opts
        self._wake = asyncio.Event()
        sim, retired = await self._new_simulation()
        initial = retired + sim.initial_events()
        self.sim = sim
        for start in range(0, len(initial), _BATCH_EVENTS):
            yield Batch(initial[start : start + _BATCH_EVENTS], position=sim.position())
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
            for start in range(0, len(out), _BATCH_EVENTS):
                yield Batch(out[start : start + _BATCH_EVENTS], position=sim.position())
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
        while len(self._delivered) > 10_000:
            self._delivered.popitem(last=False)
        self._reactions.extend(reaction)
        if self._wake is not None:
            self._wake.set()


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
