"""Line API lists over in-memory models: the Swarm and the Inbox.

Why not a DataTable: with 10,000 agents and 1,000 updates a second a DataTable
holding every row spends its time updating cells nobody sees. Here a row is
rendered only when it is on screen, from the model, and cached under a *stamp*
(what the row shows: the row's rev, its age text, cursor and mark). A fixed-rate
:meth:`RowList.flush` compares the stamps of the visible rows with what was last
painted and refreshes only the lines that differ, so a busy swarm costs a few
repainted lines per tick, not a repaint per event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from swarmdeck.store.events import Action
from swarmdeck.store.models import Agent, Escalation
from swarmdeck.tui.model import InboxModel, SwarmModel
from swarmdeck.tui.presentation.columns import SORT_COLUMN, inbox_columns, swarm_columns
from swarmdeck.tui.render import (
    ACTION_PAST,
    AGENT_SYMBOLS,
    DELIVERY_SYMBOLS,
    SEVERITY_SHORT,
    SEVERITY_SYMBOLS,
    coarse_age,
    countdown,
    fit,
    short_duration,
    symbol,
    tokens,
)
from swarmdeck.tui.safe_text import clean


def _padded(text: Text, width: int) -> Text:
    """``text`` exactly ``width`` cells wide (a row's cells line up under the header)."""
    text.truncate(width, pad=True)
    return text


class Ordered(Protocol):
    """What a list needs of its model: keys in display order and their positions."""

    order: list[str]
    index: dict[str, int]


class RowList(ScrollView, can_focus=True):
    """A cursor list with a fixed header line, rendered a line at a time."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "rowlist--header",
        "rowlist--cursor",
        "rowlist--cursor-blurred",
        "rowlist--mark",
        "rowlist--dim",
    }
    DEFAULT_CSS = """
    RowList { background: $surface; overflow-x: hidden; scrollbar-size-vertical: 1; }
    RowList > .rowlist--header { text-style: bold; color: $text-muted; }
    RowList > .rowlist--cursor { background: $primary 40%; text-style: bold; }
    RowList > .rowlist--cursor-blurred { background: $primary 15%; }
    RowList > .rowlist--mark { color: $mark; text-style: bold; }
    RowList > .rowlist--dim { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor(1)", "Down", show=False, id="list.down"),
        Binding("k,up", "cursor(-1)", "Up", show=False, id="list.up"),
        Binding("g,home", "first", "First", show=False, id="list.first"),
        Binding("G,end", "last", "Last", show=False, id="list.last"),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False, id="list.page_down"),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False, id="list.page_up"),
        Binding("enter", "details", "Details", id="list.details"),
    ]

    @dataclass
    class Details(Message):
        """Enter on a row: show the item's details."""

        rows: RowList
        key: str

        @property
        def control(self) -> RowList:
            return self.rows

    def __init__(self, *, id: str | None = None, clock: Callable[[], float]) -> None:
        super().__init__(id=id)
        self.clock = clock
        self.cursor = 0
        self.cursor_key: str | None = None
        self.marked: set[str] = set()
        self.ascii_only = False
        self._cache: dict[str, tuple[Any, Strip]] = {}
        self._painted: dict[int, Any] = {}
        self._last_len = -1

    # ----------------------------------------------------------------- for subclasses

    model: Ordered

    @property
    def keys(self) -> list[str]:
        """Row keys in display order (filtered and sorted by the model)."""
        return self.model.order

    def index_of(self, key: str) -> int | None:
        return self.model.index.get(key)

    def stamp(self, key: str, now: float) -> Any:
        """Everything a row's rendering depends on besides width, cursor and mark."""
        raise NotImplementedError

    def render_row(self, key: str, width: int, now: float) -> Text:
        raise NotImplementedError

    def render_header(self, width: int) -> Text:
        raise NotImplementedError

    # ----------------------------------------------------------------- rendering

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            text = self.render_header(width)
            text.stylize(self.get_component_rich_style("rowlist--header"))
            self._painted[0] = ("header", width)
            return self._strip(text, width, self.rich_style)
        index = self.scroll_offset.y + y - 1
        keys = self.keys
        if index >= len(keys):
            self._painted[y] = None
            return Strip.blank(width, self.rich_style)
        key = keys[index]
        now = self.clock()
        selected = index == self.cursor
        full = (self.stamp(key, now), width, selected, self.has_focus, key in self.marked)
        self._painted[y] = (key, full)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == full:
            return cached[1]
        text = self.render_row(key, width, now)
        if key in self.marked:
            text.stylize(self.get_component_rich_style("rowlist--mark"), 0, 2)
        base = self.rich_style
        if selected:
            name = "rowlist--cursor" if self.has_focus else "rowlist--cursor-blurred"
            base = base + self.get_component_rich_style(name)
        strip = self._strip(text, width, base)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[key] = (full, strip)
        return strip

    def _strip(self, text: Text, width: int, base: Style) -> Strip:
        text.no_wrap = True
        text.overflow = "crop"
        text.truncate(width, pad=True)
        segments = list(text.render(self.app.console))
        return Strip(segments, width).apply_style(base).simplify()

    def flush(self) -> None:
        """Repaint the visible lines whose content changed since they were painted."""
        keys = self.keys
        if self.cursor_key is not None:
            index = self.index_of(self.cursor_key)
            if index is not None:
                self.cursor = index
        if keys:
            self.cursor = max(0, min(self.cursor, len(keys) - 1))
            self.cursor_key = keys[self.cursor]
        else:
            self.cursor = 0
            self.cursor_key = None
        if len(keys) != self._last_len:
            self._last_len = len(keys)
            self.virtual_size = Size(self.scrollable_content_region.width, len(keys) + 1)
        width = self.scrollable_content_region.width
        top = self.scroll_offset.y
        now = self.clock()
        for y in range(1, self.scrollable_content_region.height):
            index = top + y - 1
            painted = self._painted.get(y, "never")
            if index >= len(keys):
                if painted is not None:
                    self.refresh_line(top + y)
                continue
            key = keys[index]
            full = (
                self.stamp(key, now),
                width,
                index == self.cursor,
                self.has_focus,
                key in self.marked,
            )
            if painted != (key, full):
                self.refresh_line(top + y)

    def invalidate(self) -> None:
        self._cache.clear()
        self._painted.clear()
        self.refresh()

    def on_resize(self) -> None:
        self._last_len = -1
        self.invalidate()
        self.flush()

    def on_focus(self) -> None:
        self.flush()

    def on_blur(self) -> None:
        self.flush()

    # ----------------------------------------------------------------- cursor

    @property
    def current(self) -> str | None:
        """The item the manager sees under the cursor.

        Resolved by key first: a poll may re-sort the list between two repaints, and a
        key pressed in that window must act on the row that was shown, not on whatever
        now sits at the old index.
        """
        key = self.cursor_key
        if key is not None and self.index_of(key) is not None:
            return key
        keys = self.keys
        return keys[self.cursor] if 0 <= self.cursor < len(keys) else None

    def move_to(self, index: int) -> None:
        keys = self.keys
        if not keys:
            return
        index = max(0, min(index, len(keys) - 1))
        self.cursor = index
        self.cursor_key = keys[index]
        visible = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False, immediate=True)
        self.flush()

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_first(self) -> None:
        self.move_to(0)

    def action_last(self) -> None:
        self.move_to(len(self.keys) - 1)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 2))

    def action_details(self) -> None:
        key = self.current
        if key is not None:
            self.post_message(self.Details(self, key))

    def on_click(self, event: Any) -> None:
        y = getattr(event, "y", 0)
        if y >= 1:
            self.move_to(int(self.scroll_offset.y) + y - 1)


