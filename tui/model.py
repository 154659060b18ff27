"""In-memory models of what the panes show, fed incrementally from the store.

The UI never queries SQLite per keystroke or per row. A poller (:mod:`tui.refresh`)
reads the store's change counter (:meth:`Store.rev`) every ~150 ms and, only when it
moved, fetches the rows whose ``rev`` is newer than the last one it saw. The models
merge them and keep each list's display order; they do not track which rows changed,
because the lists need not know: each visible row carries a render stamp (its ``rev``
and age text) and a repaint refreshes only the lines whose stamp differs
(:mod:`tui.widgets.lists`).

Nothing here imports Textual: the models are plain Python, tested on their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.store.db import Store
from swarmdeck.store.models import AdapterHealth, Agent, Escalation, Workflow, WorkflowSummary

#: Attention order of agent states: problems first.
STATE_ORDER = {"failed": 0, "blocked": 1, "working": 2, "idle": 3, "done": 4, "offline": 5}
SEVERITY_ORDER = {"critical": 0, "high": 1, "normal": 2, "low": 3}
SORTS = ("name", "state", "last seen", "cost")


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed ``/`` filter: free text plus ``field:value`` terms; ``!`` negates a term."""

    text: str = ""
    terms: tuple[tuple[str, str, bool], ...] = ()
    words: tuple[tuple[str, bool], ...] = ()

    @classmethod
    def parse(cls, text: str) -> Filter:
        terms: list[tuple[str, str, bool]] = []
        words: list[tuple[str, bool]] = []
        for raw in text.split():
            neg = raw.startswith("!")
            token = raw[1:] if neg else raw
            if not token:
                continue
            name, sep, value = token.partition(":")
            if sep and name and value:
                terms.append((name.lower(), value.lower(), neg))
            else:
                words.append((token.lower(), neg))
        return cls(text.strip(), tuple(terms), tuple(words))

    def __bool__(self) -> bool:
        return bool(self.terms or self.words)

    def matches(self, fields: dict[str, str], haystack: str) -> bool:
        for name, value, neg in self.terms:
            actual = fields.get(name)
            hit = actual is not None and (
                actual.lower() == value or actual.lower().startswith(value)
            )
            if hit == neg:
                return False
        return all((word in haystack) != neg for word, neg in self.words)


def agent_fields(agent: Agent) -> dict[str, str]:
    return {
        "state": agent.state,
        "role": agent.role,
        "vendor": agent.vendor or "",
        "name": agent.name,
        "task": agent.task or "",
        "workflow": agent.workflow or "",
        "model": agent.model or "",
        "host": agent.host or "",
    }


def agent_haystack(agent: Agent) -> str:
    return " ".join(
        (agent.name, agent.role, agent.vendor or "", agent.state, agent.activity, agent.task or "")
    ).lower()


class SwarmModel:
    """Agents by name, and the filtered, sorted order the Swarm pane shows."""

    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.order: list[str] = []
        self.index: dict[str, int] = {}
        self.sort = "name"
        self.filter = Filter()
        self.by_state: dict[str, int] = {}

    def merge(self, rows: Iterable[Agent]) -> None:
        resort = False
        for agent in rows:
            old = self.agents.get(agent.name)
            if old is not None:
                self.by_state[old.state] = self.by_state.get(old.state, 1) - 1
            self.agents[agent.name] = agent
            self.by_state[agent.state] = self.by_state.get(agent.state, 0) + 1
            if (
                old is None
                or (
                    self.sort != "name" and _sort_key(self.sort, old) != _sort_key(self.sort, agent)
                )
                or (self.filter and self._visible(old) != self._visible(agent))
            ):
                resort = True
        if resort:
            self.rebuild()

    def _visible(self, agent: Agent) -> bool:
        return not self.filter or self.filter.matches(agent_fields(agent), agent_haystack(agent))

    def set_filter(self, text: str) -> None:
        self.filter = Filter.parse(text)
        self.rebuild()

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self.rebuild()

    def rebuild(self) -> None:
        agents: Iterable[Agent] = self.agents.values()
        if self.filter:
            agents = [a for a in agents if self._visible(a)]
        if self.sort == "name":
            self.order = sorted(a.name for a in agents)
        else:
            key = self.sort
            self.order = [a.name for a in sorted(agents, key=lambda a: (_sort_key(key, a), a.name))]
        self.index = {name: i for i, name in enumerate(self.order)}


