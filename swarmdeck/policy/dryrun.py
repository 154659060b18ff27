"""The policy dry run: replay stored history against a rule set and compare with what happened.

``swarmdeck policy test`` and the TUI's "decide and make a rule" both show this
report before a rule goes live. Nothing is written: the replay walks the stored
events (``escalation.raised``, ``task.failed``) in order, applies the same matching
the live engine uses, and for each match looks at what actually happened to that
escalation or task (decided by a human, by a policy, still open, withdrawn).

For a rule that would decide requests the headline reads like
"rule routine-reads would have auto-approved 37 of 40 requests; 3 were rejected by
a human": of the 40 matching requests that a human decided, 37 were decided the way
the rule would have, and 3 otherwise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.policy.engine import POLICY_SOURCE
from swarmdeck.policy.rules import PolicyConfig, Subject
from swarmdeck.store.db import Store
from swarmdeck.store.errors import NotFound
from swarmdeck.store.queries.dryrun import agent_roles, agent_vendors, escalation_outcome
from swarmdeck.store.queries.tasks import task_ids_in_state

#: The kinds the replay reads: roles as they were, requests, failures.
_HISTORY_KINDS = ("agent.seen", "escalation.raised", "task.failed")

_PAST = {
    "approve": "approved",
    "reject": "rejected",
    "retry": "retried",
    "reroute": "rerouted",
    "answer": "answered",
    "escalate": "escalated",
}


def past(action: str) -> str:
    return _PAST.get(action, f"{action}ed")


@dataclass(slots=True)
class RuleReport:
    """What one rule would have done over the replayed history."""

    rule: str
    subject: str
    """``requests`` (escalation rules) or ``failures`` (task rules)."""
    first_step: str
    matched: int = 0
    would: Counter[str] = field(default_factory=Counter)
    """Actions the rule would have taken, by step name."""
    human_agreed: int = 0
    human_differed: Counter[str] = field(default_factory=Counter)
    """Requests a human decided differently, by the human's action."""
    by_policy: int = 0
    withheld: int = 0
    """High/critical requests an ``approve`` would have left to a human (severity unnamed)."""
    still_open: int = 0
    withdrawn: int = 0
    tasks: set[str] = field(default_factory=set)
    tasks_completed: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def human_decided(self) -> int:
        return self.human_agreed + sum(self.human_differed.values())

    def headline(self) -> str:
        if self.matched == 0:
            return f"rule {self.rule} matched nothing in this period"
        if self.subject == "requests":
            action = self.first_step
            if action == "escalate":
                text = f"rule {self.rule} would have escalated {self.matched} requests"
            elif self.human_decided:
                differed = ", ".join(
                    f"{n} {'was' if n == 1 else 'were'} {past(a)} by a human"
                    for a, n in self.human_differed.most_common()
                )
                if self.human_decided == self.matched:
                    text = (
                        f"rule {self.rule} would have auto-{past(action)} {self.human_agreed} "
                        f"of {self.human_decided} requests"
                    )
                    if differed:
                        text += f"; {differed}"
                else:
                    # Say what it matched first, or "0 of 2" reads against "matched 6".
                    parts = [(action, self.human_agreed), *self.human_differed.most_common()]
                    said = [f"{n} {'was' if n == 1 else 'were'} {past(a)}" for a, n in parts]
                    outcome = said[0] if len(said) == 1 else ", ".join(said[:-1])
                    if len(said) > 1:
                        outcome += f" and {said[-1]}"
                    text = (
                        f"rule {self.rule} matched {self.matched} requests and would have "
                        f"auto-{past(action)} them; of the {self.human_decided} a human "
                        f"decided, {outcome}"
                    )
            else:
                text = (
                    f"rule {self.rule} would have auto-{past(action)} {self.would[action]} requests"
                )
            extra = []
            if self.withheld:
                extra.append(f"{self.withheld} high/critical left to a human")
            if self.still_open:
                extra.append(f"{self.still_open} still open")
            if self.withdrawn:
                extra.append(f"{self.withdrawn} withdrawn")
            if self.by_policy:
                extra.append(f"{self.by_policy} already decided by a policy")
            if extra and (self.human_decided or action == "escalate"):
                text += f" ({', '.join(extra)})"
            elif extra:
                text += f" ({', '.join(extra)}; none decided by a human to compare with)"
            return text
        steps = ", ".join(f"{past(a)} {n}" for a, n in self.would.most_common())
        n_tasks = len(self.tasks)
        return (
            f"rule {self.rule} matched {self.matched} failures of {n_tasks} "
            f"task{'s' if n_tasks != 1 else ''}: would have {steps or 'done nothing'}; "
            f"{self.tasks_completed} of those tasks completed in the end"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "subject": self.subject,
            "first_step": self.first_step,
            "matched": self.matched,
            "would": dict(self.would),
            "human_decided": self.human_decided,
            "human_agreed": self.human_agreed,
            "human_differed": dict(self.human_differed),
            "by_policy": self.by_policy,
            "withheld": self.withheld,
            "still_open": self.still_open,
            "withdrawn": self.withdrawn,
            "tasks": len(self.tasks),
            "tasks_completed": self.tasks_completed,
            "examples": self.examples,
            "summary": self.headline(),
        }


