"""Key-press-to-screen latency of the real TUI in a real pseudo-terminal.

Setup: a database with 10,000 agents and 1,000,000 stored events (written with
``executemany`` straight into the schema the store created), then a writer process
appending ``agent.status`` events through :meth:`Store.append` at 1,000 per second
(it also holds the collector lock, as ``swarmdeck serve`` would; the TUI is a reader).

Measured on the TUI process, started as ``python -m swarmdeck.cli --db DB`` on a
120x40 pty:
- first frame: spawn -> first output, and spawn -> the Swarm pane painted with 10,000 agents;
- key latency: ``j``/``k`` written to the pty -> the first output that repaints the row the
  cursor moved to (the next frame that answers the key), p50 / p95 / max;
- CPU % of the TUI process (user+sys from /proc) while updates flow, idle and while typing;
- RSS (peak VmHWM) and terminal output in KB/s while updates flow and nobody types.

``--backend postgres`` does the same on a throwaway PostgreSQL server (durability on;
the rows written with ``COPY``; the TUI runs its own collector beside it, as a deck on a
team database does), and then, as the floor of the same run, the same measurement on
the embedded SQLite file; both are printed side by side.

Usage: ``python benchmarks/tui_latency.py [--agents 10000] [--events 1000000] [--rate 1000]
[--backend sqlite|postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import multiprocessing
import os
import random
import re
import select
import signal
import sqlite3
import statistics
import struct
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from swarmdeck.store.db import Store  # noqa: E402
from swarmdeck.store.events import make_event  # noqa: E402
from swarmdeck.store.opening import is_postgres_url, open_store  # noqa: E402

COLS, ROWS = 120, 40
STATES = ("idle", "working", "working", "working", "blocked", "done")


def agent_rows(agents: int, now: float) -> Iterator[tuple[object, ...]]:
    """``(name, role, state, activity, first_seen, last_seen, events, origin, rev)`` rows."""
    roles = ("coder", "reviewer", "tester", "planner")
    for i in range(agents):
        state = STATES[i % len(STATES)]
        yield (f"agent-{i:05d}", roles[i % 4], state, f"step {i}", now - 3600, now - 60, 0,
               "bench", 1)  # fmt: skip


def event_rows(events: int, agents: int, now: float) -> Iterator[tuple[object, ...]]:
    """``(source, eid, ts, kind, agent, data)`` rows: agent.status, round the agents."""
    status = '{"state":"working","activity":"x"}'
    for i in range(events):
        yield ("bench", f"e{i}", now - 3600 + i / 1000, "agent.status",
               f"agent-{i % agents:05d}", status)  # fmt: skip


AGENT_COLUMNS = "name, role, state, activity, first_seen, last_seen, events, origin, rev"
EVENT_COLUMNS = "source, eid, ts, kind, agent, data"


def build_db(path: Path, agents: int, events: int) -> None:
    async def create() -> None:
        store = await Store.open(path)
        await store.close()

    asyncio.run(create())
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    now = time.time()
    conn.executemany(
        f"INSERT INTO agents({AGENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        agent_rows(agents, now),
    )
    conn.executemany(
        f"INSERT INTO events({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        event_rows(events, agents, now),
    )
    conn.execute("UPDATE meta SET value = 1 WHERE key = 'rev'")
    conn.commit()
    conn.close()


def build_pg(url: str, agents: int, events: int) -> None:
    """The same rows as :func:`build_db`, into a migrated PostgreSQL database, by ``COPY``."""
    import psycopg

    async def create() -> None:
        store = await open_store(url)
        await store.close()

    asyncio.run(create())
    now = time.time()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for table, columns, rows in (
            ("agents", AGENT_COLUMNS, agent_rows(agents, now)),
            ("events", EVENT_COLUMNS, event_rows(events, agents, now)),
        ):
            with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        cur.execute("UPDATE meta SET value = 1 WHERE key = 'rev'")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def writer(db: str, agents: int, rate: int, stop_at: float) -> None:
    """Append ``rate`` agent.status events a second through the store, in 10 batches a second."""
    from swarmdeck.collector import Collector
    from swarmdeck.config import Settings

    if not is_postgres_url(db):
        collector = Collector(Settings(db=Path(db)))
        collector.try_acquire()  # as `swarmdeck serve` would: the TUI becomes a reader

    async def run() -> None:
        store = await open_store(db)
        rng = random.Random(7)
        n = 0
        per_batch = max(1, rate // 10)
        next_at = time.monotonic()
        while time.time() < stop_at:
            ts = datetime.now(UTC)
            batch = []
            for _ in range(per_batch):
                n += 1
                batch.append(
                    make_event(
                        "agent.status",
                        id=f"w{os.getpid()}-{n}",
                        source="bench-writer",
                        ts=ts,
                        agent=f"agent-{rng.randrange(agents):05d}",
                        data={"state": rng.choice(STATES), "activity": f"update {n}"},
                    )
                )
            await store.append(batch, origin="bench-writer")
            next_at += 0.1
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await store.close()

    asyncio.run(run())


class Tui:
    def __init__(self, db: Path | str, workdir: Path) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        config = workdir / "config.toml"
        config.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SWARMDECK_", "TMUX"))}
        env.update(
            TERM="xterm-256color",
            COLUMNS=str(COLS),
            LINES=str(ROWS),
            SWARMDECK_CONFIG=str(config),
            SWARMDECK_DEMO__ENABLED="false",
            XDG_CONFIG_HOME=str(workdir / "xdg"),
            LANG="C.UTF-8",
        )
        self.started = time.perf_counter()
        self.pid = os.fork()
        if self.pid == 0:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            for fd in (0, 1, 2):
                os.dup2(slave, fd)
            os.close(master)
            os.execve(sys.executable, [sys.executable, "-m", "swarmdeck.cli", "--db", str(db)], env)
        os.close(slave)
        self.fd = master
        os.set_blocking(master, False)
        self.total_out = 0

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 1 << 20)
        except OSError:
            return b""
        self.total_out += len(data)
        return data

    def drain(self, seconds: float) -> bytes:
        end = time.perf_counter() + seconds
        out = b""
        while (left := end - time.perf_counter()) > 0:
            out += self.read(left)
        return out

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> tuple[float, float]:
        status = Path(f"/proc/{self.pid}/status").read_text()
        rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        return rss / 1024, hwm / 1024

    def stop(self) -> None:
        try:
            self.write(b"q")
            deadline = time.time() + 5
            while time.time() < deadline:
                self.drain(0.1)
                done, _ = os.waitpid(self.pid, os.WNOHANG)
                if done:
                    return
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        finally:
            os.close(self.fd)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=1_000, help="agent updates per second")
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()

    if args.backend == "postgres":
        from swarmdeck.testing.postgres import running

        with running(durable=True) as server:
            version = server.execute("SHOW server_version")[0][0].split()[0]
            url = server.create_database("tui")
            t = time.perf_counter()
            build_pg(url, args.agents, args.events)
            print(f"setup: PostgreSQL {version}, {args.agents} agents, {args.events} events "
                  f"in {time.perf_counter() - t:.1f}s")  # fmt: skip
            with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
                pg = measure(url, Path(tmp), args)
        floor = measure_sqlite(args)
        report({"postgres": pg, "sqlite (floor)": floor}, args)
        return
    report({"sqlite": measure_sqlite(args)}, args)


def measure_sqlite(args: argparse.Namespace) -> dict[str, float | int | str]:
    with tempfile.TemporaryDirectory(prefix="swarmdeck-bench-") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir(mode=0o700)
        db = data / "bench.db"
        t = time.perf_counter()
        build_db(db, args.agents, args.events)
        print(
            f"setup: {args.agents} agents, {args.events} events in {time.perf_counter() - t:.1f}s"
        )
        return measure(db, work, args)


def measure(db: Path | str, work: Path, args: argparse.Namespace) -> dict[str, float | int | str]:
    """The writer at ``args.rate`` and the TUI on ``db``: what the TUI does, measured."""
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(
        target=writer, args=(str(db), args.agents, args.rate, time.time() + 600), daemon=True
    )
    proc.start()
    time.sleep(1.0)  # the writer holds the lock and is flowing before the TUI starts

    tui = Tui(db, work)
    results: dict[str, float | int | str] = {}
    try:
        out = b""
        first_output = painted = None
        deadline = time.perf_counter() + 20
        marker = f"Swarm {args.agents}".encode()
        while time.perf_counter() < deadline and painted is None:
            chunk = tui.read(0.5)
            if chunk and first_output is None:
                first_output = time.perf_counter() - tui.started
            out += chunk
            if marker in out:
                painted = time.perf_counter() - tui.started
        results["first_output_s"] = round(first_output or -1, 3)
        results["first_frame_with_agents_s"] = round(painted or -1, 3)

        tui.write(b"1")  # focus the Swarm pane (cursor on its first row)
        tui.drain(2.0)

        # Idle while updates flow: CPU, output rate.
        cpu0, out0, t0 = tui.cpu_seconds(), tui.total_out, time.perf_counter()
        tui.drain(10.0)
        elapsed = time.perf_counter() - t0
        results["idle_cpu_pct"] = round(100 * (tui.cpu_seconds() - cpu0) / elapsed, 1)
        results["idle_output_kb_s"] = round((tui.total_out - out0) / 1024 / elapsed, 2)

        # Keys: j down 15 rows, k back up, repeat; wait for the repaint of the target row.
        # Screen rows (1-based): status 1, pane border 2, header 3, first agent row 4.
        # In the 120-column layout the Swarm pane is the top-right one.
        latencies: list[float] = []
        timeouts = 0
        cursor = 0
        cpu0, t0 = tui.cpu_seconds(), time.perf_counter()
        for i in range(args.keys):
            down = (i // 15) % 2 == 0
            cursor += 1 if down else -1
            row = 4 + cursor
            # Only a repaint inside the Swarm pane counts: the Inbox on the left shares
            # the screen row and repaints its countdowns on its own.
            pattern = re.compile(rb"\x1b\[%d;(?:5[4-9]|[6-9]\d|1[01]\d)H" % row)
            tui.drain(random.uniform(0.03, 0.08))
            buf = b""
            sent = time.perf_counter()
            tui.write(b"j" if down else b"k")
            while True:
                left = sent + 1.0 - time.perf_counter()
                if left <= 0:
                    timeouts += 1
                    break
                buf += tui.read(left)
                if pattern.search(buf):
                    latencies.append((time.perf_counter() - sent) * 1000)
                    break
        elapsed = time.perf_counter() - t0
        results["typing_cpu_pct"] = round(100 * (tui.cpu_seconds() - cpu0) / elapsed, 1)
        results["keys"] = len(latencies)
        results["key_timeouts"] = timeouts
        if latencies:
            results["key_p50_ms"] = round(statistics.median(latencies), 1)
            results["key_p95_ms"] = round(percentile(latencies, 95), 1)
            results["key_max_ms"] = round(max(latencies), 1)
        rss, hwm = tui.rss_mb()
        results["rss_mb"] = round(rss, 1)
        results["rss_peak_mb"] = round(hwm, 1)
    finally:
        tui.stop()
        proc.terminate()
        proc.join(5)

    results["rate_per_s"] = args.rate
    results["agents"] = args.agents
    results["stored_events"] = args.events
    return results


def report(columns: dict[str, dict[str, float | int | str]], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(columns if len(columns) > 1 else next(iter(columns.values()))))
        return
    targets = {
        "key_p50_ms": "<= 16",
        "key_p95_ms": "<= 50",
        "idle_cpu_pct": "<= 25",
        "typing_cpu_pct": "<= 25",
        "rss_peak_mb": "<= 120",
        "idle_output_kb_s": "<= 20",
        "first_frame_with_agents_s": "<= 1",
    }
    names = list(columns)
    print(f"{'':28} " + " ".join(f"{n:>14}" for n in names))
    for key in columns[names[0]]:
        target = targets.get(key, "")
        values = " ".join(f"{columns[n].get(key, '')!s:>14}" for n in names)
        print(f"{key:28} {values}  {('target ' + target) if target else ''}")


if __name__ == "__main__":
    main()
