"""The policy service: follows the change feed, applies rules, sweeps deadlines, watches budgets.

Runs inside the collector (exactly one per database). Its position in the change
feed is kept in ``adapter_state`` under adapter ``policy`` (key ``seq``), saved right
after every event it acted on, so a restart neither re-processes nor skips. On its
very first start it begins at the end of the feed: enabling a policy never acts on
last week's failures. Open escalations are another matter: whenever one arrived (before
the first start, or before a rule that matches it was saved), a manager still has to
answer it, so every start and every rule change looks at each open escalation no rule
has acted on yet (:meth:`PolicyService.catch_up`). A hook that waits on its own
escalation asks the rules directly (:meth:`PolicyService.check_escalation`): an
auto-approve then needs no collector at all.

Every automatic decision goes through the same store calls a human's does
(``store.decide``, ``store.actions.act_on_task``) with actor ``policy:<rule>``, so the
inbox, the outbox and the audit chain show what the policy did.

Per-task progress along a path (which rule, which step, retries used, a retry due
after its backoff) is persisted under ``policy`` / ``task:<id>``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import tomllib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmdeck.guardrails.config import BudgetConfig
from swarmdeck.policy.budgets import BudgetWatcher
from swarmdeck.policy.rules import PolicyConfig, Rule, Step, Subject, load_policy
from swarmdeck.store import governance
from swarmdeck.store.actions import act_on_task
from swarmdeck.store.db import Store
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import make_event
from swarmdeck.store.models import Escalation, StoredEvent
from swarmdeck.store.queries.tasks import (
    last_human_decision_on_task,
    open_escalation_of_task,
    open_escalation_severity_of_task,
)

log = logging.getLogger("swarmdeck.policy")

STATE = "policy"
#: ``source`` of events the policy writes (it never acts on its own events).
POLICY_SOURCE = "policy"
#: The kinds the policy reads from the change feed (plus ``usage`` when budgets are set).
FEED_KINDS = ("agent.seen", "task.failed", "task.completed", "escalation.raised")
BATCH = 500


@dataclass(slots=True)
class TaskProgress:
    rule: str
    step: int = 0
    retries: int = 0
    due: float | None = None
    """When a scheduled retry is due (after its backoff)."""
    reason: str = ""
    scheduled: float | None = None
    """When the pending retry was scheduled (a human deciding after that wins)."""

    def dump(self) -> str:
        return json.dumps(
            {"rule": self.rule, "step": self.step, "retries": self.retries, "due": self.due,
             "reason": self.reason, "scheduled": self.scheduled}
        )  # fmt: skip

    @classmethod
    def load(cls, text: str) -> TaskProgress:
        raw = json.loads(text)
        return cls(raw["rule"], raw.get("step", 0), raw.get("retries", 0), raw.get("due"),
                   raw.get("reason", ""), raw.get("scheduled"))  # fmt: skip


@dataclass(slots=True)
class Outcome:
    """What the service did for one event (returned for tests and logs)."""

    rule: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)


def actor_for(rule: str) -> str:
    return f"policy:{rule}"


class PolicyService:
    """Follow the change feed and apply rules; sweep deadlines; watch budgets.

    Args:
        config: the validated rules.
        store: the collector's store.
        clock: seconds since the epoch; injected so tests control time.
        budgets: budgets from ``[guardrails]``.
        admin: the actor recorded for a rule-set change (``user@host``).
    """

    def __init__(
        self,
        config: PolicyConfig,
        store: Store,
        clock: Callable[[], float] = time.time,
        *,
        budgets: list[BudgetConfig] | None = None,
        admin: str = "policy",
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.admin = admin
        self.budgets = BudgetWatcher(budgets or [], store)
        self.position = 0
        self.progress: dict[str, TaskProgress] = {}
        self.outcomes: deque[Outcome] = deque(maxlen=1000)
        """What the service did lately (bounded: the audit chain is the record)."""
        self._roles: dict[str, str] = {}
        self._vendors: dict[str, str] = {}
        self._escalation_lock = asyncio.Lock()
        self._started = False
        self._last_sweep = 0.0
        self._watch: Path | None = None
        self._watch_mtime: float | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the position and per-task progress; audit a changed rule set."""
        if self._started:
            return
        states = await self.store.get_states(STATE)
        if "seq" in states:
            self.position = int(states["seq"])
        else:
            self.position = await self.store.last_seq()
            await self.store.set_state(STATE, "seq", str(self.position))
        for key, value in states.items():
            if key.startswith("task:"):
                try:
                    self.progress[key[5:]] = TaskProgress.load(value)
                except (ValueError, KeyError):
                    log.warning("policy: ignoring unreadable state %s", key)
        await self._audit_rule_change(states)
        self._started = True
        await self.catch_up()

    async def _audit_rule_change(self, states: dict[str, str]) -> None:
        fingerprint = self.config.fingerprint()
        if states.get("rules_hash") == fingerprint:
            return
        before: dict[str, Any] = json.loads(states.get("rules", "{}") or "{}")
        after = self.config.canonical()
        diff = {
            "added": sorted(set(after) - set(before)),
            "removed": sorted(set(before) - set(after)),
            "changed": sorted(n for n in set(after) & set(before) if after[n] != before[n]),
            "rules": len(after),
            "hash": fingerprint,
        }
        if before or after:  # starting with no rules at all is not a change worth a record
            await self.store.audit(self.admin, "policy.rules_changed", "policy", diff)
        await self.store.set_state(STATE, "rules", json.dumps(after, sort_keys=True))
        await self.store.set_state(STATE, "rules_hash", fingerprint)

    async def run(self) -> None:
        """Run until cancelled."""
        await self.start()
        failures = 0
        while True:
            try:
                busy = await self.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("policy: step failed (%d in a row); continuing", failures)
                await asyncio.sleep(min(30.0, self.config.poll_interval * 2**failures))
                continue
            if not busy:
                await asyncio.sleep(self.config.poll_interval)

    async def step(self) -> bool:
        """One round: a batch of the feed, due retries, the deadline sweep (when due).

        Returns:
            True when there may be more to do right away (a full batch was read).
        """
        await self.start()
        before = self.position
        events, upto = await self._feed(BATCH)
        for event in events:
            acted = await self.on_event(event)
            self.position = event.seq
            if acted:
                await self.store.set_state(STATE, "seq", str(self.position))
        self.position = max(self.position, upto)
        if self.position != before:
            await self.store.set_state(STATE, "seq", str(self.position))
        await self.fire_due_retries()
        now = self.clock()
        if now - self._last_sweep >= self.config.sweep_interval:
            self._last_sweep = now
            await self.sweep_deadlines()
            await self.reload_if_changed()
        return len(events) == BATCH

    # ------------------------------------------------------------------ live rule changes

    def watch(self, path: Path) -> None:
        """Reload the rules when this config file changes (checked at each deadline sweep).

        A rule saved from the TUI ("decide and make a rule") then applies at once. An
        invalid file is logged and ignored: the rules in force stay until it is fixed.
        """
        self._watch = path
        try:
            self._watch_mtime = path.stat().st_mtime
        except OSError:
            self._watch_mtime = None

    async def reload_if_changed(self) -> bool:
        """Re-read the watched config file if it changed; True when new rules took effect."""
        if self._watch is None:
            return False
        try:
            mtime: float | None = self._watch.stat().st_mtime
        except OSError:
            mtime = None
        if mtime == self._watch_mtime:
            return False
        self._watch_mtime = mtime
        from swarmdeck.config import ConfigError
        from swarmdeck.guardrails.config import load_guardrails

        try:
            doc = tomllib.loads(self._watch.read_text(encoding="utf-8")) if mtime else {}
            config = load_policy(doc.get("policy", {}))
            budgets = load_guardrails(doc.get("guardrails", {})).budgets
        except (OSError, tomllib.TOMLDecodeError, ConfigError) as exc:
            log.warning("policy: %s changed but cannot be used, keeping the rules in force: %s",
                        self._watch, exc)  # fmt: skip
            return False
        if config.fingerprint() == self.config.fingerprint() and list(budgets) == list(
            self.budgets.budgets
        ):
            return False
        self.config = config
        self.budgets.budgets = list(budgets)
        await self._audit_rule_change(await self.store.get_states(STATE))
        log.info("policy: reloaded %d rule(s) from %s", len(config.rules), self._watch)
        await self.catch_up()
        return True

    # ------------------------------------------------------------------ the feed

    async def _feed(self, limit: int) -> tuple[list[StoredEvent], int]:
        """The next events of the kinds the policy reads, and how far the feed was read.

        Only the kinds that matter are fetched and decoded (at tens of thousands of
        events a second most are status, log and progress noise). ``upto`` is the
        newest committed seq when the batch was not full: every event up to it was
        considered, so the position may move past the ones skipped. Writers are
        serialised, so no event at or below a committed maximum can still appear.
        """
        kinds = list(FEED_KINDS)
        if self.budgets.budgets:
            kinds.append("usage")
        newest = await self.store.last_seq()
        events = await self.store.events_since(self.position, limit, kinds=kinds, upto=newest)
        upto = events[-1].seq if len(events) == limit else newest
        return events, upto

    async def _role(self, agent: str | None) -> str | None:
        if agent is None:
            return None
        role = self._roles.get(agent)
        if role is None:
            try:
                role = (await self.store.agent(agent)).role
            except NotFound:
                return None
            self._roles[agent] = role
        return role

    async def _vendor(self, agent: str | None) -> str | None:
        if agent is None:
            return None
        vendor = self._vendors.get(agent)
        if vendor is None:
            try:
                vendor = (await self.store.agent(agent)).vendor
            except NotFound:
                return None
            if vendor is None:
                return None
            self._vendors[agent] = vendor
        return vendor

    async def on_event(self, event: StoredEvent) -> bool:
        """Apply the rules to one stored event; True when something was written."""
        if event.kind == "agent.seen" and event.agent and "role" in event.data:
            self._roles[event.agent] = str(event.data["role"])
            if "vendor" in event.data:
                self._vendors[event.agent] = str(event.data["vendor"])
            return False
        if event.kind == "usage":
            await self.budgets.on_event(event, self._role)
            return False
        if event.kind == "task.completed" and event.task in self.progress:
            del self.progress[event.task]
            await self.store.delete_state(STATE, f"task:{event.task}")
            return True
        if not self.config.rules:
            return False
        if event.kind == "task.failed" and event.task:
            return await self._on_task_failed(event)
        if event.kind == "escalation.raised" and event.source != POLICY_SOURCE:
            return await self._on_escalation(str(event.data.get("id", event.id)), event)
        return False

    async def _on_task_failed(self, event: StoredEvent) -> bool:
        assert event.task is not None
        try:
            origin: str | None = (await self.store.task(event.task)).origin
        except NotFound:
            origin = None
        subject = Subject(
            "task.failed",
            agent=event.agent,
            role=await self._role(event.agent),
            workflow=event.workflow,
            error=str(event.data.get("error", "")),
            origin=origin,
            source=event.source,
            vendor=await self._vendor(event.agent),
        )
        rule = self.config.first_match(subject)
        if rule is None:
            return False
        progress = self.progress.get(event.task)
        if progress is None or progress.rule != rule.name:
            progress = TaskProgress(rule.name)
        retryable = bool(event.data.get("retryable", True))
        steps = rule.steps()
        while progress.step < len(steps):
            step = steps[progress.step]
            if step.name == "retry":
                if retryable and progress.retries < step.max and progress.due is None:
                    progress.retries += 1
                    progress.scheduled = self.clock()
                    progress.due = progress.scheduled + step.backoff
                    progress.reason = f"retry {progress.retries} of {step.max} (rule {rule.name})"
                    await self._save(event.task, progress)
                    self.outcomes.append(
                        Outcome(rule.name, "retry.scheduled", event.task,
                                {"due": progress.due, "attempt": progress.retries})
                    )  # fmt: skip
                    if step.backoff <= 0:
                        await self.fire_due_retries()
                    return True
                if progress.due is not None:
                    return False  # a retry is already scheduled
                progress.step += 1
                progress.retries = 0
                continue
            progress.step += 1
            await self._save(event.task, progress)
            await self._task_step(rule, step, event)
            return True
        return False  # path exhausted: the humans have it

    async def _save(self, task: str, progress: TaskProgress) -> None:
        self.progress[task] = progress
        await self.store.set_state(STATE, f"task:{task}", progress.dump())

    async def _task_step(self, rule: Rule, step: Step, event: StoredEvent) -> None:
        assert event.task is not None
        actor = actor_for(rule.name)
        error = str(event.data.get("error", ""))[:200]
        if step.name == "escalate":
            await self._escalate_task(rule, step, event)
            return
        if step.name == "approve":
            held = await open_escalation_severity_of_task(self.store, event.task)
            if held is not None and not rule.may_approve(held[1]):
                self._withhold(rule, held[0], held[1])
                return
        reason = step.args.get("reason") or f"rule {rule.name}: {step.describe()}"
        if step.name == "reroute":
            reason = step.args.get("reason") or (
                f"rule {rule.name}: rerouted to {step.target} after failure: {error}"
            )
        try:
            decision = await act_on_task(
                self.store, event.task, step.action, actor=actor, reason=reason, target=step.target
            )
        except (AlreadyDecided, NotFound, InvalidDecision) as exc:
            log.info("policy %s: %s on %s skipped: %s", rule.name, step.name, event.task, exc)
            return
        await governance.set_owner(self.store, decision.escalation, rule.name)
        self.outcomes.append(Outcome(rule.name, step.name, event.task, {"target": step.target}))

    async def _escalate_task(self, rule: Rule, step: Step, event: StoredEvent) -> None:
        assert event.task is not None
        now = self.clock()
        deadline = now + step.deadline if step.deadline is not None else None
        severity = step.severity
        escalation_id = await open_escalation_of_task(self.store, event.task, newest=True)
        actor = actor_for(rule.name)
        if escalation_id is not None:
            await governance.set_escalation(
                self.store, escalation_id, actor=actor, action="policy.escalate",
                severity=severity, deadline=deadline, rule=rule.name,
                detail={"rule": rule.name, "step": step.describe()},
            )  # fmt: skip
        else:
            task = await self.store.task(event.task)
            escalation_id = f"policy-{event.task}-{int(now * 1000)}"[:200]
            error = str(event.data.get("error", ""))
            data: dict[str, Any] = {
                "id": escalation_id,
                "kind": "failure",
                "title": f"{task.title or task.id} keeps failing: {error}"[:500],
                "body": (
                    f"Rule {rule.name} ran its path ({' -> '.join(rule.path)}) and the task "
                    f"still fails.\n\nLast error: {error}"
                ),
                "severity": severity or "normal",
            }
            if deadline is not None:
                data["deadline"] = datetime.fromtimestamp(deadline, UTC)
            raised = make_event(
                "escalation.raised", id=escalation_id, ts=datetime.fromtimestamp(now, UTC),
                source=POLICY_SOURCE, agent=event.agent, task=event.task,
                workflow=event.workflow, data=data,
            )  # fmt: skip
            await self.store.append([raised], origin=task.origin)
            await governance.set_owner(self.store, escalation_id, rule.name)
            await self.store.audit(
                actor, "policy.escalate", escalation_id,
                {"rule": rule.name, "task": event.task, "severity": data["severity"],
                 "deadline": deadline, "step": step.describe()},
            )  # fmt: skip
        self.outcomes.append(
            Outcome(rule.name, "escalate", event.task,
                    {"escalation": escalation_id, "severity": severity, "deadline": deadline})
        )  # fmt: skip

    async def check_escalation(self, escalation_id: str) -> bool:
        """Apply the rules to one open escalation now; True when a rule acted on it.

        The hook command (and the collector's hook socket) call this for the escalation
        they are about to wait on, so a rule answers at once, whether or not a collector
        runs. The feed later finds the escalation decided, or owned, and leaves it.
        """
        return await self._on_escalation(escalation_id)

    async def catch_up(self) -> int:
        """Apply the rules to every open escalation no rule has acted on, however old.

        The feed only shows what arrives after the policy's position; an escalation raised
        before the first start, or before the rule that matches it, would otherwise wait
        for a human (and its deadline path) forever. Returns how many a rule acted on.
        """
        if not self.config.rules:
            return 0
        acted = 0
        for esc in await self.store.escalations(state="open"):
            if esc.source != POLICY_SOURCE and await self._on_escalation(esc.id):
                acted += 1
        return acted

    async def _on_escalation(self, escalation_id: str, raised: StoredEvent | None = None) -> bool:
        # One at a time: the feed, the catch-up and a waiting hook may ask about the same
        # escalation at once, and an "escalate" step must be applied (and audited) once.
        async with self._escalation_lock:
            try:
                esc = await self.store.escalation(escalation_id)
            except NotFound:
                return False
            if esc.state != "open" or await governance.owner(self.store, esc.id) is not None:
                return False  # decided, or a rule already acted on it (it owns the expiry)
            tool = raised.data.get("tool") if raised is not None else await self._tool_of(esc)
            rule = self.config.first_match(await self._subject(esc, tool))
            if rule is None:
                return False
            step = rule.steps()[0]
            await self._apply_to_escalation(rule, step, esc, why="matched")
            return True

    async def _tool_of(self, esc: Escalation) -> str | None:
        """The structured tool name of the event that raised ``esc`` (None when pruned)."""
        for event in await self.store.events_since(esc.raised_seq - 1, 1):
            if event.kind == "escalation.raised" and event.data.get("id") == esc.id:
                tool = event.data.get("tool")
                return str(tool) if tool is not None else None
        return None

    async def _subject(self, esc: Escalation, tool: Any = None) -> Subject:
        return Subject(
            "escalation.raised",
            agent=esc.agent,
            role=await self._role(esc.agent),
            workflow=esc.workflow,
            escalation_kind=esc.kind,
            severity=esc.severity,
            title=esc.title,
            origin=esc.origin,
            source=esc.source,
            tool=str(tool) if tool is not None else None,
            vendor=await self._vendor(esc.agent),
        )

    def _withhold(self, rule: Rule, escalation_id: str, severity: str) -> None:
        """An approve the severity guard refused: the escalation stays for a human."""
        log.info("policy %s: not approving %s escalation %s (the rule does not name "
                 "severity %s); left for a human", rule.name, severity, escalation_id,
                 severity)  # fmt: skip
        self.outcomes.append(
            Outcome(rule.name, "approve.withheld", escalation_id, {"severity": severity})
        )

    async def _apply_to_escalation(self, rule: Rule, step: Step, esc: Escalation, why: str) -> None:
        actor = actor_for(rule.name)
        if step.name == "escalate":
            deadline = self.clock() + step.deadline if step.deadline is not None else None
            await governance.set_escalation(
                self.store, esc.id, actor=actor, action="policy.escalate",
                severity=step.severity, deadline=deadline, rule=rule.name,
                detail={"rule": rule.name, "step": step.describe()},
            )  # fmt: skip
            self.outcomes.append(Outcome(rule.name, "escalate", esc.id))
            return
        if step.name == "approve" and not rule.may_approve(esc.severity):
            self._withhold(rule, esc.id, esc.severity)
            return
        reason = step.args.get("reason") or f"rule {rule.name} ({why}): {step.describe()}"
        try:
            await self.store.decide(esc.id, step.action, actor=actor, reason=reason,
                                    target=step.target)  # fmt: skip
        except (AlreadyDecided, NotFound, InvalidDecision) as exc:
            log.info("policy %s: %s on %s skipped: %s", rule.name, step.name, esc.id, exc)
            return
        await governance.set_owner(self.store, esc.id, rule.name)
        self.outcomes.append(Outcome(rule.name, step.name, esc.id, {"why": why}))

    # ------------------------------------------------------------------ timers

    async def fire_due_retries(self) -> None:
        """Send the retries whose backoff has passed."""
        now = self.clock()
        for task_id, progress in list(self.progress.items()):
            if progress.due is None or progress.due > now:
                continue
            progress.due = None
            await self._save(task_id, progress)
            try:
                task = await self.store.task(task_id)
            except NotFound:
                continue
            if task.state != "failed":
                continue  # someone else retried or it recovered meanwhile
            human = await last_human_decision_on_task(
                self.store, task_id, since=progress.scheduled or 0.0
            )
            if human is not None:
                log.info("policy %s: retry of %s dropped: %s decided %s meanwhile",
                         progress.rule, task_id, human.actor, human.action)  # fmt: skip
                self.outcomes.append(
                    Outcome(progress.rule, "retry.dropped", task_id, {"by": human.actor})
                )
                continue
            try:
                decision = await act_on_task(
                    self.store, task_id, "retry", actor=actor_for(progress.rule),
                    reason=progress.reason,
                )  # fmt: skip
            except (AlreadyDecided, NotFound, InvalidDecision) as exc:
                log.info("policy %s: retry of %s skipped: %s", progress.rule, task_id, exc)
                continue
            await governance.set_owner(self.store, decision.escalation, progress.rule)
            self.outcomes.append(
                Outcome(progress.rule, "retry", task_id, {"attempt": progress.retries})
            )

    async def sweep_deadlines(self) -> list[str]:
        """Raise severity on every open escalation whose deadline passed; run ``on_expiry``.

        Returns:
            The ids of escalations handled in this sweep.
        """
        handled = []
        for escalation_id, deadline, _severity in await governance.expired_unhandled(
            self.store, self.clock()
        ):
            owner = await governance.owner(self.store, escalation_id)
            rule = self.config.rule(owner) if owner else None
            if rule is None:
                try:
                    esc = await self.store.escalation(escalation_id)
                except NotFound:
                    continue
                rule = self.config.first_match(await self._subject(esc, await self._tool_of(esc)))
            actor = actor_for(rule.name) if rule else "policy:deadline"
            new = await governance.expire(
                self.store, escalation_id, deadline, actor=actor,
                detail={"rule": rule.name if rule else None},
            )  # fmt: skip
            if new is None:
                continue
            handled.append(escalation_id)
            self.outcomes.append(
                Outcome(rule.name if rule else "deadline", "deadline_expired", escalation_id,
                        {"severity": new})
            )  # fmt: skip
            step = rule.expiry_step() if rule else None
            if rule is not None and step is not None:
                esc = await self.store.escalation(escalation_id)
                await self._apply_to_escalation(rule, step, esc, why="deadline passed")
        return handled