class SwarmList(RowList):
    """Every agent: state, role, vendor, activity, task, last seen, tokens and cost."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *RowList.COMPONENT_CLASSES,
        "agent--idle",
        "agent--working",
        "agent--blocked",
        "agent--failed",
        "agent--done",
        "agent--offline",
    }
    DEFAULT_CSS = """
    SwarmList > .agent--idle { color: $agent-idle; }
    SwarmList > .agent--working { color: $agent-working; }
    SwarmList > .agent--blocked { color: $agent-blocked; text-style: bold; }
    SwarmList > .agent--failed { color: $agent-failed; text-style: bold; }
    SwarmList > .agent--done { color: $agent-done; }
    SwarmList > .agent--offline { color: $agent-offline; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort", id="swarm.sort"),
        Binding("a", "decide('approve')", "Approve", show=False, id="swarm.approve"),
        Binding("d", "decide('reject')", "Reject", show=False, id="swarm.reject"),
        Binding("o", "decide('reroute')", "Reroute", show=False, id="swarm.reroute"),
        Binding("r", "decide('retry')", "Retry", show=False, id="swarm.retry"),
        Binding("A", "decide('answer')", "Answer", show=False, id="swarm.answer"),
    ]

    @dataclass
    class DecideRequested(Message):
        """A decision key on an agent: for its most urgent open escalation."""

        swarm: SwarmList
        action: Action
        agent: str

        @property
        def control(self) -> SwarmList:
            return self.swarm

    @dataclass
    class SortRequested(Message):
        """``s``: sort by the next key."""

        swarm: SwarmList

        @property
        def control(self) -> SwarmList:
            return self.swarm

    model: SwarmModel

    def __init__(self, model: SwarmModel, *, clock: Callable[[], float]) -> None:
        super().__init__(id="swarm-list", clock=clock)
        self.model = model
        self.read_only = False

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.read_only and action == "decide")

    def stamp(self, key: str, now: float) -> Any:
        agent = self.model.agents[key]
        return (agent.rev, coarse_age(now - agent.last_seen))

    def _columns(self, width: int) -> list[tuple[str, int]]:
        return swarm_columns(width, self.model.sort)

    def render_header(self, width: int) -> Text:
        sorted_by = SORT_COLUMN.get(self.model.sort)
        parts = []
        for label, w in self._columns(width):
            shown = f"{label}{'v' if self.ascii_only else '▾'}" if label == sorted_by else label
            parts.append(fit(shown, w))
        return Text(" ".join(parts))

    def render_row(self, key: str, width: int, now: float) -> Text:
        agent: Agent = self.model.agents[key]
        style = self.get_component_rich_style(f"agent--{agent.state}", default=Style())
        mark = "●" if key in self.marked else " "
        values = {
            "": f"{mark}{symbol(AGENT_SYMBOLS, agent.state, self.ascii_only)}",
            "AGENT": clean(agent.name, max_len=200),
            "STATE": agent.state,
            "ROLE": clean(agent.role, max_len=200),
            "VENDOR": clean(agent.vendor or "", max_len=40),
            "TASK": clean(agent.task or "", max_len=200),
            "ACTIVITY": clean(agent.activity, max_len=400, single_line=True),
            "SEEN": coarse_age(now - agent.last_seen),
            "TOKENS": tokens(agent.tokens_in + agent.tokens_out),
            "COST": f"${agent.cost_usd:.2f}",
        }
        text = Text()
        for i, (label, w) in enumerate(self._columns(width)):
            if i:
                text.append(" ")
            cell = fit(values.get(label, ""), w)
            if label in ("", "STATE"):
                text.append(cell, style)
            elif label == "AGENT":
                text.append(cell, style if agent.state in ("blocked", "failed") else "")
            else:
                text.append(cell)
        return text

    def action_sort(self) -> None:
        self.post_message(self.SortRequested(self))

    def action_decide(self, action: Action) -> None:
        key = self.current
        if key is not None:
            self.post_message(self.DecideRequested(self, action, key))


