"""The prompt over the footer: ``:`` runs a command from the table, ``/`` filters a list.

A controller, not a widget: it owns the bar's three widgets (the App composes them
where the layout wants them) and what typing in them does. A filter applies as it is
typed; enter keeps it, esc (the App's back action) closes the bar and returns focus to
the pane it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Static

from swarmdeck.tui.commands import FILTER_PLACEHOLDER, parse, placeholder, unknown
from swarmdeck.tui.widgets.lists import InboxList, SwarmList

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp


class CommandLine:
    """The ``:`` / ``/`` prompt: open, filter as typed, submit, close."""

    def __init__(self, app: SwarmdeckApp) -> None:
        self.app = app
        self.bar = Horizontal(id="command-bar")
        self.mode_label = Static(":", id="command-mode")
        self.input = Input(id="command")
        self.mode = ":"
        self._filter_target: SwarmList | InboxList | None = None
        self._return_focus: Widget | None = None

    def compose(self) -> ComposeResult:
        with self.bar:
            yield self.mode_label
            yield self.input

    @property
    def is_open(self) -> bool:
        return self.bar.has_class("-visible")

    def open_command(self) -> None:
        self._open(":", "")

    def open_filter(self, target: SwarmList | InboxList) -> None:
        self._filter_target = target
        self._open("/", target.model.filter.text)

    def _open(self, mode: str, value: str) -> None:
        self.mode = mode
        self.input.placeholder = placeholder() if mode == ":" else FILTER_PLACEHOLDER
        self.input.value = value
        self.mode_label.update(mode)
        self.bar.add_class("-visible")
        self.app.set_focus(self.input)  # now, not after keys already queued
        self._return_focus = self.app.pane_widget(self.app.current_pane)

    def close(self) -> None:
        self.bar.remove_class("-visible")
        target = self._return_focus
        if target is not None and target is not self.input:
            self.app.set_focus(target)
        else:
            self.app.set_focus(self.app.inbox_list)

    def changed(self, value: str) -> None:
        """The input changed: a filter applies at once."""
        if self.mode == "/" and self._filter_target is not None:
            self._filter(self._filter_target, value)

    def _filter(self, target: SwarmList | InboxList, text: str) -> None:
        target.model.set_filter(text)
        target.move_to(0)
        target.flush()
        self.app.update_titles()

    def submit(self) -> None:
        """Enter in the command line, handled before any key typed after it.

        Keys typed in one burst (over SSH, or a paste) may still be queued for the
        input when the App's priority binding runs: read the value only after the input
        has processed them, by queueing behind them.
        """
        self.input.call_later(self._submit_now)

    async def _submit_now(self) -> None:
        if not self.is_open:
            return  # already closed meanwhile (esc)
        value = self.input.value.strip()
        mode = self.mode
        if mode == "/" and self._filter_target is not None:
            self._filter(self._filter_target, value)
        self.close()
        if mode == ":":
            await self.run(value)

    async def submitted(self, value: str) -> None:
        """The input's own enter (when the App's binding did not take it)."""
        mode = self.mode
        self.close()
        if mode == ":":
            await self.run(value.strip())

    async def run(self, line: str) -> None:
        """Run one ``:`` command line (also used by tests)."""
        command, word, arg = parse(line)
        if command is not None:
            await self.app.run_handler(command.handler, arg)
        elif word:
            self.app.say(unknown(word), severity="warning")
