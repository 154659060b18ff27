"""Throughput of the policy service following the change feed, against reading the feed alone.

    make bench-policy        (.venv/bin/python -m benchmarks.policy_feed)

100,000 typical events plus 500 approval requests (half match a rule and are approved
automatically), stored first; then the service replays the feed from the start. The floor,
measured in the same run on the same store, is paging through the feed with no rules: what
the engine adds on top of that is matching, its own state and the decisions it writes.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.ingest_filter import make_events
from swarmdeck.policy import PolicyService, load_policy
from swarmdeck.store.db import Store
from swarmdeck.store.events import make_event

RULES = {
    "rules": [
        {"name": "flaky", "match": {"kind": "task.failed", "error": "(?i)timeout"},
         "path": ["retry(max=2, backoff=30s)"]},
        {"name": "reads", "match": {"escalation_kind": "approval", "title": "^Read"},
         "path": ["approve"]},
    ]
}  # fmt: skip


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "p.db") as store:
            events = make_events(100_000, None)
            ts = datetime(2026, 11, 23, tzinfo=UTC)
            requests = [
                make_event("escalation.raised", id=f"x{i}", source="b", ts=ts,
                           data={"id": f"A{i}", "kind": "approval",
                                 "title": "Bash ls" if i % 2 else "Read x"})
                for i in range(500)
            ]  # fmt: skip
            for j in range(0, len(events), 1000):
                await store.append(
                    events[j : j + 1000] + requests[j // 200 : j // 200 + 5], origin="b"
                )
            start = time.perf_counter()
            position, read = 0, 0
            while page := await store.events_since(position, 5000):
                position, read = page[-1].seq, read + len(page)
            floor = read / (time.perf_counter() - start)
            service = PolicyService(load_policy(RULES), store, time.time)
            await store.set_state("policy", "seq", "0")
            await service.start()
            start = time.perf_counter()
            while await service.step():
                pass
            elapsed = time.perf_counter() - start
            n = await store.last_seq()
            decided = len(await store.decisions(limit=100_000))
            rate = n / elapsed
            print(f"feed read alone (floor): {floor:,.0f} events/s")
            print(f"policy feed: {n:,} events in {elapsed:.2f}s = {rate:,.0f} events/s "
                  f"({rate / floor:.2f} of the floor); {decided} automatic decisions")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
