"""``swarmdeck ls agents|tasks|escalations|workflows|dead-letters [--state S] [--json]``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from swarmdeck.cli._common import common_options, emit_json, emit_table, with_store
from swarmdeck.config import Settings
from swarmdeck.store.db import Store

KINDS = ("agents", "tasks", "escalations", "workflows", "decisions", "dead-letters")


def _age(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    seconds = max(0, int(now - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


@click.command()
@common_options
@click.argument("what", type=click.Choice(KINDS), metavar="WHAT")
@click.option("--state", help="Only rows in this state (e.g. open, blocked, failed).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of objects.")
@click.option("--limit", type=int, default=None, help="At most this many rows.")
@with_store
async def ls(
    store: Store, settings: Settings, what: str, state: str | None, as_json: bool, limit: int | None
) -> None:
    """List WHAT: agents, tasks, escalations, workflows, decisions or dead-letters."""
    now = time.time()
    rows: list[dict[str, Any]]
    table: list[tuple[Any, ...]]
    headers: list[str]
    if what == "agents":
        agents = await store.agents(state=state, limit=limit)
        rows = [a.to_dict() for a in agents]
        table = [
            (
                a.name,
                a.role,
                a.state,
                a.activity,
                a.task,
                _age(a.last_seen, now),
                a.tokens_in + a.tokens_out,
                f"{a.cost_usd:.2f}",
            )
            for a in agents
        ]
        headers = ["name", "role", "state", "activity", "task", "seen", "tokens", "cost"]
    elif what == "tasks":
        tasks = await store.tasks(state=state, limit=limit)
        rows = [t.to_dict() for t in tasks]
        table = [
            (t.id, t.workflow, t.state, t.assignee, t.title, t.failures, _age(t.updated_ts, now))
            for t in tasks
        ]
        headers = ["id", "workflow", "state", "assignee", "title", "failures", "updated"]
    elif what == "escalations":
        escalations = await store.escalations(state=state or None, limit=limit)
        rows = [e.to_dict() for e in escalations]
        table = [
            (
                e.id,
                e.state,
                e.severity,
                e.kind,
                e.agent,
                e.title,
                _age(e.raised_ts, now),
                e.decided_by or "",
                e.action or "",
                e.delivery or "",
            )
            for e in escalations
        ]
        headers = [
            "id",
            "state",
            "severity",
            "kind",
            "agent",
            "title",
            "age",
            "decided_by",
            "action",
            "delivery",
        ]
    elif what == "workflows":
        workflows = await store.workflows()
        rows = [w.to_dict() for w in workflows]
        table = [
            (w.name, w.tasks, w.done, w.running, w.failed, w.open_escalations) for w in workflows
        ]
        headers = ["name", "tasks", "done", "running", "failed", "open_escalations"]
    elif what == "decisions":
        decisions = await store.decisions(limit=limit or 1000)
        rows = [d.to_dict() for d in decisions]
        table = [
            (
                d.id,
                d.escalation,
                d.action,
                d.actor,
                d.host or "",
                d.reason or "",
                d.target or "",
                _iso(d.ts),
            )
            for d in decisions
        ]
        headers = ["id", "escalation", "action", "actor", "host", "reason", "target", "ts"]
    else:
        letters = await store.dead_letters(limit=limit or 100)
        rows = [d.to_dict() for d in letters]
        table = [(d.id, d.origin, d.location, d.error, _iso(d.ts)) for d in letters]
        headers = ["id", "origin", "location", "error", "ts"]
    if as_json:
        emit_json(rows)
    else:
        emit_table(headers, table)
