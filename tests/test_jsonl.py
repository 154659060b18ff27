"""The JSONL tail against real files and a real store: offsets, truncation, rotation, decisions."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from swarmdeck.adapters.jsonl import JsonlAdapter
from swarmdeck.store.db import Store
from swarmdeck.testing import Driven, build, drive

TS = "2026-11-24T01:00:00+00:00"


def seen(n: int) -> str:
    """One valid event line (an agent.seen with id ``e<n>``)."""
    return (
        json.dumps(
            {
                "id": f"e{n}",
                "ts": TS,
                "source": "bots",
                "kind": "agent.seen",
                "agent": f"bot-{n}",
                "data": {"name": f"bot-{n}", "role": "coder"},
            }
        )
        + "\n"
    )


def lines(*numbers: int) -> str:
    return "".join(seen(n) for n in numbers)


def append(path: Path, text: str | bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(text.encode() if isinstance(text, str) else text)


def ids(driven: Driven) -> list[str]:
    return [e.id for e in driven.events]


def tail(path: Path, **extra: Any) -> dict[str, Any]:
    return {"path": str(path), "poll_interval": 0.01, **extra}


async def stored(store: Store, n: int) -> None:
    """Wait (bounded) until the store holds at least ``n`` events."""
    async with asyncio.timeout(5):
        while await store.last_seq() < n:
            await asyncio.sleep(0.005)


def count(n: int):  # type: ignore[no-untyped-def]
    return lambda d: len(d.events) >= n


async def test_tails_lines_appended_while_running(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(lines(1, 2, 3))
    adapter, health = build(JsonlAdapter, tail(path), store, "files")

    async def writer() -> None:
        await stored(store, 3)
        append(path, lines(4, 5))

    driven = await drive(adapter, store, until=count(5), stimulate=writer)
    assert ids(driven) == ["e1", "e2", "e3", "e4", "e5"]
    assert driven.items >= 2  # the last two arrived after the first three were stored
    assert health.reports[-1][0] == "running"
    state = json.loads(await store.get_state("files", f"file:{path}") or "{}")
    assert state["offset"] == path.stat().st_size
    assert state["line"] == 5
    assert (state["ino"], state["dev"]) == (path.stat().st_ino, path.stat().st_dev)


async def test_partial_last_line_waits_for_its_newline(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    second = seen(2)
    path.write_text(seen(1) + second[:25])  # the writer is half-way through line 2

    async def writer() -> None:
        await stored(store, 1)
        append(path, second[25:])

    driven = await drive(adapter := build(JsonlAdapter, tail(path), store, "f")[0], store,
                         until=count(2), stimulate=writer)  # fmt: skip
    assert adapter.name == "f"
    assert ids(driven) == ["e1", "e2"]
    assert driven.rejected == []


async def test_restart_neither_rereads_nor_skips(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(lines(*range(1, 11)) + seen(11)[:10])
    first = await drive(build(JsonlAdapter, tail(path), store, "f")[0], store, until=count(10))
    assert ids(first) == [f"e{i}" for i in range(1, 11)]

    append(path, seen(11)[10:] + lines(12, 13))  # finish the partial line, add more
    second = await drive(build(JsonlAdapter, tail(path), store, "f")[0], store, until=count(3))
    assert ids(second) == ["e11", "e12", "e13"]
    assert second.duplicates == 0
    assert first.duplicates == 0
    assert await store.last_seq() == 13


async def test_truncation_starts_over(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(lines(1, 2, 3, 4))

    async def truncate_and_write() -> None:
        await stored(store, 4)
        with open(path, "w") as fh:  # same inode, shorter than the offset
            fh.write(lines(100))
        append(path, lines(101))

    adapter, _ = build(JsonlAdapter, tail(path), store, "f")
    driven = await drive(adapter, store, until=count(6), stimulate=truncate_and_write)
    assert ids(driven) == ["e1", "e2", "e3", "e4", "e100", "e101"]


async def test_truncation_while_stopped_starts_over(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(lines(1, 2, 3))
    await drive(build(JsonlAdapter, tail(path), store, "f")[0], store, until=count(3))
    path.write_text(lines(7))  # truncates in place: same inode
    driven = await drive(build(JsonlAdapter, tail(path), store, "f")[0], store, until=count(1))
    assert ids(driven) == ["e7"]


async def test_rotation_finishes_the_old_file_then_reads_the_new(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "events.jsonl"
    rotated = tmp_path / "events.jsonl.1"
    path.write_text(lines(1, 2))

    async def logrotate() -> None:
        await stored(store, 2)
        with open(path, "a") as old:  # the agent's writer keeps its descriptor
            old.write(lines(3))  # written just before the rotation
            old.flush()
            os.rename(path, rotated)
            path.write_text(lines(10, 11))
            old.write(lines(4))  # written to the old file after the rotation
            old.flush()

    adapter, _ = build(JsonlAdapter, tail(path), store, "f")
    driven = await drive(adapter, store, until=count(6), stimulate=logrotate)
    assert sorted(ids(driven)) == sorted(["e1", "e2", "e3", "e4", "e10", "e11"])
    assert ids(driven).index("e3") < ids(driven).index("e10")  # the old file first
    assert driven.duplicates == 0
    assert driven.rejected == []
    state = json.loads(await store.get_state("f", f"file:{path}") or "{}")
    assert state["ino"] == path.stat().st_ino
    assert state["line"] == 2


async def test_rotation_while_stopped_reads_the_new_file_from_the_start(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(lines(1, 2, 3))
    await drive(build(JsonlAdapter, tail(path), store, "f")[0], store, until=count(3))
    os.rename(path, tmp_path / "events.jsonl.1")
    path.write_text(lines(4, 5, 6, 7))  # longer than the old offset: must not be skipped into
    driven = await drive(build(JsonlAdapter, tail(path), store, "f")[0], store, until=count(4))
    assert ids(driven) == ["e4", "e5", "e6", "e7"]


async def test_bad_lines_are_dead_lettered_with_file_line_and_reason(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "events.jsonl"
    bad_kind = {"id": "x", "ts": TS, "source": "bots", "kind": "agent.exploded", "data": {}}
    no_role = {
        "id": "y", "ts": TS, "source": "bots", "kind": "agent.seen", "agent": "a",
        "data": {"name": "a"},
    }  # fmt: skip
    path.write_text(
        seen(1)
        + "{not json\n"
        + json.dumps(bad_kind)
        + "\n\n"  # a blank line is skipped, but still counted
        + json.dumps(no_role)
        + "\r\n"
        + seen(2)
    )
    adapter, _ = build(JsonlAdapter, tail(path), store, "f")
    driven = await drive(adapter, store, until=lambda d: len(d.events) + len(d.rejected) >= 5)
    assert ids(driven) == ["e1", "e2"]
    where = {r.location: r.error for r in driven.rejected}
    assert set(where) == {f"{path}:2", f"{path}:3", f"{path}:5"}
    assert where[f"{path}:2"].startswith("not valid JSON")
    assert "unknown kind 'agent.exploded'" in where[f"{path}:3"]
    assert where[f"{path}:5"] == "data.role: Field required"
    letters = await store.dead_letters()
    assert {d.location for d in letters} == set(where)
    assert all(d.origin == "f" for d in letters)


async def test_oversize_lines_are_rejected_and_skipped(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    huge = '{"id": "big", "pad": "' + "x" * 5000 + '"}\n'
    path.write_text(seen(1) + huge + seen(2) + "y" * 3000)  # the last one is not finished yet

    async def finish() -> None:
        await stored(store, 2)
        append(path, "y" * 3000 + "\n" + seen(3))

    adapter, _ = build(JsonlAdapter, tail(path, max_line_bytes=1024), store, "f")
    driven = await drive(adapter, store, until=count(3), stimulate=finish)
    assert ids(driven) == ["e1", "e2", "e3"]
    where = {r.location: r for r in driven.rejected}
    assert set(where) == {f"{path}:2", f"{path}:4"}
    assert "longer than max_line_bytes" in where[f"{path}:2"].error
    assert "longer than max_line_bytes" in where[f"{path}:4"].error
    assert len(where[f"{path}:4"].raw) <= 16_384
    state = json.loads(await store.get_state("f", f"file:{path}") or "{}")
    assert state["line"] == 5
    assert state["skip"] is False


async def test_directory_of_files_and_new_files(tmp_path: Path, store: Store) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.jsonl").write_text(lines(1, 2))
    (folder / "b.jsonl").write_text(lines(3))
    (folder / "notes.txt").write_text("not events\n")
    (folder / "decisions.jsonl").write_text('{"v": 1, "decision": 1}\n')  # output, never input

    async def new_file() -> None:
        await stored(store, 3)
        (folder / "c.jsonl").write_text(lines(4))

    adapter, health = build(JsonlAdapter, tail(folder), store, "dir")
    driven = await drive(adapter, store, until=count(4), stimulate=new_file)
    assert sorted(ids(driven)) == ["e1", "e2", "e3", "e4"]
    assert driven.rejected == []
    assert health.reports[0] == ("running", f"tailing 2 files under {folder}")
    keys = await store.get_states("dir")
    assert set(keys) == {f"file:{folder / n}" for n in ("a.jsonl", "b.jsonl", "c.jsonl")}


async def test_deliver_appends_each_decision_once(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "events.jsonl"
    escalation = {
        "id": "q1", "ts": TS, "source": "bots", "kind": "escalation.raised", "agent": "bot-1",
        "task": "T-9", "data": {"id": "bots-E1", "kind": "approval", "title": "Push to main?"},
    }  # fmt: skip
    other = {**escalation, "id": "q2", "data": {**escalation["data"], "id": "bots-E2"}}  # type: ignore[dict-item]
    path.write_text(json.dumps(escalation) + "\n" + json.dumps(other) + "\n")
    adapter, _ = build(JsonlAdapter, tail(path), store, "files")
    await drive(adapter, store, until=count(2))
    await store.decide("bots-E1", "reject", reason="not on Friday", actor="dana@laptop")
    await store.decide("bots-E2", "approve", actor="dana@laptop")
    deliveries = await store.due_deliveries(adapters=["files"])
    assert len(deliveries) == 2
    for d in deliveries:
        await adapter.deliver(d)
    await adapter.deliver(deliveries[0])  # re-delivery: nothing new

    decisions = tmp_path / "decisions.jsonl"
    assert stat.S_IMODE(decisions.stat().st_mode) == 0o600
    records = [json.loads(line) for line in decisions.read_text().splitlines()]
    assert [r["escalation"] for r in records] == ["bots-E1", "bots-E2"]
    first = records[0]
    assert first["v"] == 1
    assert first["action"] == "reject"
    assert first["reason"] == "not on Friday"
    assert first["actor"] == "dana@laptop"
    assert (first["agent"], first["task"]) == ("bot-1", "T-9")
    assert first["ts"].endswith("+00:00")
    assert set(first) == {
        "v", "decision", "escalation", "action", "reason", "target", "answer", "actor", "ts",
        "agent", "task",
    }  # fmt: skip

    # A restarted adapter knows from the file what it already wrote.
    again, _ = build(JsonlAdapter, tail(path), store, "files")
    await again.deliver(deliveries[1])
    assert len(decisions.read_text().splitlines()) == 2


async def test_missing_file_waits_and_reports(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "later.jsonl"
    adapter, health = build(JsonlAdapter, tail(path), store, "f")

    async def appear() -> None:
        async with asyncio.timeout(5):
            while not health.reports:
                await asyncio.sleep(0.005)
        path.write_text(lines(1))

    driven = await drive(adapter, store, until=count(1), stimulate=appear)
    assert ids(driven) == ["e1"]
    assert health.reports[0] == ("degraded", f"waiting for {path} to appear")


async def test_file_renamed_in_directory_while_stopped_keeps_its_offset(
    tmp_path: Path, store: Store
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.jsonl").write_text(lines(1, 2))
    await drive(build(JsonlAdapter, tail(folder), store, "d")[0], store, until=count(2))
    os.rename(folder / "a.jsonl", folder / "a-2026-11-24.jsonl")
    append(folder / "a-2026-11-24.jsonl", lines(3))
    driven = await drive(build(JsonlAdapter, tail(folder), store, "d")[0], store, until=count(1))
    assert ids(driven) == ["e3"]
    assert driven.duplicates == 0


async def test_unfinished_line_in_a_rotated_file_is_dead_lettered(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("swarmdeck.adapters.jsonl.RETIRE_GRACE", 0.0)
    path = tmp_path / "events.jsonl"
    path.write_text(lines(1) + seen(2)[:20])  # the writer died mid-line

    async def rotate() -> None:
        await stored(store, 1)
        os.rename(path, tmp_path / "events.jsonl.1")
        path.write_text(lines(3))

    adapter, _ = build(JsonlAdapter, tail(path), store, "f")
    driven = await drive(
        adapter, store, until=lambda d: len(d.events) >= 2 and bool(d.rejected), stimulate=rotate
    )
    assert ids(driven) == ["e1", "e3"]
    [rejected] = driven.rejected
    assert rejected.location == f"{path}:2"
    assert rejected.error.startswith("incomplete last line (20 bytes")
