"""A small, fixed swarm for the TUI tests: every state, severity and node kind, plus hostile text.

Hand-written (not the demo simulation) so snapshots change only when the TUI does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from swarmdeck.store.db import Store
from swarmdeck.store.events import Event, make_event

T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
NOW = (T0 + timedelta(minutes=10)).timestamp()
SOURCE = "demo"

HOSTILE_TITLE = "[bold red]pwned[/] \x1b]52;c;ZXZpbA==\x07clip \x1b[31mred\x1b[0m \u202eevil\u202c"

AGENTS: list[tuple[str, str, str, str, str | None]] = [
    # name, role, state, activity, task
    ("planner-1", "planner", "done", "plan for release-42 written", "T-plan"),
    ("coder-1", "coder", "working", "implementing /api/orders pagination", "T-api"),
    ("coder-2", "coder", "failed", "tests failed: 3 of 212 in orders_test.py", "T-ui"),
    ("coder-3", "coder", "blocked", "waiting for approval to read .env", "T-docs"),
    ("coder-4", "coder", "idle", "", None),
    ("coder-9", "coder", "working", "[bold]not markup[/] \x1b[2Jcleared?", None),
    ("reviewer-1", "reviewer", "idle", "", None),
    ("senior-coder-1", "senior-coder", "idle", "", None),
    ("tester-1", "tester", "blocked", "needs a staging database", "T-test"),
    ("deployer-1", "deployer", "offline", "", None),
    ("docs-1", "writer", "working", "changelog for release-42 " + "very long line " * 20, "T-docs"),
    ("emoji-🦀", "coder", "working", "wide 漢字 text and emoji 🚀 ok", None),
]

#: One swarm of many kinds of agents (and one that never said what it is).
VENDORS = ("claude-code", "codex", "gemini", "mcp", None)


def _ts(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def events() -> list[Event]:
    out: list[Event] = []
    n = 0

    def ev(kind: str, minutes: float, **fields: Any) -> None:
        nonlocal n
        n += 1
        out.append(make_event(kind, id=f"e{n}", source=SOURCE, ts=_ts(minutes), **fields))

    for i, (name, role, _state, _activity, _task) in enumerate(AGENTS):
        seen: dict[str, Any] = {"name": name, "role": role, "model": "m-1"}
        if VENDORS[i % len(VENDORS)]:
            seen["vendor"] = VENDORS[i % len(VENDORS)]
        ev("agent.seen", 0 + i * 0.01, agent=name, data=seen)
    ev(
        "workflow.defined",
        0.2,
        workflow="release-42",
        data={
            "name": "release-42",
            "nodes": [
                {"id": "T-plan", "label": "plan release", "role": "planner"},
                {"id": "T-api", "label": "build api", "role": "coder"},
                {"id": "T-ui", "label": "build ui", "role": "coder"},
                {"id": "T-docs", "label": "write docs", "role": "writer"},
                {"id": "T-test", "label": "integration test", "role": "tester"},
                {"id": "T-review", "label": "human review", "role": "reviewer", "gate": True},
                {"id": "T-deploy", "label": "deploy", "role": "deployer"},
            ],
            "edges": [
                ["T-plan", "T-api"],
                ["T-plan", "T-ui"],
                ["T-plan", "T-docs"],
                ["T-api", "T-test"],
                ["T-ui", "T-test"],
                ["T-test", "T-review"],
                ["T-review", "T-deploy"],
                ["T-docs", "T-deploy"],
            ],
        },
    )
    tasks = [
        ("T-plan", "plan release", "planner-1", []),
        ("T-api", "build api", "coder-1", ["T-plan"]),
        ("T-ui", "build ui", "coder-2", ["T-plan"]),
        ("T-docs", "write docs", "docs-1", ["T-plan"]),
        ("T-test", "integration test", "tester-1", ["T-api", "T-ui"]),
        ("T-review", "human review", None, ["T-test"]),
        ("T-deploy", "deploy", None, ["T-review", "T-docs"]),
    ]
    for tid, title, assignee, deps in tasks:
        data: dict[str, Any] = {"title": title, "depends_on": deps}
        if assignee:
            data["assignee"] = assignee
        ev("task.created", 0.5, task=tid, workflow="release-42", agent=assignee, data=data)
    ev("task.started", 1, task="T-plan", workflow="release-42", agent="planner-1")
    ev(
        "task.completed",
        2,
        task="T-plan",
        workflow="release-42",
        agent="planner-1",
        data={"result": "ok"},
    )
    for tid, agent in (
        ("T-api", "coder-1"),
        ("T-ui", "coder-2"),
        ("T-docs", "docs-1"),
        ("T-test", "tester-1"),
    ):
        ev("task.started", 3, task=tid, workflow="release-42", agent=agent)
    ev(
        "task.failed",
        6,
        task="T-ui",
        workflow="release-42",
        agent="coder-2",
        data={"error": "3 tests failed", "retryable": True},
    )
    # A second, small workflow (for :workflow and the cycle key).
    ev(
        "workflow.defined",
        0.3,
        workflow="hotfix-7",
        data={
            "name": "hotfix-7",
            "nodes": [
                {"id": "H-fix", "label": "patch"},
                {"id": "H-ship", "label": "ship", "gate": True},
            ],
            "edges": [["H-fix", "H-ship"]],
        },
    )
    ev("task.created", 0.4, task="H-fix", workflow="hotfix-7", data={"title": "patch"})
    for i, (name, _role, state, activity, task) in enumerate(AGENTS):
        fields: dict[str, Any] = {"agent": name, "data": {"state": state, "activity": activity}}
        if task:
            fields["task"] = task
            fields["workflow"] = "release-42"
        ev("agent.status", 7 + i * 0.2, **fields)
        ev(
            "usage",
            7 + i * 0.2,
            agent=name,
            data={"tokens_in": 1000 * (i + 1), "tokens_out": 250 * i, "cost_usd": 0.05 * i},
        )
    escalations = [
        (
            "esc-secret",
            "guardrail",
            "Secret in output of coder-3",
            "critical",
            8.0,
            "coder-3",
            "T-docs",
            5,
            None,
        ),
        (
            "esc-deploy",
            "approval",
            "Deploy release-42 to staging?",
            "high",
            4.0,
            "tester-1",
            "T-test",
            15,
            ["senior-coder", "reviewer-1"],
        ),
        (
            "esc-db",
            "question",
            "Which database for the cache?",
            "normal",
            2.0,
            "coder-1",
            "T-api",
            None,
            None,
        ),
        (
            "esc-budget",
            "budget",
            "coder-2 spent 80% of today's budget",
            "low",
            1.0,
            "coder-2",
            None,
            None,
            None,
        ),
        ("esc-hostile", "approval", HOSTILE_TITLE, "normal", 5.0, "coder-9", None, None, None),
        ("esc-old", "approval", "Merge PR #41?", "normal", 0.5, "reviewer-1", None, None, None),
    ]
    options = {"esc-db": ["Redis", "Memcached", "Postgres"]}
    for eid, kind, title, severity, minute, agent, task, deadline, targets in escalations:
        data = {
            "id": eid,
            "kind": kind,
            "title": title,
            "severity": severity,
            "body": f"Body of {eid}.\n\nLine two with [red]markup[/red] and \x1b[1mANSI\x1b[0m.",
        }
        if deadline:
            data["deadline"] = (_ts(minute) + timedelta(minutes=deadline)).isoformat()
        if targets:
            data["reroute_targets"] = targets
        if eid in options:
            data["options"] = options[eid]
        fields = {"agent": agent, "data": data}
        if task:
            fields["task"] = task
            fields["workflow"] = "release-42"
        ev("escalation.raised", minute, **fields)
    return out


async def fill(store: Store) -> None:
    """Write the swarm, then one decision (esc-old, approved by alice) that stays visible."""
    await store.append(events(), origin=SOURCE)
    await store.decide("esc-old", "approve", actor="alice@deck")


async def make_db(path: Path) -> Path:
    store = await Store.open(path, clock=lambda: NOW - 120)
    try:
        await fill(store)
    finally:
        await store.close()
    return path
