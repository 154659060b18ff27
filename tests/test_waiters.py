"""Escalations remember who waits on them; a sweep withdraws those whose waiter is gone,
and a wait cancelled at any point (even while its raise is still being written, or while
the rules look at it) withdraws its own escalation (issue 10 item 1)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from typing import Any

import pytest

from swarmdeck.adapters import bridge as bridge_module
from swarmdeck.adapters.bridge import StoreBridge
from swarmdeck.adapters.hooks.claude_code import PROTOCOL as CLAUDE_CODE
from swarmdeck.adapters.hooks.core import HookConfig, HookContext, handle
from swarmdeck.adapters.waiters import Waiter, gone, start_time, sweep, this_process
from swarmdeck.store.db import Store
from swarmdeck.store.queries.waiters import append_awaited, waiting
from tests.helpers import raise_escalation
from tests.helpers.hooks import payload
from tests.helpers.waiting import open_escalations

HOST = socket.gethostname()


def ended_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


async def raise_waited(store: Store, esc_id: str, waiter: Waiter) -> None:
    await append_awaited(
        store, [raise_escalation(esc_id)], origin="o", waiting={esc_id: waiter.to_json()}
    )


async def test_a_sweep_withdraws_only_escalations_whose_waiter_has_ended(store: Store) -> None:
    me = this_process("pytest")
    dead = Waiter(ended_pid(), None, HOST, "swarmdeck hook claude-code", me.pid_space)
    recycled = Waiter(os.getpid(), "1", HOST, "swarmdeck mcp", me.pid_space)  # my pid, reborn
    elsewhere = Waiter(ended_pid(), None, "another-host", "swarmdeck mcp", me.pid_space)
    container = Waiter(ended_pid(), None, HOST, "swarmdeck mcp", "pid:[1]")
    for esc_id, waiter in [("alive", me), ("dead", dead), ("recycled", recycled),
                           ("elsewhere", elsewhere), ("container", container)]:  # fmt: skip
        await raise_waited(store, esc_id, waiter)

    assert sorted(await sweep(store)) == ["dead", "recycled"]

    states = {e.id: (e.state, e.reason) for e in await store.escalations()}
    assert states["alive"] == ("open", None)
    # Another host's or another pid namespace's pids mean nothing here.
    assert states["elsewhere"] == states["container"] == ("open", None)
    assert states["dead"][0] == "withdrawn"
    assert f"swarmdeck hook claude-code, pid {dead.pid}" in (states["dead"][1] or "")
    assert states["recycled"][0] == "withdrawn"
    assert sorted(w.escalation for w in await waiting(store)) == ["alive", "container", "elsewhere"]
    assert await sweep(store) == []  # nothing more to do, nothing written


async def test_records_of_closed_escalations_are_forgotten(store: Store) -> None:
    await raise_waited(store, "E1", this_process("pytest"))
    await store.decide("E1", "approve", actor="ana")
    assert await sweep(store) == []
    assert await waiting(store) == []


def test_this_process_is_alive_and_has_a_start_time() -> None:
    me = this_process("pytest")
    assert not gone(me, HOST)
    if os.path.isdir("/proc"):
        assert me.started is not None and me.started == start_time(os.getpid())
    assert Waiter.from_json(me.to_json()) == me
    assert Waiter.from_json("not json") is None


async def test_the_store_bridge_records_itself_with_every_escalation(store: Store) -> None:
    bridge = StoreBridge(store, origin="o", waiter="swarmdeck mcp")
    await bridge.emit([raise_escalation("E1")])
    [row] = await waiting(store)
    waiter = Waiter.from_json(row.waiter)
    assert waiter is not None and (waiter.pid, waiter.what) == (os.getpid(), "swarmdeck mcp")


async def test_cancelled_while_the_raise_is_written_still_withdraws(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raise committed, but the cancellation (SIGTERM: the CLI's own hook timeout)
    arrived before the write returned: the escalation must not stay open."""
    committed = asyncio.Event()
    real = append_awaited

    async def slow_append(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        committed.set()
        await asyncio.sleep(3600)
        return result

    monkeypatch.setattr(bridge_module, "append_awaited", slow_append)
    bridge = StoreBridge(store, origin="o", source="test", poll=0.05)
    task = asyncio.create_task(
        bridge.escalate([raise_escalation("E1")], "E1", within=60, default_label="deny",
                        why_gone=lambda: "the hook was stopped before a decision came (SIGTERM)")
    )  # fmt: skip
    await committed.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    row = await store.escalation("E1")
    assert (row.state, row.reason) == (
        "withdrawn",
        "the hook was stopped before a decision came (SIGTERM)",
    )


async def test_cancelled_while_the_rules_look_still_withdraws(store: Store) -> None:
    """The hook emits its escalation before the policy rules look at it; a cancellation
    while they do must withdraw it too."""
    rules_looking = asyncio.Event()

    async def slow_policy(escalation_id: str) -> bool:
        rules_looking.set()
        await asyncio.sleep(3600)
        return False

    raw = json.dumps(payload("permission_request_bash")).encode()
    call = CLAUDE_CODE.read(raw, HookConfig(), HookContext(call_id="c1"))
    context = HookContext(call_id="c1", why_gone=lambda: "stopped (SIGTERM)")
    task = asyncio.create_task(
        handle(call, protocol=CLAUDE_CODE, bridge=StoreBridge(store, origin="claude-code-hook"),
               session_agent="claude:shop-api", config=HookConfig(timeout=60), context=context,
               policy=slow_policy)
    )  # fmt: skip
    await rules_looking.wait()
    [esc] = await open_escalations(store)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    row = await store.escalation(esc.id)
    assert (row.state, row.reason) == ("withdrawn", "stopped (SIGTERM)")
