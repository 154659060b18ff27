# ruff: noqa: E501
"""Throughput of the guardrails ingest filter (not a test; run by hand).

    .venv/bin/python -m tests.governance.bench_ingest_filter [N]

Typical events (status, logs, usage, progress notes with paths, hashes, dates and
numbers) in batches of 1,000, as the supervisor hands them over. Prints events/s for
batches without hits and for batches where 1% of events carry a secret (those write
their originals to a vault in a temporary database).
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from swarmdeck.guardrails import GuardrailConfig, IngestFilter
from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, make_event

TEXTS = [
    "running pytest tests/unit -q",
    "editing src/app/models.py",
    "reading README.md and docs/architecture.md",
    "waiting for review on PR 42",
    "git commit 3f5e1a2b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f",
    "compiling 231 files",
    "fetched https://example.org/api/v2/items?page=3",
    "tokens: 1532 in, 377 out",
    "retrying step 3 of 7 after 2026-11-23 10:00:00 timeout",
    "request 123e4567-e89b-12d3-a456-426614174000 done in 340 ms",
]


def make_events(n: int, hit_every: int | None) -> list[Event]:
    rng = random.Random(1)
    ts = datetime(2026, 11, 23, tzinfo=UTC)
    out: list[Event] = []
    for i in range(n):
        agent = f"coder-{i % 50}"
        text = rng.choice(TEXTS)
        if hit_every and i % hit_every == 0:
            text = f"export AWS_ACCESS_KEY_ID=AKIA{i:016d}"
        k = i % 4
        if k == 0:
            data = {"state": "working", "activity": text}
            out.append(
                make_event("agent.status", id=f"e{i}", source="b", agent=agent, ts=ts, data=data)
            )
        elif k == 1:
            out.append(make_event("log", id=f"e{i}", source="b", agent=agent, task=f"T-{i % 300}",
                                  ts=ts, data={"level": "info", "text": text}))  # fmt: skip
        elif k == 2:
            out.append(make_event("usage", id=f"e{i}", source="b", agent=agent, ts=ts,
                                  data={"tokens_in": 100, "tokens_out": 20, "cost_usd": 0.001}))  # fmt: skip
        else:
            out.append(make_event("task.progress", id=f"e{i}", source="b", agent=agent,
                                  task=f"T-{i % 300}", ts=ts, data={"note": text, "pct": 50}))  # fmt: skip
    return out


async def measure(events: list[Event], flt: IngestFilter) -> float:
    start = time.perf_counter()
    for j in range(0, len(events), 1000):
        await flt(events[j : j + 1000], "b")
    return len(events) / (time.perf_counter() - start)


async def main(n: int) -> None:
    clean = make_events(n, None)
    rate = await measure(clean, IngestFilter(GuardrailConfig()))
    print(f"no hits:      {rate:>10,.0f} events/s over {n:,} events")
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "b.db") as store:
            dirty = make_events(n, 100)
            flt = IngestFilter(GuardrailConfig(), store=store)
            rate = await measure(dirty, flt)
            print(f"1% with hits: {rate:>10,.0f} events/s ({flt.hits:,} hits kept in the vault)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
