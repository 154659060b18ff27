"""Ingest benchmark: JSONL -> validated events -> SQLite with projections.

Run: ``make bench-ingest`` (or ``.venv/bin/python benchmarks/ingest.py [--events N]``).

It generates a realistic JSONL file (1,000 agents; mostly status, progress and
usage updates; some tasks, logs and escalations), then measures in one run:

1. **end to end**: read lines, validate each with the wire model, append in
   batches of 1,000 through ``Store.append`` (idempotency check, projections,
   one transaction per batch), exactly as ``swarmdeck ingest`` and the collector do;
2. **the floor**: raw ``executemany`` of the same rows into an ``events`` table of
   the same shape (same unique index), with no validation and no projections;

and prints events/s for both, their ratio, and the database size per event. This
is a benchmark, not a test: the machine is shared, so compare the ratio, which
cancels most of the noise, rather than absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from swarmdeck.collector import build_filters
from swarmdeck.config import load_settings
from swarmdeck.store.db import Store
from swarmdeck.store.ingest import ingest_lines
from swarmdeck.store.schema import MIGRATIONS

ACTIVITIES = [
    "editing src/auth/session.py",
    "running pytest -k login",
    "reading docs/architecture.md",
    "reviewing PR #412 (3 files)",
    "waiting for CI",
    "planning the release checklist",
]


def generate(path: Path, count: int, agents: int = 1000, seed: int = 1) -> None:
    """Write ``count`` events as JSON lines (deterministic for a seed)."""
    rng = random.Random(seed)
    base = 1_795_400_000.0
    with path.open("w") as fh:
        for i in range(count):
            agent = f"agent-{rng.randrange(agents):05d}"
            task = f"T-{rng.randrange(agents * 4)}"
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i / 100)) + "Z"
            roll = rng.random()
            event: dict[str, object] = {"v": 1, "id": f"e{i}", "ts": ts, "source": "bench"}
            if i < agents:
                event.update(
                    kind="agent.seen",
                    agent=f"agent-{i:05d}",
                    data={
                        "name": f"agent-{i:05d}",
                        "role": rng.choice(["planner", "coder", "reviewer", "tester"]),
                        "model": "m-1",
                    },
                )
            elif roll < 0.55:
                event.update(
                    kind="agent.status",
                    agent=agent,
                    task=task,
                    data={
                        "state": rng.choice(["working", "idle", "blocked"]),
                        "activity": rng.choice(ACTIVITIES),
                    },
                )
            elif roll < 0.70:
                event.update(
                    kind="task.progress",
                    agent=agent,
                    task=task,
                    workflow="wf-1",
                    data={"note": rng.choice(ACTIVITIES), "pct": rng.randrange(100)},
                )
            elif roll < 0.85:
                event.update(
                    kind="usage",
                    agent=agent,
                    task=task,
                    data={
                        "tokens_in": rng.randrange(5000),
                        "tokens_out": rng.randrange(900),
                        "cost_usd": round(rng.random() / 50, 5),
                    },
                )
            elif roll < 0.92:
                event.update(
                    kind="log", agent=agent, data={"level": "info", "text": rng.choice(ACTIVITIES)}
                )
            elif roll < 0.96:
                event.update(kind="task.started", agent=agent, task=task, workflow="wf-1")
            elif roll < 0.995:
                event.update(
                    kind="task.completed",
                    agent=agent,
                    task=task,
                    workflow="wf-1",
                    data={"result": "ok"},
                )
            else:
                event.update(
                    kind="escalation.raised",
                    agent=agent,
                    task=task,
                    workflow="wf-1",
                    data={
                        "id": f"E-{i}",
                        "kind": "approval",
                        "title": "Push to main?",
                        "severity": rng.choice(["low", "normal", "high", "critical"]),
                    },
                )
            fh.write(json.dumps(event, separators=(",", ":")) + "\n")


async def end_to_end(jsonl: Path, db: Path, guardrails: bool = False) -> float:
    """Seconds to ingest the whole file with the same code as ``swarmdeck ingest``.

    With ``guardrails``, the default secret/personal-data filters run on every
    batch, as they do in ``swarmdeck ingest`` and the collector out of the box.
    """
    store = await Store.open(db)
    try:
        filters = build_filters(load_settings(db=db), store) if guardrails else []
        start = time.perf_counter()
        with jsonl.open("rb") as fh:
            counts = await ingest_lines(
                store, fh, origin="bench", location=jsonl.name, filters=filters
            )
        elapsed = time.perf_counter() - start
        if counts.rejected or not counts.accepted:
            raise SystemExit(f"benchmark input was not ingested cleanly: {counts}")
        return elapsed
    finally:
        await store.close()


def raw_floor(jsonl: Path, db: Path, batch: int = 1000) -> float:
    """Seconds for plain executemany of the same rows (pre-built) into the same table shape."""
    rows = []
    with jsonl.open("rb") as fh:
        for line in fh:
            e = json.loads(line)
            rows.append(
                (
                    e["source"],
                    e["id"],
                    0.0,
                    e["kind"],
                    e.get("agent"),
                    e.get("task"),
                    e.get("workflow"),
                    json.dumps(e.get("data")) if e.get("data") else None,
                )
            )
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT OR IGNORE INTO events(source, eid, ts, kind, agent, task, workflow, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows[i : i + batch],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def db_bytes(db: Path) -> int:
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        jsonl = work / "events.jsonl"
        generate(jsonl, args.events)
        e2e = asyncio.run(end_to_end(jsonl, work / "e2e" / "swarmdeck.db"))
        guarded = asyncio.run(end_to_end(jsonl, work / "guarded" / "swarmdeck.db", True))
        floor = raw_floor(jsonl, work / "raw.db")
        size = db_bytes(work / "e2e" / "swarmdeck.db")
        n = args.events
        line_bytes = jsonl.stat().st_size / n
        print(f"events:                       {n:,}  (JSONL {line_bytes:.0f} bytes/event)")
        print(f"end to end (validate+store):  {n / e2e:,.0f} events/s  ({e2e:.2f} s)")
        print(f"  ... with guardrails:        {n / guarded:,.0f} events/s  ({guarded:.2f} s)")
        print(f"raw executemany floor:        {n / floor:,.0f} rows/s  ({floor:.2f} s)")
        print(f"ratio end-to-end / floor:     {floor / e2e:.2f}")
        print(f"database size:                {size / n:.0f} bytes/event ({size / 1e6:.1f} MB)")
        target = 25_000
        verdict = "meets" if n / e2e >= target else "MISSES"
        print(
            f"target >= {target:,} events/s:     {verdict}; <= 500 bytes/event: "
            f"{'meets' if size / n <= 500 else 'MISSES'}"
        )


if __name__ == "__main__":
    main()
