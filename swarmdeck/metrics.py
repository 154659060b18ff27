"""Outcome velocity: how much the swarm gets done, and how much it waits for humans.

The same numbers feed ``swarmdeck report`` and the TUI's ``:metrics`` screen:

* completed tasks per hour;
* human wait: median and p90 time from an escalation being raised to a human's
  decision (decisions made on a task directly, which raise and decide at once, are
  left out: they are not waits);
* auto-resolution ratio: decisions by a policy (actor ``policy:*``) over all decisions;
* retries per task: retry decisions over the tasks active in the period;
* cost per completed task: the cost of every ``usage`` event in the period over the
  tasks completed in it;

plus the series behind the sparklines, in equal buckets over the period.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from swarmdeck.store.db import Store
from swarmdeck.store.queries import metrics as q
from swarmdeck.store.queries.usage import usage_cost_by_bucket

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """``▁▃█▅``: one character per value, scaled to the largest (all zero: a flat line)."""
    if not values:
        return ""
    top = max(values)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(
        SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] for v in values
    )


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (no interpolation: a real observed wait)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


@dataclass(slots=True)
class Velocity:
    since: float
    until: float
    completed: int = 0
    failed: int = 0
    human_decisions: int = 0
    policy_decisions: int = 0
    wait_median: float | None = None
    wait_p90: float | None = None
    retries: int = 0
    active_tasks: int = 0
    cost_usd: float = 0.0
    bucket_seconds: float = 3600.0
    series: dict[str, list[float]] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return max(self.until - self.since, 1.0) / 3600.0

    @property
    def completed_per_hour(self) -> float:
        return self.completed / self.hours

    @property
    def auto_ratio(self) -> float | None:
        total = self.human_decisions + self.policy_decisions
        return None if total == 0 else self.policy_decisions / total

    @property
    def retries_per_task(self) -> float | None:
        return None if self.active_tasks == 0 else self.retries / self.active_tasks

    @property
    def cost_per_completed(self) -> float | None:
        return None if self.completed == 0 else self.cost_usd / self.completed

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "hours": round(self.hours, 3),
            "completed": self.completed,
            "failed": self.failed,
            "completed_per_hour": round(self.completed_per_hour, 3),
            "human_wait_median_s": self.wait_median,
            "human_wait_p90_s": self.wait_p90,
            "human_decisions": self.human_decisions,
            "policy_decisions": self.policy_decisions,
            "auto_resolution_ratio": self.auto_ratio,
            "retries": self.retries,
            "active_tasks": self.active_tasks,
            "retries_per_task": self.retries_per_task,
            "cost_usd": round(self.cost_usd, 6),
            "cost_per_completed_task": self.cost_per_completed,
            "bucket_seconds": self.bucket_seconds,
            "series": self.series,
        }

    def rows(self) -> list[tuple[str, str, str]]:
        """``(metric, value, sparkline)`` for a table (CLI and TUI show the same)."""
        s = self.series
        return [
            ("completed tasks / hour", f"{self.completed_per_hour:.1f}  ({self.completed} done)",
             sparkline(s.get("completed", []))),
            ("human wait (median)", fmt_duration(self.wait_median),
             sparkline(s.get("wait_median", []))),
            ("human wait (p90)", fmt_duration(self.wait_p90), ""),
            ("auto-resolution (policy / all)", fmt_ratio(self.auto_ratio)
             + f"  ({self.policy_decisions} policy, {self.human_decisions} human)",
             sparkline(s.get("policy_decisions", []))),
            ("retries per task", "-" if self.retries_per_task is None
             else f"{self.retries_per_task:.2f}  ({self.retries} retries)",
             sparkline(s.get("retries", []))),
            ("cost per completed task", "-" if self.cost_per_completed is None
             else f"${self.cost_per_completed:.4f}  (${self.cost_usd:.2f} total)",
             sparkline(s.get("cost", []))),
        ]  # fmt: skip


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


async def velocity(store: Store, *, since: float, until: float, buckets: int = 12) -> Velocity:
    """Outcome velocity over ``[since, until]``, with ``buckets`` sparkline points."""
    buckets = max(1, buckets)
    width = max(until - since, 1.0) / buckets
    v = Velocity(since=since, until=until, bucket_seconds=width)

    def bucket(ts: float) -> int:
        return min(buckets - 1, max(0, int((ts - since) // width)))

    completed = [0.0] * buckets
    for ended in await q.completed_task_ends(store, since=since, until=until):
        completed[bucket(ended)] += 1
    v.completed = int(sum(completed))
    v.failed = await q.failed_task_count(store, since=since, until=until)
    v.active_tasks = await q.active_task_count(store, since=since, until=until)

    human = [0.0] * buckets
    policy = [0.0] * buckets
    retries = [0.0] * buckets
    waits: list[float] = []
    bucket_waits: list[list[float]] = [[] for _ in range(buckets)]
    for ts, actor, action, raised_ts, source, esc_id in await q.decisions_between(
        store, since=since, until=until
    ):
        b = bucket(ts)
        if action == "retry":
            retries[b] += 1
        if str(actor).startswith("policy:"):
            policy[b] += 1
            continue
        human[b] += 1
        if source == "swarmdeck" and str(esc_id).startswith("task-"):
            continue  # decided on a task directly: raised and decided at once, not a wait
        wait = max(0.0, float(ts) - float(raised_ts))
        waits.append(wait)
        bucket_waits[b].append(wait)
    v.human_decisions = int(sum(human))
    v.policy_decisions = int(sum(policy))
    v.retries = int(sum(retries))
    if waits:
        v.wait_median = statistics.median(waits)
        v.wait_p90 = percentile(waits, 90)

    cost = [0.0] * buckets
    for b, total in await usage_cost_by_bucket(store, since=since, until=until, width=width):
        cost[min(buckets - 1, max(0, b))] += total
    v.cost_usd = sum(cost)
    v.series = {
        "completed": completed,
        "human_decisions": human,
        "policy_decisions": policy,
        "retries": retries,
        "cost": [round(c, 6) for c in cost],
        "wait_median": [statistics.median(w) if w else 0.0 for w in bucket_waits],
    }
    return v
