# ruff: noqa: E501
"""Throughput of the guardrails ingest filter, against floors measured in the same run.

Run: ``make bench-filter`` (or ``.venv/bin/python benchmarks/ingest_filter.py [--events N]``).

Typical events (status, logs, usage, progress notes with paths, hashes, dates and
numbers) in batches of 1,000, as the supervisor hands them over, in four mixes:

- ``no hits``: nothing to mask (the common case: what the target is about);
- ``1% hits``: 1% of events carry an AWS key (their originals go to a vault in a
  temporary database);
- ``1% split``: 1% carry a key split by a zero-width space (normalised, found, masked);
- ``10% non-ASCII``: 10% of texts carry accented words and an emoji (the normalisation
  path that finds nothing to change).

Floors in the same run: a **no-op filter** (an async call per batch that reads every
text field the filter scans: what any filter costs before it looks at text) and
**json parse** (``json.loads`` of each event's wire JSON: the cheapest thing ingest does
per event). The machine is shared, so each figure is the best of ``--rounds`` and the
ratio to the floor is the number to compare across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
NON_ASCII = [
    "résumé des tâches terminé ✅",
    "Überprüfung läuft für Straße 3",
    "日志已写入 docs/说明.md",
]
BATCH = 1000
SCANNED = {"agent.status": "activity", "log": "text", "task.progress": "note"}


def make_events(
    n: int, hit_every: int | None, *, split: bool = False, non_ascii_every: int | None = None
) -> list[Event]:
    rng = random.Random(1)
    ts = datetime(2026, 11, 23, tzinfo=UTC)
    out: list[Event] = []
    for i in range(n):
        agent = f"coder-{i % 50}"
        text = rng.choice(TEXTS)
        if non_ascii_every and i % non_ascii_every == 1:
            text = rng.choice(NON_ASCII)
        if hit_every and i % hit_every == 0:
            key = f"AKIA{i:016d}"
            text = (
                f"export AWS_ACCESS_KEY_ID={key[:10]}\u200b{key[10:]}"
                if split
                else f"export AWS_ACCESS_KEY_ID={key}"
            )
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


async def noop_filter(events: list[Event], origin: str) -> list[Event]:
    """Reads every field the real filter scans, decides nothing."""
    for event in events:
        name = SCANNED.get(event.kind)
        if name is not None:
            getattr(event.data, name)
    return events


Filter = Callable[[list[Event], str], Awaitable[list[Event]]]


async def rate(events: list[Event], flt: Filter, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for j in range(0, len(events), BATCH):
            await flt(events[j : j + BATCH], "b")
        best = max(best, len(events) / (time.perf_counter() - start))
    return best


def json_rate(lines: list[bytes], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for line in lines:
            json.loads(line)
        best = max(best, len(lines) / (time.perf_counter() - start))
    return best


async def main(n: int, rounds: int) -> None:
    clean = make_events(n, None)
    # Warm up: first use compiles the lazily built tables and rules.
    await IngestFilter(GuardrailConfig())(
        make_events(2000, 100, split=True, non_ascii_every=10), "b"
    )
    noop = await rate(clean, noop_filter, rounds)
    parse = json_rate([e.model_dump_json().encode() for e in clean], rounds)
    print(f"floor, no-op filter: {noop:>10,.0f} events/s")
    print(f"floor, json parse:   {parse:>10,.0f} events/s")

    def line(label: str, value: float, extra: str = "") -> None:
        print(f"{label:<21}{value:>10,.0f} events/s  (x{value / noop:.3f} of no-op, "
              f"x{value / parse:.2f} of json parse){extra}")  # fmt: skip

    line("no hits:", await rate(clean, IngestFilter(GuardrailConfig()), rounds))
    mixed = make_events(n, None, non_ascii_every=10)
    line("10% non-ASCII:", await rate(mixed, IngestFilter(GuardrailConfig()), rounds))
    with tempfile.TemporaryDirectory() as tmp:
        async with await Store.open(Path(tmp) / "b.db") as store:
            for label, split in (("1% hits:", False), ("1% split keys:", True)):
                flt = IngestFilter(GuardrailConfig(), store=store)
                value = await rate(make_events(n, 100, split=split), flt, rounds)
                line(label, value, f"; {flt.hits // rounds:,} hits a round")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
