"""Push latency: from an escalation passing its route's ``after`` to arrival at a receiver.

A real collector (its own ``Collector.run``, real clock) runs one ``[[notify]]`` route,
``json://`` to an HTTP receiver on 127.0.0.1, with ``after = "1s"`` and
``digest_window = "0"`` (every escalation its own push). A second store connection
raises escalations one at a time, as an adapter's process would; each push's latency
is ``arrival - (raised_ts + after)``. Two runs: the collector idle, and the collector
ingesting the demo swarm at ``--rate`` updates per second.

Usage: ``python benchmarks/notify_latency.py [--pushes 30] [--rate 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from swarmdeck.collector import Collector
from swarmdeck.config import Settings
from swarmdeck.store.db import Store
from swarmdeck.store.events import make_event

AFTER = 1.0


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                title = json.loads(body).get("title", "")
                receiver.arrivals[title.removeprefix("swarmdeck: ")] = time.time()
                receiver.event.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, title: str, timeout: float) -> float | None:
        deadline = time.time() + timeout
        while title not in self.arrivals and time.time() < deadline:
            self.event.wait(0.01)
            self.event.clear()
        return self.arrivals.get(title)


async def run(pushes: int, rate: float | None) -> list[float]:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        settings = Settings.model_validate(
            {
                "db": db,
                "demo": {"enabled": rate is not None, "agents": 200, "rate": rate or 1.0},
                "notify": [
                    {
                        "name": "bench",
                        "url": f"json://127.0.0.1:{receiver.port}/in",
                        "after": f"{AFTER:g}s",
                        "digest_window": "0",
                        "min_severity": "low",
                        "kind": "approval",
                        "agent": "bench-*",
                    }
                ],
            }
        )
        collector = Collector(settings)
        task = asyncio.create_task(collector.run())
        await asyncio.wait_for(collector.started.wait(), 30)
        latencies: list[float] = []
        store = await Store.open(db)
        try:
            await asyncio.sleep(1.0)  # let the demo reach its pace
            rng = random.Random(7)
            for i in range(pushes):
                # Out of step with the notifier's 250 ms tick, as real escalations are.
                await asyncio.sleep(rng.uniform(0, 0.5))
                raised = time.time()
                title = f"bench push {i}"
                event = make_event(
                    "escalation.raised",
                    id=f"bench-{i}",
                    source="bench",
                    ts=datetime.fromtimestamp(raised, UTC),
                    agent=f"bench-{i}",
                    data={"id": f"bench-{i}", "kind": "approval", "title": title,
                          "severity": "high"},
                )  # fmt: skip
                await store.append([event], origin="bench")
                arrived = await asyncio.to_thread(receiver.wait_for, title, 30.0)
                if arrived is None:
                    raise SystemExit(f"push {i} never arrived")
                latencies.append(arrived - (raised + AFTER))
        finally:
            await store.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            receiver.server.shutdown()
    return latencies


def report(label: str, latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    row = {
        "run": label,
        "pushes": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(p95 * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
    }
    print(
        f"{label:<28} p50 {row['p50_ms']:7.1f} ms   p95 {row['p95_ms']:7.1f} ms   "
        f"max {row['max_ms']:7.1f} ms   (n={row['pushes']})"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pushes", type=int, default=30)
    parser.add_argument("--rate", type=float, default=1000.0, help="demo updates/s when busy")
    args = parser.parse_args()
    print(f"latency from passing after={AFTER:g}s to arrival at a json:// receiver on 127.0.0.1")
    rows = [
        report("collector idle", asyncio.run(run(args.pushes, None))),
        report(f"collector ingesting {args.rate:g}/s", asyncio.run(run(args.pushes, args.rate))),
    ]
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
