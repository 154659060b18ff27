"""A real fleet on one machine: six hosts in network namespaces, one PostgreSQL database.

* ``pg``: the database (the throwaway server, listening on its namespace's address);
* ``c1``, ``c2``: two collectors (``swarmdeck serve --db postgresql://...``) with the same
  adapters: two JSONL tails on a shared file system, the Claude Code hook endpoint, the
  push endpoint and MCP, each listening on its own host's address;
* ``agent``: a host without a collector, whose hook (``swarmdeck hook claude-code
  --server ...``), pushes and MCP client talk to a collector across the bridge;
* ``cli``, ``cli2``: two managers deciding with ``swarmdeck decide``.

c1 starts first and leads everything; c2 waits. Then c1 is killed with SIGKILL, mid-
stream: every adapter instance and the policy engine move to c2 within 10 s, and the
counts say nothing was lost or done twice (every valid line stored once, every broken
line dead-lettered once, every decision made, delivered and written out once).

The test process itself stays outside the namespaces and reads the database over its
unix socket: the machine's own namespace never sends anything to the fleet's addresses.
It needs root (``ip netns``): without, it skips saying so, and fails under ``CI=true``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.store.db import Store
from swarmdeck.store.models import Escalation
from swarmdeck.store.opening import open_store
from swarmdeck.testing.netns import (
    Fleet,
    NetnsUnavailable,
    check_available,
    fleet_url,
    local_url,
    postgres_in,
)
from swarmdeck.testing.postgres import PostgresServer, PostgresUnavailable
from tests.helpers.hooks import payload

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "fleet-test-token-0123456789abcdef"
ROLES = ["pg", "c1", "c2", "agent", "cli", "cli2"]
#: Lines per file before the kill and after it; every BROKEN-th line is not an event.
BEFORE, AFTER, BROKEN = 300, 300, 50
SERVICE_NAMES = ("feed-a", "feed-b", "hooks", "push", "mcp", "policy")


def unavailable(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"the multi-host test must run in CI: {why}")
    pytest.skip(f"the multi-host test needs network namespaces: {why}")


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    try:
        check_available()
    except NetnsUnavailable as exc:
        unavailable(str(exc))
    with Fleet(ROLES) as made:
        yield made


@pytest.fixture
def database(fleet: Fleet) -> Iterator[PostgresServer]:
    try:
        server = postgres_in(fleet, "pg")
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server
    finally:
        for proc in fleet.spawned:  # the collectors go before their database does
            fleet.kill(proc)
        server.stop()


@pytest.fixture
async def deck(database: PostgresServer) -> AsyncIterator[Store]:
    """The test's own view of the database, over the unix socket."""
    store = await open_store(local_url(database))
    try:
        yield store
    finally:
        await store.close()


