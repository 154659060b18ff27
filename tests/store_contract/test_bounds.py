"""Contract: what validation lets through, every backend stores (issue 9, item 1).

Counters are int64 at the door; their sums saturate at int64's end instead of failing
the batch (a batch that fails is retried, and everything behind it waits).
"""

from __future__ import annotations

from swarmdeck.store.events import INT64_MAX
from swarmdeck.store.queries.usage import usage_totals
from tests.helpers import ev
from tests.helpers.events import BASE
from tests.store_contract.harness import StoreFactory


async def test_token_counters_saturate_at_int64(store_factory: StoreFactory) -> None:
    store = await store_factory()
    most = {"tokens_in": INT64_MAX, "tokens_out": INT64_MAX, "cost_usd": 1e12}
    # Two in one batch (the fold adds them) and one more in a later batch (the upsert does).
    await store.append(
        [ev("usage", agent="a", task="T", data=most), ev("usage", agent="a", task="T", data=most)],
        origin="o",
    )
    await store.append([ev("usage", agent="a", task="T", data=most)], origin="o")
    agent = await store.agent("a")
    assert (agent.tokens_in, agent.tokens_out) == (INT64_MAX, INT64_MAX)
    task = await store.task("T")
    assert (task.tokens_in, task.tokens_out) == (INT64_MAX, INT64_MAX)
    # A budget's running total over them is a number, not an "integer overflow".
    totals = await usage_totals(
        store, per="agent", scope="a", since=0, until=BASE.timestamp() + 1, before_seq=10**9
    )
    assert totals.tokens >= 6 * float(INT64_MAX) * 0.99
    assert totals.cost_usd == 3e12
