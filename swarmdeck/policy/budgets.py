"""Budgets: tokens or cost per agent (or per workflow) per period.

The policy service feeds every ``usage`` event it reads from the change feed to a
:class:`BudgetWatcher`. Totals live in memory and are seeded from the stored events
the first time a (budget, agent-or-workflow, period) is seen, so a restart neither
forgets spending nor counts it twice. Periods are aligned to the epoch (UTC).

Crossing a limit raises one ``budget`` escalation per period: its id is derived from
(budget, scope, period start), and the store ignores a second event with the same id,
which makes "once per period" hold across restarts too.

**Pausing** (``pause = true``) is an automatic ``reject`` decision, actor
``policy:budget:<name>``, on the agent's current task (through
``store.actions.act_on_task``), with the reason "paused: budget ... exceeded". What that
means depends on the adapter that owns the task:

* ``demo``: the simulated agent receives the reject and stops working on the task;
* ``http`` / ``claude-code`` / ``mcp``: the reject is delivered like any decision, and
  the agent system decides how to stop (a hook answers "deny");
* one-way adapters (``jsonl``): nothing can be delivered; the escalation still shows.

An agent with no current task is not paused (only the escalation is raised).
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from swarmdeck.guardrails.config import BudgetConfig
from swarmdeck.store.actions import act_on_task
from swarmdeck.store.db import Store
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound
from swarmdeck.store.events import make_event
from swarmdeck.store.models import StoredEvent
from swarmdeck.store.queries.usage import usage_totals

log = logging.getLogger("swarmdeck.policy.budgets")

BUDGET_SOURCE = "policy"


class BudgetWatcher:
    def __init__(self, budgets: list[BudgetConfig], store: Store) -> None:
        self.budgets = budgets
        self.store = store
        self._totals: dict[tuple[str, str, float], list[float]] = {}
        self._crossed: set[tuple[str, str, float]] = set()
        self.raised: list[str] = []

    async def on_event(
        self, event: StoredEvent, role_of: Callable[[str | None], Awaitable[str | None]]
    ) -> None:
        if event.kind != "usage" or not self.budgets:
            return
        tokens = int(event.data.get("tokens_in", 0)) + int(event.data.get("tokens_out", 0))
        cost = float(event.data.get("cost_usd", 0.0))
        for budget in self.budgets:
            if budget.agent and not (
                event.agent and fnmatch.fnmatchcase(event.agent, budget.agent)
            ):
                continue
            if budget.workflow and not (
                event.workflow and fnmatch.fnmatchcase(event.workflow, budget.workflow)
            ):
                continue
            if budget.role:
                role = await role_of(event.agent)
                if not (role and fnmatch.fnmatchcase(role, budget.role)):
                    continue
            scope = event.agent if budget.per == "agent" else event.workflow
            if not scope:
                continue
            period = budget.period_seconds()
            start = (event.ts // period) * period
            key = (budget.name, scope, start)
            if key in self._crossed:
                continue
            total = self._totals.get(key)
            if total is None:
                total = self._totals[key] = await self._seed(
                    budget, scope, start, period, event.seq
                )
            total[0] += tokens
            total[1] += cost
            over_tokens = budget.max_tokens is not None and total[0] > budget.max_tokens
            over_cost = budget.max_cost_usd is not None and total[1] > budget.max_cost_usd
            if over_tokens or over_cost:
                self._crossed.add(key)
                self._totals.pop(key, None)
                await self._cross(budget, scope, start, total, event)
        # Old periods: drop the oldest half (a crossed key forgotten is re-checked against
        # the store, and the escalation's fixed id still keeps it to once per period).
        if len(self._totals) > 50_000:
            for key in sorted(self._totals, key=lambda k: k[2])[: len(self._totals) // 2]:
                del self._totals[key]
        if len(self._crossed) > 50_000:
            for key in sorted(self._crossed, key=lambda k: k[2])[: len(self._crossed) // 2]:
                self._crossed.discard(key)

    async def _seed(
        self, budget: BudgetConfig, scope: str, start: float, period: float, before_seq: int
    ) -> list[float]:
        used = await usage_totals(
            self.store, per=budget.per, scope=scope, since=start, until=start + period,
            before_seq=before_seq,
        )  # fmt: skip
        return [used.tokens, used.cost_usd]

    async def _cross(
        self,
        budget: BudgetConfig,
        scope: str,
        start: float,
        total: list[float],
        event: StoredEvent,
    ) -> None:
        digest = hashlib.sha256(f"{budget.name}\x1f{scope}\x1f{start}".encode()).hexdigest()[:16]
        escalation_id = f"budget-{budget.name}-{digest}"
        period_text = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
        limits = []
        if budget.max_tokens is not None:
            limits.append(f"{int(total[0]):,} of {budget.max_tokens:,} tokens")
        if budget.max_cost_usd is not None:
            limits.append(f"${total[1]:.2f} of ${budget.max_cost_usd:.2f}")
        what = f"{budget.per} {scope}"
        title = f"budget {budget.name} exceeded by {what}: {', '.join(limits)}"
        origin = BUDGET_SOURCE
        task_id: str | None = None
        if event.agent:
            try:
                agent = await self.store.agent(event.agent)
                origin = agent.origin
                task_id = agent.task
            except NotFound:
                pass
        raised = make_event(
            "escalation.raised",
            id=escalation_id,
            ts=datetime.fromtimestamp(event.ts, UTC),
            source=BUDGET_SOURCE,
            agent=event.agent if budget.per == "agent" else None,
            workflow=event.workflow,
            data={
                "id": escalation_id,
                "kind": "budget",
                "title": title,
                "body": (
                    f"Budget {budget.name} ({budget.period} period from {period_text}) was "
                    f"crossed by {what}.\n"
                    + ("The agent was paused (its current task rejected)." if budget.pause else "")
                ),
                "severity": budget.severity,
            },
        )
        result = await self.store.append([raised], origin=origin)
        if result.accepted == 0:
            return  # raised before (this period, before a restart): do not pause twice
        self.raised.append(escalation_id)
        actor = f"policy:budget:{budget.name}"
        await self.store.audit(
            actor, "budget.exceeded", escalation_id,
            {"budget": budget.name, "scope": what, "period_start": start,
             "tokens": total[0], "cost_usd": round(total[1], 6), "pause": budget.pause},
        )  # fmt: skip
        if budget.pause and budget.per == "agent" and task_id:
            try:
                await act_on_task(
                    self.store,
                    task_id,
                    "reject",
                    actor=actor,
                    reason=f"paused: budget {budget.name} exceeded ({', '.join(limits)})",
                )
            except (NotFound, AlreadyDecided, InvalidDecision) as exc:
                log.info("budget %s: could not pause %s: %s", budget.name, scope, exc)
