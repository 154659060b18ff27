"""The swarmdeck command center: Swarm, Inbox and Workflow panes over the store.

Data flow: a timer polls the store's change counter (~150 ms) and merges only the
changed rows into in-memory models (:mod:`tui.model`); a second timer (10 Hz)
repaints only visible rows whose content changed. Decisions are awaited store calls;
the store's compare-and-set tells a manager plainly when someone else decided first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.console import RenderableType
from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from swarmdeck.config import Settings, TuiSettings
from swarmdeck.store.db import Store
from swarmdeck.store.errors import AlreadyDecided, InvalidDecision, NotFound, StoreError
from swarmdeck.store.events import as_action
from swarmdeck.store.models import Escalation
from swarmdeck.tui.commands import SwarmdeckCommands
from swarmdeck.tui.model import SORTS, Models
from swarmdeck.tui.notify import osc_sequences
from swarmdeck.tui.render import AGENT_SYMBOLS, SEVERITY_SYMBOLS, short_duration, symbol, unicode_ok
from swarmdeck.tui.safe_text import clean, safe
from swarmdeck.tui.screens.details import (
    DetailScreen,
    adapters_view,
    agent_details,
    audit_view,
    escalation_details,
    reveal_view,
    task_details,
)
from swarmdeck.tui.screens.modals import ConfirmScreen, PickScreen, ReasonScreen
from swarmdeck.tui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes
from swarmdeck.tui.widgets.graph import WorkflowGraph
from swarmdeck.tui.widgets.lists import InboxList, RowList, SwarmList

PaneName = Literal["swarm", "inbox", "workflow"]
PANES: tuple[PaneName, ...] = ("inbox", "swarm", "workflow")
NARROW_WIDTH = 100
HANGUP_GRACE = 2.0
DECISION_VERBS = ("approve", "reject", "reroute", "retry")


class StatusLine(Static):
    """Agents by state, open escalations by severity, the oldest wait, adapters, collector."""


class SwarmdeckApp(App[int]):
    """The command center. Give it an open store; it never opens SQLite itself."""

    TITLE = "swarmdeck"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, SwarmdeckCommands}
    CSS = """
    #status { height: 1; background: $panel; color: $text; padding: 0 1; }
    #panes {
        layout: grid; grid-size: 2 2; grid-columns: 9fr 11fr; grid-rows: 1fr 1fr; height: 1fr;
    }
    #pane-workflow { column-span: 2; }
    #panes.-narrow { grid-size: 1 3; grid-columns: 1fr; grid-rows: 1fr 1fr 1fr; }
    #panes.-narrow #pane-workflow { column-span: 1; }
    #panes.-single { grid-size: 1 1; grid-columns: 1fr; grid-rows: 1fr; }
    #panes.-single #pane-workflow { column-span: 1; }
    .pane { border: round $panel-lighten-2; border-title-color: $text-muted; height: 1fr; }
    .pane:focus-within {
        border: round $primary; border-title-color: $text; border-title-style: bold;
    }
    .pane.-hidden { display: none; }
    #command-bar { height: 1; display: none; background: $panel; }
    #command-bar.-visible { display: block; }
    #command-mode { width: 2; padding: 0 0 0 1; color: $accent; text-style: bold; }
    #command { height: 1; border: none; padding: 0; width: 1fr; background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "cycle_pane(1)", "Next pane", show=False, id="app.next_pane", priority=True),
        Binding(
            "shift+tab",
            "cycle_pane(-1)",
            "Previous pane",
            show=False,
            id="app.previous_pane",
            priority=True,
        ),
        Binding("1", "pane('swarm')", "Swarm", show=False, id="app.swarm", priority=True),
        Binding("2", "pane('inbox')", "Inbox", show=False, id="app.inbox", priority=True),
        Binding("3", "pane('workflow')", "Workflow", show=False, id="app.workflow", priority=True),
        Binding("colon", "command", "Command", id="app.command", priority=True),
        Binding("slash", "filter", "Filter", id="app.filter", priority=True),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("escape", "back", "Back", show=False, id="app.back", priority=True),
        Binding("enter", "submit_command", "Run", show=False, id="app.submit", priority=True),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        actor: str = "unknown@localhost",
        collector_status: Callable[[], str] | str = "no collector",
        themes_dir: Path | None = None,
        poll_interval: float = 0.15,
        refresh_rate: float = 10.0,
        ascii_only: bool | None = None,
    ) -> None:
        super().__init__()
        self._store = store
        self._own_store = store is None
        self.settings = settings
        #: Where "decide and make a rule" saves rules: the file given with --config.
        self.config_path = settings.config_path
        self.tui: TuiSettings = settings.tui
        self.clock = clock
        self.actor = actor
        self.collector_status = collector_status
        self.read_only = settings.tui.read_only
        self.models = Models(
            store, clock=clock, decided_visible_minutes=settings.tui.decided_visible_minutes
        )
        self.poll_interval = poll_interval
        self.refresh_rate = refresh_rate
        if ascii_only is None:
            ascii_only = settings.tui.ascii if settings.tui.ascii is not None else not unicode_ok()
        self.ascii_only = ascii_only
        loaded = load_themes(themes_dir)
        self.theme_errors = loaded.errors
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self.theme_names = sorted(loaded.themes)
        self._command_mode = ":"
        self._current_pane: str = "inbox" if settings.tui.pane == "all" else settings.tui.pane
        self._filter_target: RowList | None = None
        self._last_status = ""
        self._status_at = 0.0
        self._poll_error: str | None = None
        self._first_poll = asyncio.Event()
        self.hung_up = False
        self._deciding = False
        self._pane_titles: dict[str, str] = {}
        self.decisions_made = 0
        self.status_line = StatusLine(id="status")
        self.panes = Container(id="panes")
        self.pane_boxes: dict[str, Vertical] = {
            name: Vertical(id=f"pane-{name}", classes="pane") for name in PANES
        }
        self.inbox_list = InboxList(self.models.inbox, clock=self.clock)
        self.swarm_list = SwarmList(self.models.swarm, clock=self.clock)
        self.graph = WorkflowGraph(clock=self.clock)
        self.command_bar = Horizontal(id="command-bar")
        self.command_mode = Static(":", id="command-mode")
        self.command_input = Input(id="command")

    # ------------------------------------------------------------------ layout

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        # Widgets are kept as attributes: timers must never query a screen being torn down.
        yield self.status_line
        with self.panes:
            for name in PANES:
                with self.pane_boxes[name]:
                    yield self.pane_widget(name)
        with self.command_bar:
            yield self.command_mode
            yield self.command_input
        yield Footer()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreError("the store is not open yet")
        return self._store

    async def _open_store(self) -> None:
        if self._store is None:
            self._store = await Store.open(self.settings.db, clock=self.clock)
            self.models.store = self._store

    async def on_unmount(self) -> None:
        if self._own_store and self._store is not None:
            await self._store.close()
            self._store = None

    def pane_widget(self, name: str) -> Widget:
        return {"swarm": self.swarm_list, "inbox": self.inbox_list, "workflow": self.graph}[name]

    async def on_mount(self) -> None:
        self.animation_level = "none"
        await self._open_store()
        if self.tui.keymap:
            self.set_keymap(self.tui.keymap)
        wanted = self.tui.theme
        if wanted in self.theme_names:
            self.theme = wanted
        else:
            self.theme = DEFAULT_THEME
            self.theme_errors.append(f"theme {wanted!r} not found; using {DEFAULT_THEME}")
        for message in self.theme_errors:
            self.say(message, severity="error", timeout=10)
        self.inbox_list.read_only = self.read_only
        self.graph.read_only = self.read_only
        for widget in (self.inbox_list, self.swarm_list):
            widget.ascii_only = self.ascii_only
        self.graph.ascii_only = self.ascii_only
        pane = self.tui.pane
        if pane != "all":
            self.panes.add_class("-single")
            for name in PANES:
                if name != pane:
                    self.pane_boxes[name].add_class("-hidden")
            self.pane_widget(pane).focus()
        else:
            self.inbox_list.focus()
        self._apply_width(self.size.width)
        self._titles()
        await self.poll()
        self._update_status()
        self.set_interval(self.poll_interval, self.poll, name="poll")
        self.set_interval(1.0 / self.refresh_rate, self.flush, name="flush")
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self.hang_up)
            loop.add_signal_handler(signal.SIGTERM, self.exit)

    def on_resize(self) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        self.panes.set_class(width < NARROW_WIDTH, "-narrow")

    def hang_up(self) -> None:
        """The terminal went away (SSH drop): exit quietly. State lives in the store."""
        self.hung_up = True
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
        # Textual's writer thread may already have died writing to the vanished terminal,
        # and its shutdown then waits forever on a full queue. Give the graceful exit a
        # moment, then leave: every change is already committed in the store (WAL), and
        # the collector's lock dies with the process.
        watchdog = threading.Timer(HANGUP_GRACE, os._exit, args=(0,))
        watchdog.daemon = True
        watchdog.start()
        self.exit(0)

    def say(
        self,
        message: str,
        *,
        severity: Literal["information", "warning", "error"] = "information",
        timeout: float | None = None,
    ) -> None:
        """A toast that is never parsed as markup (messages often quote agent text)."""
        self.notify(clean(message, max_len=600), severity=severity, markup=False, timeout=timeout)

    # ------------------------------------------------------------------ data

    async def poll(self) -> None:
        try:
            result = await self.models.poll()
        except StoreError as exc:
            self._poll_error = str(exc)
            return
        except Exception as exc:  # a locked or vanished database must not kill the UI
            self._poll_error = f"store: {exc}"
            return
        self._poll_error = None
        if result.fresh:
            self._attention(result.fresh)
        if result.graph_changed:
            self.graph.set_workflow(self.models.graph)
        if result.inbox_changed:
            for key in self.inbox_list.prune_marks():
                gone = self.models.inbox.items.get(key)
                if gone is not None:
                    self._say_too_late(gone, "mark")  # someone else decided a marked item
        if (
            result.agents_changed
            or result.inbox_changed
            or result.graph_changed
            or result.workflows_changed
        ):
            self._titles()
        self._first_poll.set()

    def flush(self) -> None:
        for widget in (self.swarm_list, self.inbox_list):
            widget.flush()
        self.models.swarm.take_changes()
        self.models.inbox.take_changes()
        now = time.monotonic()
        if now - self._status_at >= 0.5:
            self._status_at = now
            self._update_status()

    async def wait_ready(self) -> None:
        """For tests: the first poll has merged the store."""
        await self._first_poll.wait()

    def _set_title(self, pane: str, title: str) -> None:
        # Only on change: a title change repaints the whole pane. A Text, because a str
        # title is parsed as markup and workflow names and filters are not ours.
        title = clean(title, max_len=200, single_line=True)
        if self._pane_titles.get(pane) != title:
            self._pane_titles[pane] = title
            self.pane_boxes[pane].border_title = Text(title)

    def _titles(self) -> None:
        m = self.models
        swarm = m.swarm
        shown = len(swarm.order)
        total = len(swarm.agents)
        count = f"{shown}/{total}" if swarm.filter else f"{total}"
        title = f"[1] Swarm {count} · sort {swarm.sort}"
        if swarm.filter:
            title += f" · /{swarm.filter.text}"
        self._set_title("swarm", title)
        open_count = sum(1 for e in m.inbox.items.values() if e.state == "open")
        inbox_title = f"[2] Inbox {open_count} open"
        if self.inbox_list.marked:
            inbox_title += f" · {len(self.inbox_list.marked)} marked"
        if m.inbox.filter:
            inbox_title += f" · /{m.inbox.filter.text}"
        if self.read_only:
            inbox_title += " · read-only"
        self._set_title("inbox", inbox_title)
        wf = m.graph
        if wf is None:
            wf_title = "[3] Workflow (none)"
        else:
            summary = next((w for w in m.workflows if w.name == wf.name), None)
            done = f" {summary.done}/{summary.tasks} done" if summary else ""
            more = f" · w: next of {len(m.workflows)}" if len(m.workflows) > 1 else ""
            wf_title = f"[3] Workflow {wf.name}{done}{more}"
        self._set_title("workflow", wf_title)

    def _update_status(self) -> None:
        m = self.models
        by_state = m.swarm.by_state
        a = self.ascii_only
        narrow = self.size.width < 80
        text = Text()
        for state in ("working", "blocked", "failed"):
            n = by_state.get(state, 0)
            style = "bold" if state != "working" and n else ""
            label = state if not narrow else ""
            text.append(
                f"{symbol(AGENT_SYMBOLS, state, a)}{n}{' ' + label if label else ''} ", style
            )
        sev = m.inbox.open_by_severity()
        text.append("│ " if not a else "| ")
        parts = [
            f"{symbol(SEVERITY_SYMBOLS, s, a)}{sev[s]}"
            for s in ("critical", "high", "normal", "low")
            if sev.get(s)
        ]
        text.append(
            ("open " if not narrow else "") + (" ".join(parts) if parts else "0"),
            "bold" if sev.get("critical") or sev.get("high") else "",
        )
        oldest = m.inbox.oldest_open()
        if oldest is not None:
            wait = short_duration(self.clock() - oldest)
            text.append(f" ⏱{wait}" if narrow else f"  oldest {wait}")
        text.append(" │ " if not a else " | ")
        bad = [h for h in m.health if h.state not in ("running", "starting", "stopped")]
        if not m.health:
            text.append("adapters -")
        elif bad:
            text.append(f"adapters {len(bad)}/{len(m.health)} down: ", "bold")
            text.append(clean(", ".join(h.name for h in bad), max_len=60))
        else:
            text.append(f"adapters {len(m.health)} ok")
        if not narrow:
            status = (
                self.collector_status()
                if callable(self.collector_status)
                else self.collector_status
            )
            text.append(f" │ collector: {status}" if not a else f" | collector: {status}")
            text.append(
                f" │ {clean(self.actor, max_len=60)}"
                if not a
                else f" | {clean(self.actor, max_len=60)}"
            )
        if self.read_only:
            text.append(" [read-only]", "bold")
        if self._poll_error:
            text.append(" ⚠ " + clean(self._poll_error, max_len=120), "bold")
        plain = text.plain
        if plain != self._last_status:
            self._last_status = plain
            self.status_line.update(text)

    def _attention(self, fresh: list[Escalation]) -> None:
        urgent = [e for e in fresh if e.severity in ("high", "critical")]
        if not urgent:
            return
        if self.tui.bell:
            self.bell()
        first = urgent[0]
        more = f" (+{len(urgent) - 1} more)" if len(urgent) > 1 else ""
        who = first.agent or first.workflow  # a human gate belongs to its workflow
        prefix = f"{clean(who, max_len=60)}: " if who else ""
        title = clean(first.title, max_len=160, single_line=True)
        message = f"{first.severity.upper()}: {prefix}{title}{more}"
        if self.tui.toast:
            self.say(
                message, severity="warning" if first.severity == "high" else "error", timeout=8
            )
        if self.tui.desktop_notify and self._driver is not None and not self.is_headless:
            self._driver.write(osc_sequences("swarmdeck", message))

    # ------------------------------------------------------------------ panes

    def on_descendant_focus(self, event: Any) -> None:
        widget = event.widget
        for name in PANES:
            if widget is self.pane_widget(name):
                self._current_pane = name

    def action_pane(self, name: str) -> None:
        self._current_pane = name
        if self.tui.pane != "all" and name != self.tui.pane:
            # One-pane mode: switch which pane is shown.
            for pane in PANES:
                self.pane_boxes[pane].set_class(pane != name, "-hidden")
        self.set_focus(self.pane_widget(name))

    def _visible_panes(self) -> list[str]:
        return [p for p in PANES if not self.pane_boxes[p].has_class("-hidden")]

    def action_cycle_pane(self, step: int) -> None:
        order: list[str] = self._visible_panes() if self.tui.pane == "all" else list(PANES)
        current = self._current_pane if self._current_pane in order else order[0]
        self.action_pane(order[(order.index(current) + step) % len(order)])

    async def action_back(self) -> None:
        if self.command_bar.has_class("-visible"):
            self._close_command()
            return
        if self.inbox_list.marked:
            self.inbox_list.action_unmark_all()
            self._titles()
            return
        if self.models.swarm.filter:
            self.models.swarm.set_filter("")
            self._titles()
            return
        if self.models.inbox.filter:
            self.models.inbox.set_filter("")
            self._titles()

    # ------------------------------------------------------------------ command and filter

    def action_command(self) -> None:
        self._open_command(":", "")

    def action_filter(self) -> None:
        # Focus moves on the next message; a fast "1/" must still filter the swarm.
        target: RowList = self.inbox_list if self._current_pane == "inbox" else self.swarm_list
        self._filter_target = target
        current = target.model.filter.text if isinstance(target, (SwarmList, InboxList)) else ""
        self._open_command("/", current)

    def _open_command(self, mode: str, value: str) -> None:
        self._command_mode = mode
        command = self.command_input
        command.placeholder = (
            "swarm | inbox | workflow NAME | adapters | audit | metrics | theme NAME | quit"
            if mode == ":"
            else "text  state:blocked  role:coder  !state:idle   (enter keeps, esc clears)"
        )
        command.value = value
        self.command_mode.update(mode)
        self.command_bar.add_class("-visible")
        self.set_focus(command)  # now, not after keys already queued
        self._return_focus = self.pane_widget(self._current_pane)

    def _close_command(self) -> None:
        command = self.command_input
        self.command_bar.remove_class("-visible")
        target = getattr(self, "_return_focus", None)
        if isinstance(target, Widget) and target is not command:
            self.set_focus(target)
        else:
            self.set_focus(self.inbox_list)

    @on(Input.Changed, "#command")
    def command_changed(self, event: Input.Changed) -> None:
        if self._command_mode == "/" and self._filter_target is not None:
            self._apply_filter(self._filter_target, event.value)

    def _apply_filter(self, target: RowList, text: str) -> None:
        if isinstance(target, SwarmList):
            self.models.swarm.set_filter(text)
        elif isinstance(target, InboxList):
            self.models.inbox.set_filter(text)
        target.move_to(0)
        target.flush()
        self._titles()

    def action_submit_command(self) -> None:
        """Enter in the command line, handled before any key typed after it.

        Keys typed in one burst (over SSH, or a paste) may still be queued for the
        input when this priority binding runs: read the value only after the input
        has processed them, by queueing behind them.
        """
        self.command_input.call_later(self._submit_command_now)

    async def _submit_command_now(self) -> None:
        if not self.command_bar.has_class("-visible"):
            return  # already closed meanwhile (esc)
        value = self.command_input.value.strip()
        mode = self._command_mode
        if mode == "/" and self._filter_target is not None:
            self._apply_filter(self._filter_target, value)
        self._close_command()
        if mode == ":":
            await self.run_command(value)

    @on(Input.Submitted, "#command")
    async def command_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        mode = self._command_mode
        self._close_command()
        if mode == "/":
            return
        await self.run_command(value)

    async def run_command(self, line: str) -> None:
        """Run one ``:`` command (also used by tests)."""
        word, _, arg = line.strip().lstrip(":").partition(" ")
        word, arg = word.lower(), arg.strip()
        if word in ("q", "quit", "exit", "q!"):
            self.exit(0)
        elif word in ("swarm", "agents", "sw"):
            self.action_pane("swarm")
        elif word in ("inbox", "in", "esc", "escalations"):
            self.action_pane("inbox")
        elif word in ("workflow", "wf", "workflows"):
            if arg:
                await self.select_workflow(arg)
            self.action_pane("workflow")
        elif word in ("adapters", "adapter", "health"):
            self.action_adapters()
        elif word == "audit":
            self.action_audit()
        elif word == "metrics":
            self.action_metrics()
        elif word == "help":
            self.action_help()
        elif word == "theme":
            if arg in self.theme_names:
                self.theme = arg
            else:
                self.say(
                    f"no theme {arg!r}; known: {', '.join(self.theme_names)}", severity="warning"
                )
        elif word == "sort":
            self.set_sort(arg)
        elif word:
            self.say(
                f"unknown command :{word} "
                "(try :swarm :inbox :workflow NAME :adapters :audit :metrics :quit)",
                severity="warning",
            )

    # ------------------------------------------------------------------ screens

    def action_help(self) -> None:
        from swarmdeck.tui.screens.help import help_view

        self.push_screen(
            DetailScreen("Keys (remap by id in [tui.keymap])", lambda: help_view(self))
        )

    def action_adapters(self) -> None:
        self.push_screen(DetailScreen("Adapters", lambda: adapters_view(self.store, self.clock())))

    def action_audit(self) -> None:
        self.push_screen(DetailScreen("Audit", lambda: audit_view(self.store, self.clock())))

    def action_metrics(self) -> None:
        try:
            from swarmdeck.tui.screens.metrics import MetricsScreen  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError as exc:
            self.say(f"metrics are not available in this build ({exc})", severity="warning")
            return
        self.push_screen(MetricsScreen(self.store, clock=self.clock))

    def show_agent(self, name: str) -> None:
        self.push_screen(
            DetailScreen(f"Agent {name}", lambda: agent_details(self.store, name, self.clock()))
        )

    def show_escalation(self, escalation_id: str) -> None:
        e = self.models.inbox.items.get(escalation_id)
        title = f"Escalation: {e.title}" if e else f"Escalation {escalation_id}"
        decisions = not self.read_only and (e is None or e.state == "open")

        def done(action: str | None) -> None:
            if action:
                self.request_decision(action, [escalation_id])

        async def revealer(reason: str) -> RenderableType:
            return await reveal_view(self.store, escalation_id, self.actor, reason)

        # Observers (--read-only) never see secrets; a reveal is a manager's act.
        can_reveal = not self.read_only and (e is None or e.kind == "guardrail")
        self.push_screen(
            DetailScreen(
                title,
                lambda: escalation_details(self.store, escalation_id, self.clock()),
                decisions=decisions,
                revealer=revealer if can_reveal else None,
            ),
            done,
        )

    def show_task(self, task_id: str) -> None:
        self.push_screen(
            DetailScreen(f"Task {task_id}", lambda: task_details(self.store, task_id, self.clock()))
        )

    @on(RowList.Details)
    def row_details(self, event: RowList.Details) -> None:
        if isinstance(event.source, SwarmList):
            self.show_agent(event.key)
        else:
            self.show_escalation(event.key)

    @on(WorkflowGraph.NodeSelected)
    def node_details(self, event: WorkflowGraph.NodeSelected) -> None:
        if event.node.task:
            self.show_task(event.node.task)
        else:
            self.say(f"{event.node.id} has no task yet (pending)")

    @on(SwarmList.SortRequested)
    def sort_requested(self) -> None:
        sorts = list(SORTS)
        self.set_sort(sorts[(sorts.index(self.models.swarm.sort) + 1) % len(sorts)])

    def set_sort(self, sort: str) -> None:
        if sort not in SORTS:
            self.say(f"sort by one of: {', '.join(SORTS)}", severity="warning")
            return
        self.models.swarm.set_sort(sort)
        self.swarm_list.invalidate()
        self.swarm_list.flush()
        self._titles()

    async def select_workflow(self, name: str) -> None:
        names = [w.name for w in self.models.workflows]
        if name not in names:
            matches = [n for n in names if n.startswith(name)]
            if len(matches) != 1:
                self.say(
                    f"no workflow {name!r}"
                    + (f"; known: {', '.join(names[:10])}" if names else ""),
                    severity="warning",
                )
                return
            name = matches[0]
        await self.models.select_workflow(name)
        self.graph.cursor = None
        if True:
            self.graph.set_workflow(self.models.graph)
        self._titles()

    @on(WorkflowGraph.NextWorkflow)
    async def next_workflow(self) -> None:
        names = [w.name for w in self.models.workflows]
        if not names:
            self.say("no workflows yet")
            return
        current = self.models.workflow_name
        index = names.index(current) if current in names else -1
        await self.select_workflow(names[(index + 1) % len(names)])

    # ------------------------------------------------------------------ decisions

    def _refuse_read_only(self) -> bool:
        if self.read_only:
            self.say("read-only: decisions are disabled for this session", severity="warning")
            return True
        return False

    DECISION_BINDING_IDS: ClassVar[frozenset[str]] = frozenset(
        {
            "inbox.approve",
            "inbox.reject",
            "inbox.reroute",
            "inbox.retry",
            "inbox.make_rule",
            "graph.retry",
        }
    )

    MAIN_SCREEN_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"command", "filter", "pane", "cycle_pane", "back"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The command line and the panes live on the main screen only.
        if action == "submit_command":
            return self.focused is self.command_input and len(self.screen_stack) == 1
        if action in self.MAIN_SCREEN_ACTIONS:
            if len(self.screen_stack) > 1:
                return False
            # Priority bindings (so a fast "1/" routes by the new focus) leave typing alone.
            if action != "back" and isinstance(self.focused, Input):
                return False
        return True

    def decision_keys(self, widget: Widget) -> set[str]:
        """The keys (after remapping) that are decision keys on ``widget``."""
        keys: set[str] = set()
        for key, bindings in widget._bindings.key_to_bindings.items():
            for b in bindings:
                if b.id in self.DECISION_BINDING_IDS:
                    mapped = self._keymap.get(b.id)
                    keys.update(k.strip() for k in mapped.split(",")) if mapped else keys.add(key)
        return keys

    def on_key(self, event: Any) -> None:
        # In read-only mode decision keys are hidden and disabled; say why instead of nothing.
        focused = self.focused
        if (
            self.read_only
            and isinstance(focused, (InboxList, WorkflowGraph))
            and event.key in self.decision_keys(focused)
        ):
            self._refuse_read_only()
            event.stop()

    @on(InboxList.DecideRequested)
    def decide_requested(self, event: InboxList.DecideRequested) -> None:
        self.request_decision(event.action, event.keys, confirm=event.marked)

    @on(InboxList.MakeRuleRequested)
    def make_rule_requested(self, event: InboxList.MakeRuleRequested) -> None:
        if self._refuse_read_only():
            return
        e = self.models.inbox.items.get(event.key)
        if e is None or e.state != "open":
            self.say("pick an open escalation to decide and make a rule", severity="warning")
            return
        try:
            from swarmdeck.tui.screens.make_rule import MakeRuleScreen  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError as exc:
            self.say(
                f"'decide and make a rule' is not available in this build ({exc})",
                severity="warning",
            )
            return
        self.push_screen(
            MakeRuleScreen(self.store, e, actor=self.actor, clock=self.clock),
            self._after_rule,
        )

    async def _after_rule(self, _result: object) -> None:
        await self.poll()

    def request_decision(self, action: str, keys: list[str], *, confirm: bool = False) -> None:
        if self._refuse_read_only():
            return
        if self._deciding:
            # Keys typed ahead of a dialog land here: never let them replace the decision
            # in progress (a fast "d" + "bad" must not become an approve).
            self.say("finish the decision in progress first (esc cancels it)", severity="warning")
            return
        self._deciding = True
        self._decide_flow(action, keys, confirm)

    @work(group="decide", exit_on_error=False)
    async def _decide_flow(self, action: str, keys: list[str], confirm: bool) -> None:
        try:
            await self._decide_steps(action, keys, confirm)
        finally:
            self._deciding = False

    def _say_too_late(self, e: Escalation, action: str) -> None:
        """Tell plainly that someone else decided first (or the agent withdrew)."""
        outcome = "Its mark was dropped." if action == "mark" else f"Your {action} was not applied."
        if e.state == "decided" and e.decided_by:
            ago = short_duration(self.clock() - (e.decided_ts or self.clock()))
            self.say(
                f"Too late: {clean(e.id, max_len=60)} was already decided by "
                f"{clean(e.decided_by, max_len=80)} ({ago} ago). {outcome}",
                severity="warning",
                timeout=10,
            )
        else:
            self.say(
                f"Too late: {clean(e.id, max_len=60)} is {e.state}. {outcome}",
                severity="warning",
                timeout=10,
            )

    async def _decide_steps(self, action: str, keys: list[str], confirm: bool = False) -> None:
        known = [self.models.inbox.items[k] for k in keys if k in self.models.inbox.items]
        items = [e for e in known if e.state == "open"]
        for e in known:
            if e.state != "open":
                self._say_too_late(e, action)
        if not items:
            if not known:
                self.say("nothing to decide: that escalation is gone", severity="warning")
            return
        reason: str | None = None
        target: str | None = None
        what = items[0] if len(items) == 1 else None
        subject = (
            Text.assemble(
                f"{action} ",
                safe(what.title, max_len=200, single_line=True),
                f" ({clean(what.agent or '-', max_len=60)})",
            )
            if what
            else Text(f"{action} {len(items)} escalations")
        )
        if action == "reroute":
            choices = self._reroute_choices(items)
            if not choices:
                self.say(
                    "no reroute target: the escalation names none and no other agent has that role",
                    severity="warning",
                )
                return
            target = await self.push_screen_wait(
                PickScreen(Text.assemble("Reroute to… ", subject), choices)
            )
            if not target:
                return
            reason = await self.push_screen_wait(
                ReasonScreen(
                    Text.assemble(
                        f"Reason for rerouting to {clean(target, max_len=80)}: ", subject
                    ),
                    value=f"rerouted to {target}",
                )
            )
            if not reason:
                return
        elif action == "reject":
            reason = await self.push_screen_wait(
                ReasonScreen(Text.assemble("Reject: the agent is told why. ", subject))
            )
            if not reason:
                return
        if len(items) > 1 or confirm:
            lines = [self._plan_line(action, e, reason, target) for e in items]
            ok = await self.push_screen_wait(
                ConfirmScreen(f"{action} {len(items)} escalations?", lines)
            )
            if not ok:
                return
        await self.apply_decisions(action, items, reason=reason, target=target)

    def _plan_line(
        self, action: str, e: Escalation, reason: str | None, target: str | None
    ) -> Text:
        line = Text(f"{action} ")
        line.append(f"[{e.severity}] ")
        line.append_text(safe(e.title, max_len=120, single_line=True))
        line.append(f" · {clean(e.agent or '-', max_len=60)} · {clean(e.id, max_len=60)}")
        if target:
            line.append(f" → {clean(target, max_len=60)}")
        if reason:
            line.append(" · reason: ")
            line.append_text(safe(reason, max_len=200, single_line=True))
        return line

    def _reroute_choices(self, items: list[Escalation]) -> list[tuple[str, Text]]:
        out: list[tuple[str, Text]] = []
        seen: set[str] = set()
        agents = self.models.swarm.agents
        for e in items:
            for t in e.reroute_targets or []:
                if t not in seen:
                    seen.add(t)
                    kind = "agent" if t in agents else "role/target"
                    out.append((t, safe(f"{t}  ({kind}, suggested by the agent)", max_len=200)))
        for e in items:
            src = agents.get(e.agent or "")
            if src is None:
                continue
            peers = sorted(
                (a for a in agents.values() if a.role == src.role and a.name != src.name),
                key=lambda a: (a.state not in ("idle", "done"), a.name),
            )
            if src.role and f"role:{src.role}" not in seen:
                seen.add(f"role:{src.role}")
                out.append(
                    (f"role:{src.role}", safe(f"role:{src.role}  (any {src.role})", max_len=200))
                )
            for a in peers[:20]:
                if a.name not in seen:
                    seen.add(a.name)
                    out.append((a.name, safe(f"{a.name}  ({a.role}, {a.state})", max_len=200)))
        return out

    async def apply_decisions(
        self,
        action: str,
        items: list[Escalation],
        *,
        reason: str | None = None,
        target: str | None = None,
    ) -> None:
        done = 0
        lost: list[AlreadyDecided] = []
        failed: list[str] = []
        decided: list[str] = []
        for e in items:
            try:
                await self.store.decide(
                    e.id, as_action(action), actor=self.actor, reason=reason, target=target
                )
                done += 1
                decided.append(e.id)
            except AlreadyDecided as exc:
                lost.append(exc)
            except (InvalidDecision, NotFound) as exc:
                failed.append(f"{clean(e.id, max_len=60)}: {exc}")
            except Exception as exc:
                # e.g. the database stayed locked: report it and carry on with the rest.
                failed.append(f"{clean(e.id, max_len=60)}: not recorded ({exc})")
        self.inbox_list.advance_past(decided)
        self.decisions_made += done
        for e in items:
            self.inbox_list.marked.discard(e.id)
        if done:
            what = (
                clean(items[0].title, max_len=80, single_line=True)
                if len(items) == 1
                else f"{done} escalations"
            )
            self.say(f"{action}: {what}")
        for loss in lost:
            if loss.by:
                ago = short_duration(self.clock() - (loss.at or 0))
                self.say(
                    f"Too late: {clean(loss.escalation, max_len=60)} was already decided by "
                    f"{clean(loss.by, max_len=80)} "
                    f"({ago} ago). Your {action} was not applied.",
                    severity="warning",
                    timeout=10,
                )
            else:
                self.say(f"Too late: {loss}", severity="warning", timeout=10)
        if failed and len(items) > 1:
            self.say(f"{done} decided, {len(failed)} failed", severity="error", timeout=10)
        for message in failed:
            self.say(message, severity="error", timeout=10)
        await self.poll()
        self.flush()
        self._titles()

    @on(WorkflowGraph.RetryRequested)
    async def retry_node(self, event: WorkflowGraph.RetryRequested) -> None:
        if self._refuse_read_only():
            return
        node = event.node
        if node.state != "failed" or not node.task:
            self.say(
                f"only a failed node can be retried ({node.id} is {node.state})", severity="warning"
            )
            return
        from swarmdeck.store.actions import act_on_task

        try:
            await act_on_task(
                self.store,
                node.task,
                "retry",
                actor=self.actor,
                reason="retry from the workflow graph",
            )
        except AlreadyDecided as exc:
            self.say(f"Too late: {exc}", severity="warning")
            return
        except (InvalidDecision, NotFound) as exc:
            self.say(str(exc), severity="error")
            return
        self.decisions_made += 1
        self.say(f"retry requested for {node.id}")
        await self.models.poll(force_workflow=True)
        self.graph.set_workflow(self.models.graph)


