"""The frame's pure presentation: status line, pane titles and the attention toast."""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text

from swarmdeck.store.models import Workflow, WorkflowSummary
from swarmdeck.tui.model import InboxModel, SwarmModel
from swarmdeck.tui.presentation.status import (
    StatusState,
    attention_text,
    inbox_title,
    status_line,
    swarm_title,
    workflow_title,
)
from tests.tui.rows import agent_row, escalation_row

BUSY = StatusState(
    agents_by_state={"working": 7, "blocked": 2, "idle": 3},
    open_by_severity={"critical": 1, "normal": 4},
    oldest_open=1000.0,
    now=1000.0 + 5 * 60 + 3,
    adapters=[("demo", "running"), ("hooks", "running")],
    collector="this process",
    actor="ann@deck",
)


def _bold_spans(text: Text) -> list[str]:
    return [text.plain[s.start : s.end] for s in text.spans if s.style == "bold"]


def test_status_line_wide() -> None:
    text = status_line(BUSY)
    assert text.plain == (
        "▶7 working ■2 blocked ✗0 failed │ open ‼1 •4  oldest 5m"
        " │ adapters 2 ok │ collector: this process │ ann@deck"
    )
    # What needs a manager is bold: blocked agents and urgent escalations, never a zero.
    assert _bold_spans(text) == ["■2 blocked ", "open ‼1 •4"]


def test_status_line_narrow_keeps_the_numbers() -> None:
    text = status_line(replace(BUSY, width=79))
    assert text.plain == "▶7 ■2 ✗0 │ ‼1 •4 ⏱5m │ adapters 2 ok"


def test_status_line_ascii_and_quiet() -> None:
    quiet = StatusState(
        agents_by_state={},
        open_by_severity={},
        oldest_open=None,
        now=0.0,
        adapters=[],
        collector="no collector",
        actor="me",
        ascii_only=True,
    )
    text = status_line(quiet)
    assert text.plain == (
        ">0 working #0 blocked x0 failed | open 0 | adapters - | collector: no collector | me"
    )
    assert text.plain.isascii() and not _bold_spans(text)


def test_status_line_names_adapters_down_read_only_and_store_errors() -> None:
    state = replace(
        BUSY,
        adapters=[("demo", "running"), ("hooks", "crashed"), ("mcp", "degraded")],
        read_only=True,
        poll_error="database is locked",
        actor="\x1b[31mann\x1b[0m",  # agent-controlled text never reaches the terminal raw
    )
    text = status_line(state)
    assert "adapters 2/3 down: hooks, mcp" in text.plain
    assert text.plain.endswith("│ ann [read-only] ⚠ database is locked")
    assert "\x1b" not in text.plain
    assert {"adapters 2/3 down: ", " [read-only]", " ⚠ database is locked"} <= set(
        _bold_spans(text)
    )


def test_pane_titles() -> None:
    swarm = SwarmModel()
    swarm.merge([agent_row("a", "blocked"), agent_row("b"), agent_row("c", role="tester")])
    assert swarm_title(swarm) == "[1] Swarm 3 · sort name"
    swarm.set_filter("role:tester")
    assert swarm_title(swarm) == "[1] Swarm 1/3 · sort name · /role:tester"
    inbox = InboxModel(visible_seconds=60.0)
    inbox.merge(
        [escalation_row("e1"), escalation_row("e2"), escalation_row("e3", decided=9.0)], now=10
    )
    assert inbox_title(inbox, marked=0, read_only=False) == "[2] Inbox 2 open"
    inbox.set_filter("e2")
    assert inbox_title(inbox, marked=2, read_only=True) == (
        "[2] Inbox 2 open · 2 marked · /e2 · read-only"
    )
    assert workflow_title(None, []) == "[3] Workflow (none)"
    graph = Workflow("release-42", [], [], True, 0.0, 1)
    one = WorkflowSummary("release-42", 8, 3, 0, 2, 0, 0.0, 1)
    assert workflow_title(graph, [one]) == "[3] Workflow release-42 3/8 done"
    other = replace(one, name="hotfix-7")
    assert workflow_title(graph, [other, one]) == (
        "[3] Workflow release-42 3/8 done · w: pick one of 2"
    )


def test_attention_names_the_first_and_counts_the_rest() -> None:
    first = replace(escalation_row("e1", "critical", title="rm -rf build/?"), agent="coder-4")
    gate = replace(
        escalation_row("e2", "high", title="ship it?"), agent=None, workflow="release-42"
    )
    assert attention_text([first]) == "CRITICAL: coder-4: rm -rf build/?"
    assert attention_text([gate, first]) == "HIGH: release-42: ship it? (+1 more)"
