"""Measure the Claude Code hook round trip (not a test; run it by hand).

    .venv/bin/python -m tests.integrations.measure_hook_latency [runs]

For each run: start the real ``swarmdeck hook claude-code`` with a recorded
PermissionRequest, wait until its escalation is open, decide it through the
store, and time decide -> the hook's JSON on stdout. Also times a status-only
hook (Notification) end to end, i.e. process start-up included.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from swarmdeck.store.db import Store
from tests.helpers.hooks import SWARMDECK, payload
from tests.helpers.waiting import open_escalations


async def one(db: Path, data: dict[str, object]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        str(SWARMDECK), "--db", str(db), "hook", "claude-code",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(data).encode())
    proc.stdin.close()
    async with await Store.open(db) as store:
        [esc] = await open_escalations(store)
        raised = time.perf_counter() - start
        t0 = time.perf_counter()
        await store.decide(esc.id, "approve", actor="bench")
        line = await proc.stdout.readline()
        elapsed = time.perf_counter() - t0
    await proc.wait()
    assert b'"allow"' in line, line
    return raised, elapsed


async def status_only(db: Path) -> float:
    start = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        str(SWARMDECK), "--db", str(db), "hook", "claude-code", stdin=asyncio.subprocess.PIPE
    )
    await proc.communicate(json.dumps(payload("notification_idle")).encode())
    return time.perf_counter() - start


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        async with await Store.open(db):
            pass  # create the schema once, outside the timings
        raised, decided, status = [], [], []
        for i in range(runs):
            data = {**payload("permission_request_bash"), "session_id": f"bench-{i}"}
            r, d = await one(db, data)
            raised.append(r)
            decided.append(d)
            status.append(await status_only(db))

    def fmt(xs: list[float]) -> str:
        xs = sorted(xs)
        return (f"median {statistics.median(xs) * 1000:.0f} ms, "
                f"max {xs[-1] * 1000:.0f} ms")  # fmt: skip

    print(f"runs: {runs}")
    print(f"hook start -> escalation visible in the store: {fmt(raised)}")
    print(f"decide -> hook's JSON on stdout:              {fmt(decided)}")
    print(f"status-only hook, whole process:              {fmt(status)}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
