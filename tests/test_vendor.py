"""One swarm of many kinds of agents: every agent row carries its vendor.

``agent.seen`` says it (hooks do: ``claude-code``, ``codex``, ``gemini``; MCP agents
``mcp``), or the collector fills it in from the ingesting adapter's type; rows older
than the field learn theirs in migration 5. The Swarm pane's ``/`` filter and
``ls agents`` show it.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from swarmdeck.adapters.vendor_stamp import stamp_vendor
from swarmdeck.store.db import Store
from swarmdeck.store.events import EventError, make_event, parse_event
from swarmdeck.store.models import Agent
from swarmdeck.tui.model import SwarmModel

TS = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def seen(name: str, vendor: str | None = None, **data: str) -> dict[str, object]:
    body: dict[str, object] = {"name": name, "role": "coder", **data}
    if vendor is not None:
        body["vendor"] = vendor
    return {"v": 1, "id": f"seen:{name}", "ts": TS.isoformat(), "source": "s",
            "kind": "agent.seen", "agent": name, "data": body}  # fmt: skip


def test_vendor_is_optional_on_the_wire() -> None:
    old = parse_event(seen("a"))  # what every sender wrote before the field existed
    assert old.data.vendor is None  # type: ignore[union-attr]
    assert parse_event(seen("b", "codex")).data.vendor == "codex"  # type: ignore[union-attr]
    with pytest.raises(EventError, match=r"data\.vendor"):
        parse_event(seen("c", ""))


async def test_the_collector_stamps_what_the_sender_did_not_say(tmp_path: Path) -> None:
    stamp = stamp_vendor({"team-logs": "jsonl"})
    said = parse_event(seen("a", "gemini"))
    unsaid = parse_event(seen("b"))
    status = make_event("agent.status", id="st", source="s", agent="b", data={"state": "idle"})
    out = await stamp([said, unsaid, status], "team-logs")
    assert [getattr(e.data, "vendor", "-") for e in out] == ["gemini", "jsonl", "-"]
    assert await stamp([unsaid], "another-origin") == [unsaid]  # not an adapter of ours
    assert stamp.mask_raw(b"x") == b"x"
    async with await Store.open(tmp_path / "v.db") as store:
        await store.append(out, origin="team-logs")
        assert (await store.agent("a")).vendor == "gemini"
        assert (await store.agent("b")).vendor == "jsonl"
        # A later agent.seen without a vendor does not erase the known one.
        again = parse_event({**seen("a"), "id": "seen:a:2"})
        await store.append([again], origin="elsewhere")
        assert (await store.agent("a")).vendor == "gemini"


async def test_the_vendor_migration_gives_old_rows_their_vendor(tmp_path: Path) -> None:
    from swarmdeck.store.schema import MIGRATIONS

    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    rows = [("claude:repo", "claude-code-hook"), ("mcp-agent", "mcp-stdio"),
            ("coder-1", "demo"), ("stranger", "who-knows")]  # fmt: skip
    for name, origin in rows:
        conn.execute("INSERT INTO agents(name, first_seen, last_seen, origin, rev) "
                     "VALUES (?, 0, 0, ?, 1)", (name, origin))  # fmt: skip
    conn.execute("INSERT INTO adapter_health(name, type, state, updated_ts, rev) "
                 "VALUES ('demo', 'demo', 'running', 0, 1)")  # fmt: skip
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    async with await Store.open(path) as store:
        vendors = {a.name: a.vendor for a in await store.agents()}
    assert vendors == {"claude:repo": "claude-code", "mcp-agent": "mcp", "coder-1": "demo",
                       "stranger": None}  # fmt: skip


def _agent(name: str, vendor: str | None) -> Agent:
    return Agent(name, "coder", None, None, "idle", "", None, None, 0.0, 0.0, 0, 0, 0, 0.0,
                 "demo", 1, vendor)  # fmt: skip


def test_the_swarm_filter_understands_vendor() -> None:
    model = SwarmModel()
    model.merge(
        [_agent("codex:api", "codex"), _agent("claude:api", "claude-code"),
         _agent("gemini:web", "gemini"), _agent("coder-1", None)]
    )  # fmt: skip
    model.set_filter("vendor:codex")
    assert model.order == ["codex:api"]
    model.set_filter("vendor:c")  # a prefix, like every field term
    assert model.order == ["claude:api", "codex:api"]
    model.set_filter("!vendor:gemini")
    assert model.order == ["claude:api", "coder-1", "codex:api"]
    model.set_filter("claude-code")  # a free word finds the vendor too
    assert model.order == ["claude:api"]


def test_ls_agents_shows_the_vendor(tmp_path: Path) -> None:
    db = tmp_path / "ls.db"
    lines = "\n".join(json.dumps(seen(n, v)) for n, v in (("codex:api", "codex"), ("old", None)))
    swarmdeck = str(Path(sys.executable).parent / "swarmdeck")
    ingest = subprocess.run(
        [swarmdeck, "--db", str(db), "ingest", "-"], input=lines.encode(), capture_output=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    table = subprocess.run(
        [swarmdeck, "--db", str(db), "ls", "agents"], capture_output=True, text=True, timeout=60,
        check=True,
    ).stdout.splitlines()  # fmt: skip
    assert table[0].split()[:3] == ["NAME", "ROLE", "VENDOR"]
    assert table[1].split()[:3] == ["codex:api", "coder", "codex"]
    assert table[2].split()[:3] == ["old", "coder", "-"]
    rows = json.loads(
        subprocess.run(
            [swarmdeck, "--db", str(db), "ls", "agents", "--json"], capture_output=True,
            text=True, timeout=60, check=True,
        ).stdout
    )  # fmt: skip
    assert [r["vendor"] for r in rows] == ["codex", None]
