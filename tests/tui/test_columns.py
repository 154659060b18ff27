"""Which columns the Swarm and the Inbox show at each width (pure: no App)."""

from __future__ import annotations

import pytest

from swarmdeck.tui.presentation.columns import (
    SWARM_COLUMNS,
    Column,
    inbox_columns,
    plan,
    swarm_columns,
)

#: Content widths of the panes: 120 columns (two panes side by side), 45 (side panel),
#: 80 (stacked), 200 (two wide panes).
AT_120, AT_45, AT_80, AT_200 = 57, 42, 77, 97


def keys(planned: list[tuple[str, int]]) -> list[str]:
    return [key for key, _ in planned]


def total(planned: list[tuple[str, int]]) -> int:
    return sum(w for _, w in planned) + len(planned) - 1


@pytest.mark.parametrize("width", [20, 30, AT_45, 50, AT_120, 64, AT_80, AT_200, 150])
def test_columns_fill_the_pane_exactly(width: int) -> None:
    for planned in (swarm_columns(width), inbox_columns(width)):
        assert total(planned) == width


def test_the_swarm_shows_task_and_spend_at_120_columns() -> None:
    assert keys(swarm_columns(AT_120)) == ["", "AGENT", "TASK", "ACTIVITY", "COST"]
    widths = dict(swarm_columns(AT_120))
    assert widths["TASK"] >= len("release-42.code-1")  # a demo task id, whole
    assert widths["ACTIVITY"] >= 12


def test_the_side_panel_keeps_spend_and_drops_the_task() -> None:
    assert keys(swarm_columns(AT_45)) == ["", "AGENT", "ACTIVITY", "COST"]


def test_sorting_shows_the_column_it_sorts_by() -> None:
    assert "STATE" not in keys(swarm_columns(AT_120))
    assert "STATE" in keys(swarm_columns(AT_120, "state"))
    assert "SEEN" in keys(swarm_columns(AT_45, "last seen"))
    for width in (AT_45, AT_120, AT_80):
        assert "COST" in keys(swarm_columns(width, "cost"))


def test_the_inbox_shows_agent_and_due_at_120_columns() -> None:
    assert keys(inbox_columns(AT_120)) == ["", "AGE", "DUE", "AGENT", "TITLE"]
    assert dict(inbox_columns(AT_120))["TITLE"] >= 28
    # The side panel: the title carries agent and due itself (see the list).
    assert keys(inbox_columns(AT_45)) == ["", "AGE", "TITLE"]
    assert keys(inbox_columns(AT_200)) == ["", "SEV", "AGE", "DUE", "AGENT", "KIND", "TITLE"]


def test_a_new_column_squeezes_the_less_important_ones() -> None:
    """A column more important than the vendor tag fits at 120 columns, at the task's cost;
    the vendor tag itself (least important) waits for a wider pane."""
    urgent = Column("URGENT", 3, 5, 3)
    columns = (*SWARM_COLUMNS[:2], urgent, *SWARM_COLUMNS[2:])
    planned = plan(columns, AT_120)
    assert keys(planned) == ["", "AGENT", "URGENT", "TASK", "ACTIVITY", "COST"]
    assert total(planned) == AT_120
    assert "VENDOR" not in keys(swarm_columns(AT_120))
    assert "VENDOR" in keys(swarm_columns(AT_200))


def test_a_column_never_shows_while_a_more_important_one_does_not() -> None:
    columns = (
        Column("A", 2, 2, 0),
        Column("BIG", 30, 30, 1),
        Column("SMALL", 2, 2, 2),
        Column("TEXT", 5, 10, 0, flex=True),
    )
    assert keys(plan(columns, 25)) == ["A", "TEXT"]  # SMALL would fit, BIG does not
    assert keys(plan(columns, 50)) == ["A", "BIG", "SMALL", "TEXT"]