@dataclass(slots=True)
class DryRunReport:
    since: float | None
    events: int = 0
    requests: int = 0
    failures: int = 0
    rules: list[RuleReport] = field(default_factory=list)

    def unmatched_requests(self) -> int:
        return self.requests - sum(r.matched for r in self.rules if r.subject == "requests")

    def lines(self) -> list[str]:
        out = [r.headline() for r in self.rules]
        out.append(
            f"{self.requests} requests and {self.failures} task failures replayed; "
            f"{self.unmatched_requests()} requests matched no rule"
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "events": self.events,
            "requests": self.requests,
            "failures": self.failures,
            "unmatched_requests": self.unmatched_requests(),
            "rules": [r.to_dict() for r in self.rules],
        }


async def dry_run(
    store: Store, config: PolicyConfig, *, since: float | None = None, page: int = 5000
) -> DryRunReport:
    """Replay history since ``since`` (epoch seconds; None: all) against ``config``."""
    report = DryRunReport(since=since)
    by_rule: dict[str, RuleReport] = {}
    for rule in config.rules:
        kinds = rule.match.kinds()
        about = "requests" if "escalation.raised" in kinds else "failures"
        rr = RuleReport(rule.name, about, rule.steps()[0].name)
        by_rule[rule.name] = rr
        report.rules.append(rr)
    roles = await agent_roles(store)
    vendors = await agent_vendors(store)
    # Per-task progress along each rule's path, as the live engine would have kept it.
    progress: dict[str, tuple[str, int, int]] = {}
    task_rules: dict[str, set[str]] = {}
    position = 0
    while True:
        history = await store.events_since(position, page, kinds=_HISTORY_KINDS, since_ts=since)
        if not history:
            break
        for event in history:
            position = event.seq
            report.events += 1
            kind, agent, task, workflow = event.kind, event.agent, event.task, event.workflow
            data: dict[str, Any] = event.data
            if kind == "agent.seen":
                if agent and data.get("role"):
                    roles[agent] = str(data["role"])
                if agent and data.get("vendor"):
                    vendors[agent] = str(data["vendor"])
                continue
            if kind == "escalation.raised":
                if event.source == POLICY_SOURCE:
                    continue
                report.requests += 1
                severity = str(data.get("severity", "normal"))
                tool = data.get("tool")
                subject = Subject(
                    kind, agent=agent, role=roles.get(agent or ""), workflow=workflow,
                    escalation_kind=data.get("kind"), severity=severity,
                    title=str(data.get("title", "")), source=event.source,
                    origin=await _origin(store, str(data.get("id", ""))),
                    tool=str(tool) if tool is not None else None,
                    vendor=vendors.get(agent or ""),
                )  # fmt: skip
                esc_rule = config.first_match(subject)
                if esc_rule is None:
                    continue
                rr = by_rule[esc_rule.name]
                rr.matched += 1
                if rr.first_step == "approve" and not esc_rule.may_approve(severity):
                    rr.withheld += 1
                    continue
                rr.would[rr.first_step] += 1
                await _compare(store, rr, str(data.get("id", "")))
            elif kind == "task.failed" and task:
                report.failures += 1
                subject = Subject(
                    kind, agent=agent, role=roles.get(agent or ""), workflow=workflow,
                    error=str(data.get("error", "")), vendor=vendors.get(agent or ""),
                )  # fmt: skip
                task_rule = config.first_match(subject)
                if task_rule is None:
                    continue
                rule = task_rule
                rr = by_rule[rule.name]
                rr.matched += 1
                rr.tasks.add(task)
                task_rules.setdefault(task, set()).add(rule.name)
                name, step_i, retries = progress.get(task, (rule.name, 0, 0))
                if name != rule.name:
                    step_i, retries = 0, 0
                steps = rule.steps()
                retryable = bool(data.get("retryable", True))
                action = None
                while step_i < len(steps):
                    step = steps[step_i]
                    if step.name == "retry":
                        if retryable and retries < step.max:
                            retries += 1
                            action = "retry"
                            break
                        step_i, retries = step_i + 1, 0
                        continue
                    action = step.name
                    step_i += 1
                    break
                progress[task] = (rule.name, step_i, retries)
                rr.would[action or "nothing"] += 1
                if len(rr.examples) < 5 and task not in rr.examples:
                    rr.examples.append(task)
    if task_rules:
        done = await task_ids_in_state(store, "done")
        for task, names in task_rules.items():
            if task in done:
                for name in names:
                    by_rule[name].tasks_completed += 1
    return report


async def _origin(store: Store, escalation_id: str) -> str | None:
    """The adapter instance that ingested an escalation (events do not keep it)."""
    try:
        return (await store.escalation(escalation_id)).origin
    except NotFound:
        return None


async def _compare(store: Store, rr: RuleReport, escalation_id: str) -> None:
    outcome = await escalation_outcome(store, escalation_id)
    if outcome is None:
        return
    state, decided_by, action = outcome
    if len(rr.examples) < 5:
        rr.examples.append(escalation_id)
    if state == "open":
        rr.still_open += 1
    elif state == "withdrawn":
        rr.withdrawn += 1
    elif decided_by and str(decided_by).startswith("policy:"):
        rr.by_policy += 1
    elif action == rr.first_step:
        rr.human_agreed += 1
    else:
        rr.human_differed[str(action)] += 1
