"""What a hook costs an agent: ``swarmdeck hook <vendor>`` start to exit, and decision to answer.

    .venv/bin/python benchmarks/hook_latency.py [runs]      (make bench-hook)

Every tool call of every coding agent starts the hook command, so its start-up is paid
on every call. One run prints, with a collector running (``swarmdeck serve``, as when
the TUI is open) and without one:

* the interpreter floor: ``python -c pass``, the cost no Python hook can go below;
* a status event (Claude Code's ``Notification``) and a policy auto-approve (a
  PermissionRequest a ``[[policy.rules]]`` approves), whole process, and their medians
  above the floor (the goal: <= 60 ms);
* decision commit -> answer: a PermissionRequest waits, a manager's decision is
  committed, and the hook's JSON arrives on stdout (the goal: <= 50 ms).

The floor and the hook runs are interleaved, so a busy machine slows both alike.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from swarmdeck.store.db import Store

PYTHON = sys.executable
SWARMDECK = str(Path(sys.executable).parent / "swarmdeck")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "integrations" / "fixtures"

CONFIG = """\
[demo]
enabled = false

[[policy.rules]]
name = "listing-is-fine"
match = { escalation_kind = "approval", title = "^Bash: ls( |$)" }
path = ["approve"]
"""


def payload(name: str, **changes: Any) -> bytes:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    data.update(changes)
    return json.dumps(data).encode()


def timed(args: list[str], stdin: bytes, env: dict[str, str]) -> tuple[float, bytes]:
    start = time.perf_counter()
    done = subprocess.run(args, input=stdin, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed, done.stdout


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


class Bench:
    def __init__(self, root: Path, runs: int) -> None:
        self.root = root
        self.runs = runs
        self.db = root / "bench.db"
        self.config = root / "config.toml"
        self.config.write_text(CONFIG)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
        self.env["XDG_CONFIG_HOME"] = str(root / "xdg-config")
        self.env["XDG_DATA_HOME"] = str(root / "xdg-data")
        self.hook = [SWARMDECK, "--db", str(self.db), "--config", str(self.config), "hook"]

    def floor_and_hooks(self) -> dict[str, list[float]]:
        """Interleaved: floor, status event, auto-approve, floor, ..."""
        out: dict[str, list[float]] = {"floor": [], "status": [], "auto-approve": []}
        for i in range(self.runs):
            out["floor"].append(timed([PYTHON, "-c", "pass"], b"", self.env)[0])
            status = payload("notification_idle", session_id=f"bench-status-{i % 4}")
            out["status"].append(timed([*self.hook, "claude-code"], status, self.env)[0])
            listing = payload(
                "permission_request_bash",
                session_id=f"bench-auto-{i % 4}",
                tool_input={"command": f"ls -la src/{i}", "description": "list"},
            )
            seconds, answer = timed([*self.hook, "claude-code"], listing, self.env)
            if b'"allow"' not in answer:
                raise RuntimeError(f"the rule did not approve: {answer!r}")
            out["auto-approve"].append(seconds)
        return out

    async def decision_to_answer(self) -> list[float]:
        """Commit a decision while the hook waits; time commit -> its JSON on stdout."""
        samples = []
        async with await Store.open(self.db) as store:
            for i in range(self.runs):
                data = payload("permission_request_bash", session_id=f"bench-wait-{i % 4}")
                proc = await asyncio.create_subprocess_exec(
                    *self.hook, "claude-code", env=self.env,
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL,
                )  # fmt: skip
                assert proc.stdin is not None
                assert proc.stdout is not None
                proc.stdin.write(data)
                proc.stdin.close()
                escalation = await self._opened(store)
                await asyncio.sleep(0.3)  # the hook is now in its wait, as a human's would be
                await store.decide(escalation, "approve", actor="bench")
                committed = time.perf_counter()
                line = await proc.stdout.readline()
                samples.append(time.perf_counter() - committed)
                await proc.wait()
                if b'"allow"' not in line:
                    raise RuntimeError(f"unexpected answer {line!r}")
        return samples

    async def _opened(self, store: Store) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = await store.escalations(state="open")
            if found:
                return found[0].id
            await asyncio.sleep(0.005)
        raise RuntimeError("the hook raised no escalation within 30 s")

    def collector(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [SWARMDECK, "--db", str(self.db), "--config", str(self.config), "serve"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        sock = self.db.with_name(self.db.name + ".hook.sock")
        deadline = time.monotonic() + 30
        while not sock.exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the collector did not open its hook socket")
            time.sleep(0.05)
        return proc


def report(title: str, hooks: dict[str, list[float]], waits: list[float]) -> None:
    floor = ms(hooks["floor"])
    print(f"\n{title}")
    print(f"  interpreter floor (python -c pass)     median {floor:6.1f} ms")
    for name in ("status", "auto-approve"):
        median = ms(hooks[name])
        print(f"  hook, {name:<13} whole process    median {median:6.1f} ms"
              f"   above the floor {median - floor:6.1f} ms")  # fmt: skip
    print(f"  decision commit -> hook's answer       median {ms(waits):6.1f} ms"
          f"   (max {max(waits) * 1000:.1f} ms)")  # fmt: skip


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="swarmdeck-hook-bench-") as tmp:
        bench = Bench(Path(tmp), runs)
        async with await Store.open(bench.db):
            pass  # the schema exists before any timing
        collector = bench.collector()
        try:
            with_collector = bench.floor_and_hooks(), await bench.decision_to_answer()
        finally:
            collector.terminate()
            collector.wait(30)
        without = bench.floor_and_hooks(), await bench.decision_to_answer()
    print(f"swarmdeck hook latency, {runs} runs each, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    report("with a collector running (the hook hands the call over its socket):", *with_collector)
    report("without a collector (the hook writes to the store itself):", *without)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
