"""Token and cost totals summed from ``usage`` events (budgets, metrics)."""

from __future__ import annotations

from typing import Literal, NamedTuple

from swarmdeck.store.db import Store

_TOKENS = (
    "COALESCE(json_extract(data, '$.tokens_in'), 0) + "
    "COALESCE(json_extract(data, '$.tokens_out'), 0)"
)
_COST = "COALESCE(json_extract(data, '$.cost_usd'), 0)"


class UsageTotals(NamedTuple):
    tokens: float
    """Tokens in plus tokens out."""
    cost_usd: float


class CostBucket(NamedTuple):
    bucket: int
    """``(ts - since) // width``: may fall outside the caller's buckets at the edges."""
    cost_usd: float


async def usage_totals(
    store: Store,
    *,
    per: Literal["agent", "workflow"],
    scope: str,
    since: float,
    until: float,
    before_seq: int,
) -> UsageTotals:
    """What one agent (or workflow) used in ``[since, until)``, counting only events
    stored before ``before_seq`` (a budget seeds its running total from history)."""
    column = "agent" if per == "agent" else "workflow"
    row = await store._fetchone(
        f"SELECT COALESCE(SUM({_TOKENS}), 0), COALESCE(SUM({_COST}), 0) "
        f"FROM events WHERE kind = 'usage' AND {column} = ? AND ts >= ? AND ts < ? "
        "AND seq < ?",
        (scope, since, until, before_seq),
    )
    return UsageTotals(float(row[0]), float(row[1])) if row else UsageTotals(0.0, 0.0)


async def usage_cost_by_bucket(
    store: Store, *, since: float, until: float, width: float
) -> list[CostBucket]:
    """The cost of ``usage`` events in ``[since, until]``, summed per ``width`` seconds."""
    found = await store._fetchall(
        f"SELECT CAST((ts - ?) / ? AS INTEGER), SUM({_COST}) "
        "FROM events WHERE kind = 'usage' AND ts >= ? AND ts <= ? GROUP BY 1",
        (since, width, since, until),
    )
    return [CostBucket(int(b), float(total or 0.0)) for b, total in found]
