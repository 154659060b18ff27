"""Which columns a list shows at a given width, and how wide each one is.

A pane at 120 terminal columns is only 50-65 cells wide, so a fixed column set per width
tier either hides what a manager needs (the Swarm's task and spend, the Inbox's agent and
due time) or starves the one text column that explains the row. Instead each column
says how little it can live with (``min``), how much it would like (``want``) and how
much it matters (``priority``, lower first); one column is the *flex* column that takes
what is left (the Swarm's activity, the Inbox's title).

Planning is two steps, both in priority order: first, a column is shown while it fits
at its minimum width with every more important column (the flex one included) at the
width it wants, so a new column never starves the ones that matter more (the first
that does not fit ends the list); then each shown column grows towards its ``want``, and the flex
column takes the rest. A new column (the Swarm's vendor tag, say) is one more entry:
the planner makes room by squeezing and dropping less important ones, never by
overflowing the pane.

Pure functions of the width and the sort order: no Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

#: One planned column: its key (the header label) and its width in cells.
Planned = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Column:
    """A column a list may show."""

    key: str
    """The header label; also the key its cell value is looked up by."""
    min: int
    want: int
    priority: int
    """Lower is more important: shown first, grown first."""
    flex: bool = False
    """Takes the width left over (exactly one column per list)."""


def plan(columns: Sequence[Column], width: int) -> list[Planned]:
    """The columns shown at ``width`` cells (one space between columns), in display order.

    The result always includes the flex column and never exceeds ``width`` unless even
    the flex column's minimum does not fit (then it is given what there is, at least 1).
    """
    flex = next(c for c in columns if c.flex)
    chosen: set[str] = {flex.key}
    used = flex.want
    for c in sorted((c for c in columns if not c.flex), key=lambda c: c.priority):
        if used + c.min + len(chosen) > width:  # one separator per column already chosen
            break  # a column never shows while a more important one is left out
        chosen.add(c.key)
        used += c.want
    shown = [c for c in columns if c.key in chosen]
    widths = {c.key: c.min for c in shown}
    room = width - sum(widths.values()) - (len(shown) - 1)
    for c in sorted(shown, key=lambda c: (c.priority, not c.flex)):
        if room <= 0:
            break
        grow = min(room, max(0, c.want - widths[c.key]))
        widths[c.key] += grow
        room -= grow
    # What is left goes to the flex column; when not even the minimums fit, it gives way.
    widths[flex.key] = max(1, widths[flex.key] + room)
    return [(c.key, widths[c.key]) for c in shown]


# --------------------------------------------------------------------------- the Swarm

#: What the sort order is read from: sorting by a column always shows that column.
SORT_COLUMN = {"name": "AGENT", "state": "STATE", "last seen": "SEEN", "cost": "COST"}

SWARM_COLUMNS: tuple[Column, ...] = (
    Column("", 2, 2, 0),
    Column("AGENT", 8, 11, 1),
    Column("STATE", 7, 8, 7),
    Column("ROLE", 8, 11, 6),
    Column("VENDOR", 6, 11, 9),
    Column("TASK", 13, 19, 4),
    Column("ACTIVITY", 10, 12, 0, flex=True),
    Column("SEEN", 4, 5, 5),
    Column("TOKENS", 6, 7, 8),
    Column("COST", 5, 6, 2),
)


@lru_cache(maxsize=64)
def _swarm_columns(width: int, sort: str) -> tuple[Planned, ...]:
    wanted = SORT_COLUMN.get(sort)
    columns = [
        replace(c, priority=1) if c.key == wanted and not c.flex else c for c in SWARM_COLUMNS
    ]
    return tuple(plan(columns, width))


def swarm_columns(width: int, sort: str = "name") -> list[Planned]:
    """The Swarm's columns: task and spend from about 50 cells (a 120-column terminal).
    Planned once per width and sort (rows ask for every line they draw)."""
    return list(_swarm_columns(width, sort))


# --------------------------------------------------------------------------- the Inbox

INBOX_COLUMNS: tuple[Column, ...] = (
    Column("", 2, 2, 0),
    Column("SEV", 4, 4, 4),
    Column("AGE", 3, 4, 1),
    Column("DUE", 5, 7, 3),
    Column("AGENT", 8, 11, 2),
    Column("KIND", 8, 9, 7),
    Column("TITLE", 14, 28, 0, flex=True),
)


@lru_cache(maxsize=64)
def _inbox_columns(width: int) -> tuple[Planned, ...]:
    return tuple(plan(INBOX_COLUMNS, width))


def inbox_columns(width: int) -> list[Planned]:
    """The Inbox's columns: agent and due from about 60 cells (a 120-column terminal).

    Without an AGENT column the title carries the agent as a prefix, and without a
    DUE column the countdown follows the title (see the list's rendering).
    """
    return list(_inbox_columns(width))