# ---------------------------------------------------------------------- entry point


def _collector_label(
    db: Path, own: bool, spawned: subprocess.Popen[bytes] | None
) -> Callable[[], str]:
    cache: dict[str, Any] = {"at": 0.0, "text": ""}

    def label() -> str:
        if own:
            return "this process"
        now = time.monotonic()
        if now - cache["at"] < 2.0:
            return str(cache["text"])
        try:
            from swarmdeck.collector import lock_holder
        except ImportError:
            text = "no collector"
        else:
            holder = lock_holder(db)
            if holder is None:
                text = "no collector"
            elif holder > 0:
                text = f"pid {holder}" + (
                    " (spawned)" if spawned is not None and spawned.pid == holder else ""
                )
            else:
                text = "another process"
        cache.update(at=now, text=text)
        return text

    return label


async def _amain(settings: Settings) -> int:
    from swarmdeck.actor import current_actor

    store = await Store.open(settings.db)
    collector: Any = None
    task: asyncio.Task[None] | None = None
    spawned: subprocess.Popen[bytes] | None = None
    own = False
    try:
        if settings.collector.spawn:
            from swarmdeck.collector import lock_holder

            if lock_holder(settings.db) is None:
                # Our own interpreter and module; started once, never awaited (hence the noqa).
                config = ["--config", str(settings.config_path)] if settings.config_path else []
                if settings.config_path is not None and not settings.config_path.exists():
                    config = []  # the default location, not created yet
                spawned = subprocess.Popen(  # noqa: S603, ASYNC220
                    [
                        sys.executable,
                        "-m",
                        "swarmdeck.cli",
                        "--db",
                        str(settings.db),
                        *config,
                        "serve",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
        else:
            from swarmdeck.collector import Collector

            collector = Collector(settings, config_path=settings.config_path)
            if collector.try_acquire():
                own = True
                task = asyncio.create_task(collector.run(), name="collector")
        from swarmdeck.config import default_config_dir

        app = SwarmdeckApp(
            store,
            settings,
            actor=current_actor(settings),
            collector_status=_collector_label(settings.db, own, spawned),
            themes_dir=default_config_dir() / "themes",
        )
        if task is not None:

            def collector_done(t: asyncio.Task[None]) -> None:
                if not t.cancelled() and t.exception() is not None:
                    app.collector_status = f"failed: {clean(str(t.exception()), max_len=80)}"

            task.add_done_callback(collector_done)
        await app.run_async()
        return 0 if app.hung_up else (app.return_code or 0)
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if collector is not None:
            collector.release()
        if spawned is not None and spawned.poll() is None:
            spawned.terminate()
        await store.close()


def run_tui(settings: Settings) -> int:
    """Run the command center until the manager quits or the terminal goes away."""
    try:
        return asyncio.run(_amain(settings))
    except KeyboardInterrupt:
        return 130
    except StoreError as exc:
        print(f"swarmdeck: {exc}", file=sys.stderr)
        return 1