class InboxList(RowList):
    """Open escalations by severity then age, then recent decisions with who and delivery."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *RowList.COMPONENT_CLASSES,
        "severity--low",
        "severity--normal",
        "severity--high",
        "severity--critical",
        "delivery--ok",
        "delivery--retrying",
        "delivery--failed",
        "inbox--overdue",
    }
    DEFAULT_CSS = """
    InboxList > .severity--low { color: $severity-low; }
    InboxList > .severity--normal { color: $severity-normal; }
    InboxList > .severity--high { color: $severity-high; text-style: bold; }
    InboxList > .severity--critical { color: $severity-critical; text-style: bold reverse; }
    InboxList > .delivery--ok { color: $delivery-ok; }
    InboxList > .delivery--retrying { color: $delivery-retrying; }
    InboxList > .delivery--failed { color: $delivery-failed; text-style: bold; }
    InboxList > .inbox--overdue { color: $severity-critical; text-style: bold; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide('approve')", "Approve", id="inbox.approve"),
        Binding("d", "decide('reject')", "Reject", id="inbox.reject"),
        Binding("o", "decide('reroute')", "Reroute", id="inbox.reroute"),
        Binding("r", "decide('retry')", "Retry", id="inbox.retry"),
        Binding("A", "decide('answer')", "Answer", id="inbox.answer"),
        Binding("m", "make_rule", "Decide+rule", id="inbox.make_rule"),
        Binding("space", "mark", "Mark", id="inbox.mark"),
        Binding("u", "unmark_all", "Unmark", show=False, id="inbox.unmark"),
    ]
    DECISION_ACTIONS: ClassVar[frozenset[str]] = frozenset({"decide", "make_rule"})

    @dataclass
    class DecideRequested(Message):
        """A decision key on the marked items, or on the one under the cursor."""

        inbox: InboxList
        action: Action
        keys: list[str]
        marked: bool = False
        """The keys come from marks, not the cursor: always confirm what will happen."""

        @property
        def control(self) -> InboxList:
            return self.inbox

    @dataclass
    class MakeRuleRequested(Message):
        """``m``: decide the item under the cursor and make a rule of it."""

        inbox: InboxList
        key: str

        @property
        def control(self) -> InboxList:
            return self.inbox

    model: InboxModel

    def __init__(self, model: InboxModel, *, clock: Callable[[], float]) -> None:
        super().__init__(id="inbox-list", clock=clock)
        self._advance_from: set[str] = set()
        self.model = model
        self.read_only = False

    def stamp(self, key: str, now: float) -> Any:
        e = self.model.items[key]
        if e.state == "open":
            return (e.rev, short_duration(now - e.raised_ts), countdown(e.deadline, now))
        return (e.rev, short_duration(now - (e.decided_ts or now)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (self.read_only and action in self.DECISION_ACTIONS)

    def advance_past(self, keys: list[str]) -> None:
        """This manager just decided ``keys``: let the next open item come under the cursor.

        Only for one's own decisions. When someone else decides the item under the
        cursor, the cursor follows it (it now reads "rejected by bob"), so the next key
        press meets the race-loss message instead of silently hitting the row that slid
        into its place.
        """
        self._advance_from.update(keys)

    def flush(self) -> None:
        key = self.cursor_key
        if key is not None and key in self._advance_from:
            item = self.model.items.get(key)
            if item is None or item.state != "open":
                self.cursor_key = None  # stay in place: the next item slides under
        # Forget a key once its decision has reached the model; a repaint that runs before
        # the poll merging it (it may wait behind a timer poll) must not forget it.
        self._advance_from = {k for k in self._advance_from if self._still_open(k)}
        super().flush()

    def _still_open(self, key: str) -> bool:
        item = self.model.items.get(key)
        return item is not None and item.state == "open"

    def _columns(self, width: int) -> list[tuple[str, int]]:
        return inbox_columns(width)

    def render_header(self, width: int) -> Text:
        return Text(" ".join(fit(label, w) for label, w in self._columns(width)))

    def render_row(self, key: str, width: int, now: float) -> Text:
        e: Escalation = self.model.items[key]
        sev_style = self.get_component_rich_style(f"severity--{e.severity}", default=Style())
        mark = "●" if key in self.marked else " "
        text = Text()
        columns = self._columns(width)
        shown = {label for label, _ in columns}
        decided = e.state != "open"
        for i, (label, w) in enumerate(columns):
            if i:
                text.append(" ")
            if label == "":
                sym = symbol(SEVERITY_SYMBOLS, e.severity, self.ascii_only)
                if decided:
                    sym = "✓" if not self.ascii_only else "v"
                    if e.action in ("reject",):
                        sym = "✗" if not self.ascii_only else "x"
                    elif e.state == "withdrawn":
                        sym = "-"
                text.append(fit(mark + sym, w), sev_style if not decided else "")
            elif label == "SEV":
                text.append(fit(SEVERITY_SHORT.get(e.severity, e.severity), w), sev_style)
            elif label == "AGE":
                age = now - (e.raised_ts if not decided else (e.decided_ts or now))
                text.append(fit(short_duration(age), w))
            elif label == "DUE":
                due = "" if decided else countdown(e.deadline, now)
                style = (
                    self.get_component_rich_style("inbox--overdue")
                    if due == "overdue" or (e.deadline and e.deadline - now < 60 and due)
                    else Style()
                )
                text.append(fit(due, w), style)
            elif label == "AGENT":
                # A human gate has no agent: it belongs to its workflow.
                text.append(fit(clean(e.agent or e.workflow or "-", max_len=200), w))
            elif label == "KIND":
                text.append(fit(e.kind, w))
            elif label == "TITLE":
                text.append_text(
                    self._title(e, w, now, agent="AGENT" not in shown, due="DUE" not in shown)
                )
        if decided:
            text.stylize(self.get_component_rich_style("rowlist--dim"), 2)
        return text

    def _title(self, e: Escalation, width: int, now: float, *, agent: bool, due: bool) -> Text:
        """The title cell; ``agent`` and ``due`` when those columns are not shown (then
        the title carries them). A decided row keeps its title first: what was decided
        matters more than who decided it, and the row must still say what it is."""
        title = clean(e.title, max_len=500, single_line=True)
        if e.state == "open":
            who = e.agent or e.workflow  # a human gate belongs to its workflow
            named = who and (e.agent or who not in title)  # "Ship release-42…" names it
            prefix = f"{clean(who, max_len=60)}: " if named and agent else ""
            countdown_text = countdown(e.deadline, now) if due else ""
            line = prefix + title + (f" ⏱{countdown_text}" if countdown_text else "")
            return Text(fit(line, width))
        if e.state == "withdrawn":
            line = f"{title} — withdrawn"
            return Text(fit(line if len(line) <= width else f"withdrawn: {title}", width))
        verb = ACTION_PAST.get(e.action or "", e.action or "decided")
        if e.action == "reroute" and e.target:
            verb += f" to {clean(e.target, max_len=60)}"
        who = clean(e.decided_by or "?", max_len=80)
        delivery = e.delivery or "pending"
        dsym = symbol(DELIVERY_SYMBOLS, delivery, self.ascii_only)
        dstyle = self.get_component_rich_style(
            {"delivered": "delivery--ok", "failed": "delivery--failed"}.get(
                delivery, "delivery--retrying"
            )
        )
        # The richest line that keeps the title whole; else what was done, then as much
        # of the title as fits, then the delivery symbol (details say the rest).
        why = ""
        if delivery == "failed" and e.delivery_error:
            why = f": {clean(e.delivery_error, max_len=200, single_line=True)}"
        full = Text(f"{title} — {verb} by {who}")
        full.append(f" {dsym} {delivery}{why}", dstyle)
        if full.cell_len <= width:
            return _padded(full, width)
        short = Text(f"{verb}: ")
        tail = Text(f" {dsym}" + (f" failed{why}" if delivery == "failed" else ""), dstyle)
        room = max(1, width - short.cell_len - min(tail.cell_len, width // 3))
        short.append(fit(title, room))
        short.append_text(tail)
        short.truncate(width)
        return _padded(short, width)

    def selected_keys(self) -> list[str]:
        """The marked items (in inbox order, including any a filter hides), or the one
        under the cursor."""
        if self.marked:
            shown = [k for k in self.model.order if k in self.marked]
            hidden = sorted(self.marked.difference(shown))
            return shown + hidden
        key = self.current
        return [key] if key is not None else []

    def action_decide(self, action: Action) -> None:
        keys = self.selected_keys()
        if keys:
            self.post_message(self.DecideRequested(self, action, keys, marked=bool(self.marked)))

    def action_make_rule(self) -> None:
        key = self.current
        if key is not None:
            self.post_message(self.MakeRuleRequested(self, key))

    def action_mark(self) -> None:
        key = self.current
        if key is None:
            return
        e = self.model.items.get(key)
        if key in self.marked:
            self.marked.discard(key)
        elif e is not None and e.state == "open":
            self.marked.add(key)
        self.move_to(self.cursor + 1)
        self.flush()

    def action_unmark_all(self) -> None:
        self.marked.clear()
        self.flush()

    def prune_marks(self) -> list[str]:
        """Drop marks on items no longer open; returns the dropped keys."""
        keep = {
            k for k in self.marked if k in self.model.items and self.model.items[k].state == "open"
        }
        dropped = sorted(self.marked - keep)
        self.marked = keep
        return dropped
