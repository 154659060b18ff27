"""The swarmdeck command center: Swarm, Inbox and Workflow panes over the store.

The App keeps the layout and wires the rooms together; each job has its own module:

- :mod:`tui.refresh` polls the store's change counter (~150 ms) and merges only the
  changed rows into the models (:mod:`tui.model`), then tells its listeners;
- a 10 Hz timer repaints only the visible rows whose content changed;
- :mod:`tui.decisions` owns every decision key and the flow behind it;
- :mod:`tui.command_line` is the ``:`` / ``/`` prompt, over :mod:`tui.commands`, the one
  command table that help and the palette (:mod:`tui.palette`) read too;
- :mod:`tui.presentation` turns models into the status line, titles and the graph.

The App never starts processes: the shell hands it a :class:`CollectorLink` to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, assert_never

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.events import DescendantFocus, Key
from textual.notifications import Notification, Notify, SeverityLevel
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from swarmdeck.config import Settings, TuiSettings
from swarmdeck.store.db import Store
from swarmdeck.store.errors import StoreError
from swarmdeck.store.events import Action
from swarmdeck.store.opening import open_store
from swarmdeck.tui.command_line import CommandInput, CommandLine
from swarmdeck.tui.commands import HandlerId
from swarmdeck.tui.decisions import DecisionController
from swarmdeck.tui.jump import Jumper
from swarmdeck.tui.model import SORTS, Models, PollResult
from swarmdeck.tui.notify import osc_sequences
from swarmdeck.tui.palette import SwarmdeckCommands
from swarmdeck.tui.presentation.status import (
    attention_text,
    inbox_title,
    status_line,
    status_message,
    status_state,
    swarm_title,
    workflow_title,
)
from swarmdeck.tui.refresh import ModelRefresher
from swarmdeck.tui.render import unicode_ok
from swarmdeck.tui.safe_text import clean
from swarmdeck.tui.screens.details import (
    DetailScreen,
    adapters_view,
    agent_details,
    audit_view,
    escalation_details,
    messages_view,
    reveal_view,
    task_details,
)
from swarmdeck.tui.screens.help import help_view
from swarmdeck.tui.screens.metrics import MetricsScreen
from swarmdeck.tui.screens.workflow_picker import WorkflowPicker, ranked
from swarmdeck.tui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes
from swarmdeck.tui.toasts import Folder, MessageLog
from swarmdeck.tui.widgets.graph import WorkflowGraph
from swarmdeck.tui.widgets.lists import InboxList, RowList, SwarmList

PaneName = Literal["swarm", "inbox", "workflow"]
PANES: tuple[PaneName, ...] = ("inbox", "swarm", "workflow")
NARROW_WIDTH = 100
HANGUP_GRACE = 2.0


class CollectorLink(Protocol):
    """The collector as the App sees it: something to start, and a word on how it is.

    The shell (the CLI's ``deck`` module) decides whether the collector runs in this
    process or as ``swarmdeck serve`` and builds the link; the TUI imports neither the
    collector nor the CLI (the layers run one way).
    """

    def start(self) -> None:
        """Start the collector unless one already runs for the database. Never raises:
        a failure shows in :meth:`status`."""

    def status(self) -> str:
        """For the status line: "this process", "pid 123 (spawned)", "failed: …"."""


class StatusLine(Static):
    """Agents by state, open escalations by severity, the oldest wait, adapters, collector."""


class SwarmdeckApp(App[int]):
    """The command center. Give it an open store; it never opens SQLite itself."""

    TITLE = "swarmdeck"
    COMMANDS: ClassVar[set[Any]] = {*App.COMMANDS, SwarmdeckCommands}
    CSS = """
    #status { height: 1; background: $panel; color: $text; padding: 0 1; }
    #panes {
        layout: grid; grid-size: 2 2; grid-columns: 1fr 1fr; grid-rows: 1fr 1fr; height: 1fr;
    }
    #pane-workflow { column-span: 2; }
    #panes.-narrow { grid-size: 1 3; grid-columns: 1fr; grid-rows: 3fr 2fr 2fr; }
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
    #command-hint { width: auto; max-width: 70%; height: 1; color: $text-muted; }
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
        Binding("n", "next_waiting(1)", "Next waiting", id="app.next_waiting"),
        Binding("N", "next_waiting(-1)", "Previous waiting", show=False, id="app.previous_waiting"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("escape", "back", "Back", show=False, id="app.back", priority=True),
        Binding("enter", "submit_command", "Run", show=False, id="app.submit", priority=True),
        Binding("ctrl+p", "command_palette", "Palette", show=False, id="app.palette"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]
    #: Actions that belong to the main screen, never to a screen pushed over it.
    MAIN_SCREEN_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"command", "filter", "pane", "cycle_pane", "back", "next_waiting"}
    )

    def __init__(
        self,
        store: Store | None,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        actor: str = "unknown@localhost",
        host: str | None = None,
        collector: CollectorLink | None = None,
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
        #: The host this manager decides from, recorded with each decision.
        self.decision_host = host
        self.collector = collector
        self.read_only = settings.tui.read_only
        self.models = Models(
            store, clock=clock, decided_visible_minutes=settings.tui.decided_visible_minutes
        )
        self.refresher = ModelRefresher(self.models)
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
        self.current_pane: str = "inbox" if settings.tui.pane == "all" else settings.tui.pane
        self._last_status = ""
        self._status_at = 0.0
        self.hung_up = False
        self._pane_titles: dict[str, str] = {}
        self.toasts = Folder()
        #: Toasts retired before Textual took them in (a burst of messages in one tick).
        self._retired: set[str] = set()
        self.status_messages = Folder(limit=1)
        self.message_log = MessageLog()
        # Widgets are kept as attributes: timers must never query a screen being torn down.
        self.status_line = StatusLine(id="status")
        self.panes = Container(id="panes")
        self.pane_boxes: dict[str, Vertical] = {
            name: Vertical(id=f"pane-{name}", classes="pane") for name in PANES
        }
        self.inbox_list = InboxList(self.models.inbox, clock=self.clock)
        self.swarm_list = SwarmList(self.models.swarm, clock=self.clock)
        self.graph = WorkflowGraph(clock=self.clock)
        self.command_line = CommandLine(self)
        self.decisions = DecisionController(self)
        self.jumper = Jumper(self)
        # The refresh listeners, in the order the old hand-routing ran them: a toast for
        # what needs attention, the graph, dropped marks, then the titles that count them.
        self.refresher.subscribe(self._attention)
        self.refresher.subscribe(self._graph_changed)
        self.refresher.subscribe(self.decisions.models_changed)
        self.refresher.subscribe(self._titles_changed)
        self.refresher.subscribe(self._details_changed)

    # ------------------------------------------------------------------ layout

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(VARIABLE_DEFAULTS)

    def compose(self) -> ComposeResult:
        yield self.status_line
        with self.panes:
            for name in PANES:
                with self.pane_boxes[name]:
                    yield self.pane_widget(name)
        yield from self.command_line.compose()
        yield Footer()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise StoreError("the store is not open yet")
        return self._store

    async def _open_store(self) -> None:
        if self._store is None:
            self._store = await open_store(self.settings.db, clock=self.clock)
            self.models.store = self._store

    async def on_unmount(self) -> None:
        await self.refresher.stop()
        if self._own_store and self._store is not None:
            await self._store.close()
            self._store = None

    def pane_widget(self, name: str) -> Widget:
        return {"swarm": self.swarm_list, "inbox": self.inbox_list, "workflow": self.graph}[name]

    async def on_mount(self) -> None:
        self.animation_level = "none"
        await self._open_store()
        if self.collector is not None:
            self.collector.start()
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
        self.swarm_list.read_only = self.read_only
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
        self.update_titles()
        await self.poll()
        self._update_status()
        self.refresher.start(self.set_interval, self.poll_interval)
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
        """A message that is never parsed as markup (messages often quote agent text)."""
        self.notify(clean(message, max_len=600), severity=severity, markup=False, timeout=timeout)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every message, ours and Textual's: folded, at most two toasts, and on the status
        line wherever a toast would cover the rows being worked on (:mod:`tui.toasts`)."""
        timeout = self.NOTIFICATION_TIMEOUT if timeout is None else timeout
        text = str(message)
        now = time.monotonic()
        self.message_log.add(self.clock(), severity, text)
        if not self.toasts_fit():
            self.status_messages.add(text, severity, now=now, timeout=timeout)
            self._update_status()
            return
        decision = self.toasts.add(text, severity, now=now, timeout=timeout)
        retired = set(decision.retire)
        for old in [n for n in self._notifications if n.identity in retired]:
            self._unnotify(old, refresh=False)
            retired.discard(old.identity)
        self._retired |= retired  # still in the message queue: dropped on arrival
        notification = Notification(decision.shown.label, title, severity, timeout, markup=markup)
        decision.shown.ident = notification.identity
        self.post_message(Notify(notification))

    def _on_notify(self, event: Notify) -> None:
        # Textual calls this handler of every class in the MRO: the App's own one (which
        # shows the toast) runs after this one unless the default is prevented.
        if event.notification.identity in self._retired:
            self._retired.discard(event.notification.identity)
            event.prevent_default()

    def toasts_fit(self) -> bool:
        """Toasts sit at the bottom right: over the workflow pane of the wide layout. Any
        other layout (narrow, one pane) or a focused workflow pane would have them cover
        what the manager is acting on."""
        if len(self.screen_stack) > 1:
            return True  # details and dialogs: nothing there is a row being acted on
        wide = not self.panes.has_class("-narrow") and not self.panes.has_class("-single")
        return wide and self.focused is not self.graph

    # ------------------------------------------------------------------ data

    async def poll(self) -> None:
        """Refresh the models now (after a decision; tests call it too)."""
        await self.refresher.refresh()

    def flush(self) -> None:
        """The 10 Hz repaint: changed visible rows, and the status line twice a second."""
        for widget in (self.swarm_list, self.inbox_list):
            widget.flush()
        now = time.monotonic()
        if now - self._status_at >= 0.5:
            self._status_at = now
            self._update_status()

    def _attention(self, result: PollResult) -> None:
        urgent = [e for e in result.fresh if e.severity in ("high", "critical")]
        if not urgent:
            return
        if self.tui.bell:
            self.bell()
        message = attention_text(urgent)
        if self.tui.toast:
            high = urgent[0].severity == "high"
            self.say(message, severity="warning" if high else "error", timeout=8)
        if self.tui.desktop_notify and self._driver is not None and not self.is_headless:
            self._driver.write(osc_sequences("swarmdeck", message))

    def _graph_changed(self, result: PollResult) -> None:
        if result.graph_changed:
            self.graph.set_workflow(self.models.graph)

    def _titles_changed(self, result: PollResult) -> None:
        if (
            result.agents_changed
            or result.inbox_changed
            or result.graph_changed
            or result.workflows_changed
        ):
            self.update_titles()

    def _set_title(self, pane: str, title: str) -> None:
        # Only on change: a title change repaints the whole pane. A Text, because a str
        # title is parsed as markup and workflow names and filters are not ours.
        title = clean(title, max_len=200, single_line=True)
        if self._pane_titles.get(pane) != title:
            self._pane_titles[pane] = title
            self.pane_boxes[pane].border_title = Text(title)

    def update_titles(self) -> None:
        m = self.models
        self._set_title("swarm", swarm_title(m.swarm))
        marked = len(self.inbox_list.marked)
        self._set_title("inbox", inbox_title(m.inbox, marked=marked, read_only=self.read_only))
        self._set_title("workflow", workflow_title(m.graph, m.workflows))

    def _update_status(self) -> None:
        shown = self.status_messages.current(time.monotonic())
        if shown is not None:
            text = status_message(shown.label, shown.severity, ascii_only=self.ascii_only)
            if text.plain != self._last_status:
                self._last_status = text.plain
                self.status_line.update(text)
            return
        state = status_state(
            self.models,
            now=self.clock(),
            collector=self.collector.status() if self.collector is not None else "no collector",
            actor=self.actor,
            read_only=self.read_only,
            poll_error=self.refresher.error,
            ascii_only=self.ascii_only,
            width=self.size.width,
        )
        text = status_line(state)
        if text.plain != self._last_status:
            self._last_status = text.plain
            self.status_line.update(text)

    # ------------------------------------------------------------------ panes

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        if self.command_line.is_open and self.focused is not self.command_line.input:
            # Focus left the prompt (a click): close it, or the letters typed next would
            # go to a pane as decision keys with the prompt still on screen. Asked of the
            # focus as it is now, not of the event: a fast "1/" delivers the pane's focus
            # event after the prompt took focus, and that must not close it.
            self.command_line.close(refocus=False)
        for name in PANES:
            if event.widget is self.pane_widget(name):
                self.current_pane = name

    def action_pane(self, name: str) -> None:
        self.current_pane = name
        if self.tui.pane != "all" and name != self.tui.pane:
            # One-pane mode: switch which pane is shown.
            for pane in PANES:
                self.pane_boxes[pane].set_class(pane != name, "-hidden")
        self.set_focus(self.pane_widget(name))

    def _visible_panes(self) -> list[str]:
        return [p for p in PANES if not self.pane_boxes[p].has_class("-hidden")]

    def action_cycle_pane(self, step: int) -> None:
        order: list[str] = self._visible_panes() if self.tui.pane == "all" else list(PANES)
        current = self.current_pane if self.current_pane in order else order[0]
        self.action_pane(order[(order.index(current) + step) % len(order)])

    async def action_back(self) -> None:
        if self.command_line.is_open:
            self.command_line.close()
            return
        if self.inbox_list.marked:
            self.inbox_list.action_unmark_all()
            self.update_titles()
            return
        if self.models.swarm.filter:
            self.models.swarm.set_filter("")
            self.update_titles()
            return
        if self.models.inbox.filter:
            self.models.inbox.set_filter("")
            self.update_titles()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The command line and the panes live on the main screen only.
        if action == "submit_command":
            return self.focused is self.command_line.input and len(self.screen_stack) == 1
        if action in self.MAIN_SCREEN_ACTIONS:
            if len(self.screen_stack) > 1:
                return False
            # Priority bindings (so a fast "1/" routes by the new focus) leave typing alone.
            if action != "back" and isinstance(self.focused, Input):
                return False
        return True

    # ------------------------------------------------------------------ the command line

    def action_command(self) -> None:
        self.command_line.open_command()

    def action_filter(self) -> None:
        # Focus moves on the next message; a fast "1/" must still filter the swarm.
        self.command_line.open_filter(
            self.inbox_list if self.current_pane == "inbox" else self.swarm_list
        )

    async def action_next_waiting(self, step: int) -> None:
        await self.jumper.jump(step)

    def action_submit_command(self) -> None:
        self.command_line.submit()

    @on(Input.Changed, "#command")
    def _command_changed(self, event: Input.Changed) -> None:
        self.command_line.changed(event.value)

    @on(CommandInput.CompleteRequested)
    def _command_complete(self) -> None:
        self.command_line.complete()

    @on(Input.Submitted, "#command")
    async def _command_submitted(self, event: Input.Submitted) -> None:
        await self.command_line.submitted(event.value)

    async def run_command(self, line: str) -> None:
        """Run one ``:`` command line, as if typed."""
        await self.command_line.run(line)

    async def run_handler(self, handler: HandlerId, arg: str) -> None:
        """Do what a command-table entry names (the ``:`` prompt and the palette)."""
        match handler:
            case "focus_swarm":
                self.action_pane("swarm")
            case "focus_inbox":
                self.action_pane("inbox")
            case "show_workflow":
                if arg:
                    await self.select_workflow(arg)
                if not isinstance(self.screen, WorkflowPicker):
                    self.action_pane("workflow")
            case "show_adapters":
                self.action_adapters()
            case "show_audit":
                self.action_audit()
            case "show_metrics":
                self.action_metrics()
            case "set_theme":
                if arg in self.theme_names:
                    self.theme = arg
                else:
                    known = ", ".join(self.theme_names)
                    self.say(f"no theme {arg!r}; known: {known}", severity="warning")
            case "set_sort":
                self.set_sort(arg)
            case "show_help":
                self.action_help()
            case "show_messages":
                self.action_messages()
            case "quit":
                self.exit(0)
            case _:
                assert_never(handler)

    # ------------------------------------------------------------------ screens

    def action_help(self) -> None:
        self.push_screen(
            DetailScreen("Keys (remap by id in [tui.keymap])", lambda: help_view(self))
        )

    def action_messages(self) -> None:
        log = list(self.message_log.entries)
        self.push_screen(DetailScreen("Messages (newest first)", lambda: messages_view(log)))

    def action_adapters(self) -> None:
        self.push_screen(DetailScreen("Adapters", lambda: adapters_view(self.store, self.clock())))

    def action_audit(self) -> None:
        self.push_screen(DetailScreen("Audit", lambda: audit_view(self.store, self.clock())))

    def action_metrics(self) -> None:
        self.push_screen(MetricsScreen(self.store, clock=self.clock))

    def show_agent(self, name: str) -> None:
        def done(action: Action | None) -> None:
            if action:
                self.decisions.request_for_agent(name, action)

        self.push_screen(
            DetailScreen(
                f"Agent {name}",
                lambda: agent_details(self.store, name, self.clock()),
                decidable=lambda: self.decisions.why_not_agent(name),
                watch=lambda: self._agent_token(name),
            ),
            done,
        )

    def show_escalation(self, escalation_id: str) -> None:
        e = self.models.inbox.items.get(escalation_id)
        title = f"Escalation: {e.title}" if e else f"Escalation {escalation_id}"

        def done(action: Action | None) -> None:
            if action:
                self.decisions.request(action, [escalation_id])

        async def revealer(reason: str) -> RenderableType:
            return await reveal_view(self.store, escalation_id, self.actor, reason)

        # Observers (--read-only) never see secrets; a reveal is a manager's act.
        can_reveal = not self.read_only and (e is None or e.kind == "guardrail")
        self.push_screen(
            DetailScreen(
                title,
                lambda: escalation_details(self.store, escalation_id, self.clock()),
                decidable=lambda: self.decisions.why_not(escalation_id),
                revealer=revealer if can_reveal else None,
                watch=lambda: self._escalation_token(escalation_id),
            ),
            done,
        )

    def _escalation_token(self, escalation_id: str) -> object:
        e = self.models.inbox.items.get(escalation_id)
        return None if e is None else (e.rev, e.state, e.delivery)

    def _agent_token(self, name: str) -> object:
        agent = self.models.swarm.agents.get(name)
        waiting = tuple((e.id, e.rev) for e in self.decisions.waiting_for(name))
        return (agent.rev if agent is not None else None, waiting)

    def _details_changed(self, result: PollResult) -> None:
        """Another manager decided, an agent moved on: an open details view says so (also
        under a dialog opened from it). Reads the stack, never ``self.screen``: a poll may
        land while the app shuts down and the stack is empty."""
        if result.inbox_changed or result.agents_changed:
            for screen in self.screen_stack:
                if isinstance(screen, DetailScreen):
                    screen.models_changed()

    def show_task(self, task_id: str) -> None:
        self.push_screen(
            DetailScreen(f"Task {task_id}", lambda: task_details(self.store, task_id, self.clock()))
        )

    @on(RowList.Details, "#swarm-list")
    def _agent_details(self, event: RowList.Details) -> None:
        self.show_agent(event.key)

    @on(RowList.Details, "#inbox-list")
    def _escalation_details(self, event: RowList.Details) -> None:
        self.show_escalation(event.key)

    @on(WorkflowGraph.NodeSelected)
    def _node_details(self, event: WorkflowGraph.NodeSelected) -> None:
        if event.node.task:
            self.show_task(event.node.task)
        else:
            self.say(f"{event.node.id} has no task yet (pending)")

    # ------------------------------------------------------------------ sort and workflows

    @on(SwarmList.SortRequested)
    def _next_sort(self) -> None:
        sorts = list(SORTS)
        self.set_sort(sorts[(sorts.index(self.models.swarm.sort) + 1) % len(sorts)])

    def set_sort(self, sort: str) -> None:
        if sort not in SORTS:
            self.say(f"sort by one of: {', '.join(SORTS)}", severity="warning")
            return
        self.models.swarm.set_sort(sort)
        self.swarm_list.invalidate()
        self.swarm_list.flush()
        self.update_titles()

    async def select_workflow(self, name: str) -> None:
        """Show ``name``: a whole name or a prefix only one workflow has; otherwise the
        picker opens on what matches, so "rel" lists the releases."""
        names = [w.name for w in self.models.workflows]
        if name not in names:
            matches = [n for n in names if n.startswith(name)]
            if len(matches) != 1:
                if not ranked(self.models.workflows, name):
                    known = f"; known: {', '.join(names[:10])}" if names else ""
                    self.say(f"no workflow matches {name!r}{known}", severity="warning")
                    return
                self.pick_workflow(name)
                return
            name = matches[0]
        self.graph.cursor = None  # a chosen workflow opens on its first node
        await self.refresher.select_workflow(name)
        self.graph.set_workflow(self.models.graph)
        self.update_titles()

    def pick_workflow(self, query: str = "") -> None:
        if not self.models.workflows:
            self.say("no workflows yet")
            return

        async def chosen(name: str | None) -> None:
            if name:
                await self.select_workflow(name)
                self.action_pane("workflow")

        picker = WorkflowPicker(
            self.models.workflows, query=query, current=self.models.workflow_name
        )
        self.push_screen(picker, chosen)

    @on(WorkflowGraph.PickWorkflow)
    def _pick_workflow(self) -> None:
        self.pick_workflow()

    # ------------------------------------------------------------------ decisions

    def on_key(self, event: Key) -> None:
        if self.decisions.refuses_key(self.focused, event.key):
            event.stop()

    @on(InboxList.DecideRequested)
    def _decide(self, event: InboxList.DecideRequested) -> None:
        self.decisions.request(event.action, event.keys, confirm=event.marked)

    @on(SwarmList.DecideRequested)
    def _decide_for_agent(self, event: SwarmList.DecideRequested) -> None:
        self.decisions.request_for_agent(event.agent, event.action)

    @on(InboxList.MakeRuleRequested)
    def _make_rule(self, event: InboxList.MakeRuleRequested) -> None:
        self.decisions.make_rule(event.key)

    @on(WorkflowGraph.RetryRequested)
    async def _retry_node(self, event: WorkflowGraph.RetryRequested) -> None:
        await self.decisions.retry_node(event.node)
