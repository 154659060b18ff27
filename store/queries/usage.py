"""Token and cost totals summed from ``usage`` events (budgets, metrics).

The JSON of an event's ``data`` is read with each backend's own functions
(``json_extract`` in SQLite, ``->>`` in PostgreSQL) behind the same named queries.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from swarmdeck.store.base import Dialect
from swarmdeck.store.db import Store

#: Per dialect: tokens (in + out) and cost of one ``usage`` event's JSON ``data``.
_TOKENS: dict[Dialect, str] = {
    # As REAL: SQLite's SUM() of integers fails with "integer overflow" past int64, and
    # two events of int64-max tokens (each valid) would make a budget's query fail.
    "sqlite": "CAST(COALESCE(json_extract(data, '$.tokens_in'), 0) AS REAL) + "
    "CAST(COALESCE(json_extract(data, '$.tokens_out'), 0) AS REAL)",
    "postgres": "COALESCE((data::jsonb ->> 'tokens_in')::float8, 0) + "
    "COALESCE((data::jsonb ->> 'tokens_out')::float8, 0)",
}
_COST: dict[Dialect, str] = {
    "sqlite": "COALESCE(json_extract(data, '$.cost_usd'), 0)",
    "postgres": "COALESCE((data::jsonb ->> 'cost_usd')::float8, 0)",
}
#: Per dialect: the bucket number of ``ts`` (SQLite's CAST truncates, PostgreSQL's rounds).
_BUCKET: dict[Dialect, str] = {
    "sqlite": "CAST((ts - ?) / ? AS INTEGER)",
    "postgres": "FLOOR((ts - ?) / ?)::bigint",
}


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
        f"SELECT COALESCE(SUM({_TOKENS[store.dialect]}), 0), "
        f"COALESCE(SUM({_COST[store.dialect]}), 0) "
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
        f"SELECT {_BUCKET[store.dialect]}, SUM({_COST[store.dialect]}) "
        "FROM events WHERE kind = 'usage' AND ts >= ? AND ts <= ? GROUP BY 1",
        (since, width, since, until),
    )
    return [CostBucket(int(b), float(total or 0.0)) for b, total in found]