@dataclass
class World:
    fleet: Fleet
    tmp: Path
    url: str

    def env(self, role: str, **extra: str) -> dict[str, str]:
        """A host's environment: its own config and data directories, the shared token."""
        home = self.tmp / "hosts" / role
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWARMDECK_")}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
            SWARMDECK_TOKEN=TOKEN,
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def config(self, role: str) -> Path:
        addr = self.fleet.address(role)
        feeds = self.tmp / "feeds"
        text = f"""
[demo]
enabled = false

[[adapters]]
name = "feed-a"
type = "jsonl"
path = "{feeds / "a.jsonl"}"
decisions_file = "{feeds / "decisions-a.jsonl"}"
poll_interval = 0.05

[[adapters]]
name = "feed-b"
type = "jsonl"
path = "{feeds / "b.jsonl"}"
decisions_file = "{feeds / "decisions-b.jsonl"}"
poll_interval = 0.05

[[adapters]]
name = "hooks"
type = "claude-code"
host = "{addr}"
port = 7342
allow_remote = true
timeout = 60

[[adapters]]
name = "push"
type = "push"
host = "{addr}"
port = 7343
allow_remote = true

[[adapters]]
name = "mcp"
type = "mcp"
host = "{addr}"
port = 7341
allow_remote = true
"""
        path = self.tmp / f"{role}.toml"
        path.write_text(text)
        return path

    def serve(self, role: str) -> subprocess.Popen[Any]:
        log = (self.tmp / f"{role}.log").open("w")
        return self.fleet.spawn(
            role,
            [str(BIN / "swarmdeck"), "--db", self.url, "--config", str(self.config(role)),
             "serve", "-v"],
            env=self.env(role), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def hook_urls(self) -> list[str]:
        return [
            a
            for role in ("c1", "c2")
            for a in ("--server", f"http://{self.fleet.address(role)}:7342/hooks/claude-code")
        ]

    def start_hook(self, fixture: str) -> subprocess.Popen[str]:
        proc = self.fleet.spawn(
            "agent",
            [str(BIN / "swarmdeck"), "hook", "claude-code", *self.hook_urls()],
            env=self.env("agent"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(payload(fixture)))
        proc.stdin.close()
        proc.stdin = None  # communicate() must not touch it again
        return proc

    def decide(self, role: str, escalation: str, action: str, *more: str) -> Any:
        identity = {"cli": "alice", "cli2": "bob"}[role]
        return self.fleet.spawn(
            role,
            [str(BIN / "swarmdeck"), "--db", self.url, "decide", escalation, action, *more],
            env=self.env(role, SWARMDECK_IDENTITY=identity),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def tool(self, role: str, *args: str) -> subprocess.Popen[str]:
        return self.fleet.spawn(
            role, [sys.executable, "-m", "tests.fleet.fleet_tools", *args],
            env=self.env(role), cwd=str(ROOT),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip


def line(feed: str, n: int) -> str:
    if n % BROKEN == 0:
        return f'{{"id": "{feed}-{n}", "kind": "agent.status", "broken": '  # not JSON
    return json.dumps(
        {"id": f"{feed}-{n}", "ts": "2026-12-01T10:00:00Z", "source": f"lines-{feed}",
         "kind": "log", "agent": f"worker-{feed}-{n % 7}", "data": {"text": f"line {n}"}}
    )  # fmt: skip


def escalation_line(feed: str, esc: str) -> str:
    return json.dumps(
        {"id": f"raise-{esc}", "ts": "2026-12-01T10:00:00Z", "source": f"lines-{feed}",
         "kind": "escalation.raised", "agent": f"worker-{feed}-0",
         "data": {"id": esc, "kind": "approval", "title": f"May {esc} go ahead?"}}
    )  # fmt: skip


def write_lines(path: Path, feed: str, numbers: range, pause: float = 0.0) -> None:
    with path.open("a") as fh:
        for n in numbers:
            fh.write(line(feed, n) + "\n")
            fh.flush()
            if pause:
                time.sleep(pause)


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.05)


async def leaders(deck: Store) -> dict[str, str]:
    now = time.time()
    return {
        lease.name: lease.holder.split(":")[0]
        for lease in await deck.leases()
        if lease.expires_ts > now
    }


async def finished(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str, str]:
    out, err = await asyncio.to_thread(proc.communicate, timeout=timeout)
    assert proc.returncode is not None
    return proc.returncode, out, err


async def test_a_collector_dies_and_its_adapters_move_with_nothing_lost_or_doubled(
    fleet: Fleet, database: PostgresServer, deck: Store, tmp_path: Path
) -> None:
    world = World(fleet, tmp_path, fleet_url(database))
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    a, b = feeds / "a.jsonl", feeds / "b.jsonl"
    write_lines(a, "a", range(1, BEFORE + 1))
    write_lines(b, "b", range(1, BEFORE + 1))
    with a.open("a") as fh:
        fh.write(escalation_line("a", "E-file-1") + "\n" + escalation_line("a", "E-race") + "\n")
    with b.open("a") as fh:
        fh.write(escalation_line("b", "E-file-2") + "\n")

    # c1 comes up first and leads everything; c2 stands by.
    c1 = world.serve("c1")

    async def c1_leads_all() -> bool:
        held = await leaders(deck)
        return all(held.get(n) == "c1" for n in SERVICE_NAMES)

    await until(c1_leads_all, 30, "c1 leading every adapter and the policy engine")
    world.serve("c2")
    epochs = {lease.name: lease.epoch for lease in await deck.leases()}

    # An agent on a host without a collector: its hook reaches c1 across the bridge.
    hook = world.start_hook("permission_request_bash")
    [esc] = await until(lambda: _open_from(deck, "hooks"), 30, "hook raised")
    watcher = world.tool("cli2", "watch", world.url, esc.id)  # a second manager, elsewhere
    assert watcher.stdout is not None
    assert (await asyncio.to_thread(watcher.stdout.readline)).strip() == "watching"
    code, out, err = await finished(world.decide("cli", esc.id, "approve"))
    assert code == 0, err
    code, out, err = await finished(hook)
    assert code == 0, err
    assert json.loads(out)["hookSpecificOutput"]["decision"] == {"behavior": "allow"}
    code, out, _ = await finished(watcher)
    seen = json.loads(out)
    assert (seen["by"], seen["host"]) == ("alice", "cli")  # who decided, from where
    assert seen["seen"] - seen["decided"] < 1.0  # another host's manager sees it within 1 s

    # The first decision wins across hosts: two managers, one escalation, at once.
    await until(lambda: _is_open(deck, "E-race"), 30, "E-race raised from the file")
    racers = [
        world.decide("cli", "E-race", "approve"),
        world.decide("cli2", "E-race", "reject", "--reason", "not now"),
    ]
    results = [await finished(p) for p in racers]
    assert sorted(code for code, _, _ in results) == [0, 3]
    lost = next(err for code, _, err in results if code == 3)
    assert "already decided by" in lost
    code, _, err = await finished(world.decide("cli", "E-file-1", "approve"))
    assert code == 0, err

    # Pushes and MCP from the agent's host, through c1.
    batch = feeds / "push-1.json"
    batch.write_text(json.dumps([_pushed(n) for n in range(1, 51)]))
    push_c1 = f"http://{fleet.address('c1')}:7343/v1/events"
    code, out, err = await finished(world.tool("agent", "push", push_c1, str(batch)))
    assert json.loads(out) == {
        "status": 200,
        "body": {"accepted": 50, "duplicate": 0, "rejected": 0, "errors": []},
    }, err
    code, out, err = await finished(
        world.tool("agent", "mcp", f"http://{fleet.address('c1')}:7341/mcp")
    )
    assert code == 0, err
    assert json.loads(out) == {"tools": ["report_status", "request_approval"], "error": False}

    # c1's host dies, mid-stream: more lines keep coming while c2 takes over.
    killed, killed_at = time.monotonic(), time.time()
    Fleet.kill(c1)
    writers = [
        threading.Thread(
            target=write_lines, args=(path, feed, range(BEFORE + 1, BEFORE + AFTER + 1), 0.005)
        )
        for path, feed in ((a, "a"), (b, "b"))
    ]
    for w in writers:
        w.start()

    async def c2_runs_all() -> bool:
        """c2 holds every lease, and every adapter reported running since the kill."""
        held = await leaders(deck)
        health = {h.name: h for h in await deck.adapter_health()}
        return all(held.get(n) == "c2" for n in SERVICE_NAMES) and all(
            n in health and health[n].state == "running" and health[n].updated_ts > killed_at
            for n in SERVICE_NAMES
            if n != "policy"
        )

    await until(c2_runs_all, 15, "c2 running everything after c1 died")
    takeover = time.monotonic() - killed
    assert takeover < 10.0, f"takeover took {takeover:.1f}s"
    for lease in await deck.leases():
        if lease.name in SERVICE_NAMES:
            assert lease.epoch == epochs[lease.name] + 1  # fenced: a new epoch each
    for w in writers:
        w.join()

    # The same agent host goes on: c1 refuses connections now, c2 answers.
    hook = world.start_hook("pretooluse_write")
    [esc2] = await until(lambda: _open_from(deck, "hooks"), 30, "second hook raised")
    code, _, err = await finished(world.decide("cli", esc2.id, "reject", "--reason", "no"))
    assert code == 0, err
    code, out, err = await finished(hook)
    assert json.loads(out)["hookSpecificOutput"]["permissionDecision"] == "deny"
    assert "Denied by alice: no" in out
    code, _, err = await finished(world.decide("cli2", "E-file-2", "approve"))
    assert code == 0, err
    push_c2 = f"http://{fleet.address('c2')}:7343/v1/events"
    batch2 = feeds / "push-2.json"
    batch2.write_text(json.dumps([_pushed(n) for n in range(1, 101)]))  # 50 again, 50 new
    code, out, err = await finished(world.tool("agent", "push", push_c2, str(batch2)))
    assert json.loads(out)["body"] | {"errors": []} == {
        "accepted": 50, "duplicate": 50, "rejected": 0, "errors": []
    }, err  # fmt: skip

    # Counts: nothing lost, nothing twice.
    valid = {
        feed: {f"{feed}-{n}" for n in range(1, BEFORE + AFTER + 1) if n % BROKEN}
        for feed in ("a", "b")
    }

    async def all_lines_in() -> bool:
        stored = await _ids_by_source(deck)
        return all(stored.get(f"lines-{f}", set()) >= valid[f] for f in valid)

    await until(all_lines_in, 30, "every valid line stored")
    stored = await _ids_by_source(deck)
    for feed in ("a", "b"):
        extra = {"raise-E-file-1", "raise-E-race"} if feed == "a" else {"raise-E-file-2"}
        assert stored[f"lines-{feed}"] == valid[feed] | extra
    assert len(stored["push"]) == 100

    broken = {
        f"feed-{feed}": {n for n in range(1, BEFORE + AFTER + 1) if n % BROKEN == 0}
        for feed in ("a", "b")
    }
    letters = await deck.dead_letters(limit=1000)
    by_origin: dict[str, list[str]] = {}
    for letter in letters:
        by_origin.setdefault(letter.origin, []).append(letter.location)
    for origin, numbers in broken.items():
        # A line read twice (a re-read from an old position) would be dead-lettered twice.
        assert len(by_origin[origin]) == len(numbers), by_origin[origin]
        assert len(set(by_origin[origin])) == len(numbers)

    decided = ["E-file-1", "E-file-2", "E-race", esc.id, esc2.id]

    async def all_delivered() -> bool:
        states = [(await deck.escalation(e)).delivery for e in decided]
        return all(state == "delivered" for state in states)

    await until(all_delivered, 30, "every decision delivered")
    for e in decided:
        assert len(await deck.decisions(e)) == 1
    records = [r for r in await deck.audit_records() if r.action == "decision.delivered"]
    assert sorted(r.subject for r in records) == sorted(decided)  # delivered once each
    written = [
        json.loads(text)["escalation"]
        for name in ("decisions-a.jsonl", "decisions-b.jsonl")
        for text in (feeds / name).read_text().splitlines()
    ]
    assert sorted(written) == ["E-file-1", "E-file-2", "E-race"]
    verdict = await deck.audit_verify()
    assert verdict.ok, verdict
    health = {h.name: h for h in await deck.adapter_health()}
    assert f"on http://{fleet.address('c2')}:7342" in health["hooks"].detail


async def _open_from(deck: Store, origin: str) -> list[Escalation]:
    return [e for e in await deck.escalations(state="open") if e.origin == origin]


async def _is_open(deck: Store, escalation: str) -> bool:
    found = await deck.escalations(state="open")
    return any(e.id == escalation for e in found)


def _pushed(n: int) -> dict[str, Any]:
    return {"id": f"push-{n}", "ts": "2026-12-01T10:00:00Z", "kind": "agent.status",
            "agent": "far-bot", "data": {"state": "working", "activity": f"step {n}"}}  # fmt: skip


async def _ids_by_source(deck: Store) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for event in await deck.events_since(0, limit=100_000):
        out.setdefault(event.source, set()).add(event.id)
    return out