def _sort_key(sort: str, agent: Agent) -> Any:
    if sort == "state":
        return STATE_ORDER.get(agent.state, 9)
    if sort == "last seen":
        return -agent.last_seen
    if sort == "cost":
        return -agent.cost_usd
    return agent.name


def escalation_fields(e: Escalation) -> dict[str, str]:
    return {
        "severity": e.severity,
        "sev": e.severity,
        "kind": e.kind,
        "agent": e.agent or "",
        "state": e.state,
        "workflow": e.workflow or "",
        "task": e.task or "",
    }


class InboxModel:
    """Open escalations, most urgent first, then recent decisions until they age out."""

    def __init__(self, visible_seconds: float) -> None:
        self.visible_seconds = visible_seconds
        self.items: dict[str, Escalation] = {}
        self.order: list[str] = []
        self.index: dict[str, int] = {}
        self.filter = Filter()

    def merge(self, rows: Iterable[Escalation], now: float) -> list[Escalation]:
        """Merge changed escalations; return those that need attention: new and open, or
        open and risen in severity (a passed deadline escalates)."""
        fresh: list[Escalation] = []
        resort = False
        for e in rows:
            old = self.items.get(e.id)
            if e.state == "open" and (
                old is None
                or SEVERITY_ORDER.get(e.severity, 9) < SEVERITY_ORDER.get(old.severity, 9)
            ):
                fresh.append(e)
            if self._expired(e, now):
                if self.items.pop(e.id, None) is not None:
                    resort = True
                continue
            self.items[e.id] = e
            if (
                old is None
                or _inbox_key(old) != _inbox_key(e)
                or (self.filter and self._visible(old) != self._visible(e))
            ):
                resort = True
        if not self.expire(now) and resort:
            self.rebuild()
        return fresh

    def expire(self, now: float) -> bool:
        """Drop decisions older than the visible window; True if any left the list."""
        gone = [k for k, e in self.items.items() if self._expired(e, now)]
        for k in gone:
            del self.items[k]
        if gone:
            self.rebuild()
        return bool(gone)

    def _expired(self, e: Escalation, now: float) -> bool:
        if e.state == "open":
            return False
        # Withdrawn ones need no follow-up: they leave sooner than decisions.
        keep = self.visible_seconds if e.state == "decided" else min(self.visible_seconds, 120.0)
        return (e.decided_ts or 0) < now - keep

    def _visible(self, e: Escalation) -> bool:
        return not self.filter or self.filter.matches(
            escalation_fields(e), f"{e.title} {e.agent or ''} {e.kind} {e.severity} {e.id}".lower()
        )

    def set_filter(self, text: str) -> None:
        self.filter = Filter.parse(text)
        self.rebuild()

    def rebuild(self) -> None:
        items = [e for e in self.items.values() if self._visible(e)]
        items.sort(key=_inbox_key)
        self.order = [e.id for e in items]
        self.index = {k: i for i, k in enumerate(self.order)}

    def open_by_severity(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.items.values():
            if e.state == "open":
                out[e.severity] = out.get(e.severity, 0) + 1
        return out

    def oldest_open(self) -> float | None:
        times = [e.raised_ts for e in self.items.values() if e.state == "open"]
        return min(times) if times else None


def _inbox_key(e: Escalation) -> tuple[bool, int, float, str]:
    """Open first, by severity then age; then decisions, newest first."""
    return (
        e.state != "open",
        SEVERITY_ORDER.get(e.severity, 9) if e.state == "open" else 0,
        e.raised_ts if e.state == "open" else -(e.decided_ts or 0),
        e.id,
    )


@dataclass
class PollResult:
    rev: int
    agents_changed: bool = False
    inbox_changed: bool = False
    fresh: list[Escalation] = field(default_factory=list)
    health_changed: bool = False
    workflows_changed: bool = False
    graph_changed: bool = False


class Models:
    """Every model of the main screen and the poller that keeps them current."""

    def __init__(
        self,
        store: Store | None,
        *,
        clock: Callable[[], float] = time.time,
        decided_visible_minutes: float = 30.0,
        workflow_interval: float = 1.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.swarm = SwarmModel()
        self.inbox = InboxModel(decided_visible_minutes * 60.0)
        self.health: list[AdapterHealth] = []
        self.workflows: list[WorkflowSummary] = []
        self.workflow_name: str | None = None
        #: True once the manager chose a workflow; until then the pane follows live work.
        self.workflow_pinned = False
        self.graph: Workflow | None = None
        self.rev = -1
        self.loaded = False
        self.workflow_interval = workflow_interval
        self._wf_polled_rev = -1
        self._wf_polled_at = 0.0

    async def poll(self, *, force_workflow: bool = False) -> PollResult:
        """Fetch what changed since the last poll and merge it. Cheap when nothing did."""
        store = self.store
        assert store is not None, "the store is not open yet"
        rev = await store.rev()
        result = PollResult(rev)
        now = self.clock()
        if rev != self.rev:
            first = self.rev < 0
            since = None if first else self.rev
            agents = await store.agents(since_rev=since)
            if agents:
                self.swarm.merge(agents)
                result.agents_changed = True
            if first:
                escs = await store.escalations(decided_since=now - self.inbox.visible_seconds)
            else:
                escs = await store.escalations(since_rev=since)
            if escs:
                fresh = self.inbox.merge(escs, now)
                result.fresh = [] if first else fresh
                result.inbox_changed = True
            health = await store.adapter_health()
            if health != self.health:
                self.health = health
                result.health_changed = True
            self.rev = rev
            self.loaded = True
        else:
            before = len(self.inbox.items)
            self.inbox.expire(now)
            result.inbox_changed = len(self.inbox.items) != before
        wall = time.monotonic()
        if force_workflow or (
            self._wf_polled_rev != rev and wall - self._wf_polled_at >= self.workflow_interval
        ):
            self._wf_polled_rev = rev
            self._wf_polled_at = wall
            await self._poll_workflows(result)
        return result

    async def _poll_workflows(self, result: PollResult) -> None:
        assert self.store is not None
        workflows = await self.store.workflows()
        if [
            (w.name, w.tasks, w.done, w.failed, w.running, w.open_escalations) for w in workflows
        ] != [
            (w.name, w.tasks, w.done, w.failed, w.running, w.open_escalations)
            for w in self.workflows
        ]:
            result.workflows_changed = True
        self.workflows = workflows
        names = [w.name for w in workflows]
        live = [w.name for w in workflows if w.running or w.open_escalations]
        if self.workflow_name not in names:
            choices = live or names
            self.workflow_name = choices[0] if choices else None
        elif not self.workflow_pinned and live and self.workflow_name not in live:
            # Follow the action until the manager picks a workflow: a finished or
            # abandoned one (say, from before a restart) should not hold the pane.
            self.workflow_name = live[0]
        if self.workflow_name is None:
            if self.graph is not None:
                self.graph = None
                result.graph_changed = True
            return
        from swarmdeck.store.errors import NotFound

        try:
            graph = await self.store.workflow(self.workflow_name)
        except NotFound:
            graph = None
        if (
            graph is None
            or self.graph is None
            or graph.name != self.graph.name
            or graph.nodes != self.graph.nodes
            or graph.edges != self.graph.edges
        ):
            self.graph = graph
            result.graph_changed = True

    async def select_workflow(self, name: str | None) -> PollResult:
        self.workflow_name = name
        self.workflow_pinned = name is not None
        self.graph = None
        return await self.poll(force_workflow=True)
