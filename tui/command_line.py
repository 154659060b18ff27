"""The prompt over the footer: ``:`` runs a command from the table, ``/`` filters a list.

A controller, not a widget: it owns the bar's widgets (the App composes them where the
layout wants them) and what typing in them does. A filter applies as it is typed; enter
keeps it, esc (the App's back action) closes the bar and returns focus to the pane it
came from.

While the prompt is on screen, keys belong to it: Tab completes (command names, then
what the command takes; filter fields, then their values; a second Tab cycles through
the candidates it lists), and focus never leaves the input for a pane, where the
letters typed next would be decision keys. Focus that leaves anyway (a click on a
pane) closes the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Static

from swarmdeck.store.events import SEVERITIES
from swarmdeck.tui.commands import (
    FILTER_PLACEHOLDER,
    Completion,
    HandlerId,
    complete_command,
    complete_filter,
    parse,
    placeholder,
    unknown,
)
from swarmdeck.tui.model import SORTS, STATE_ORDER
from swarmdeck.tui.safe_text import clean
from swarmdeck.tui.widgets.lists import InboxList, SwarmList

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp


class CommandInput(Input):
    """The prompt's input: Tab asks for a completion instead of moving focus."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete", show=False, id="prompt.complete", priority=True),
    ]

    class CompleteRequested(Message):
        """Tab in the prompt."""

    def action_complete(self) -> None:
        self.post_message(self.CompleteRequested())


class CommandLine:
    """The ``:`` / ``/`` prompt: open, filter as typed, complete, submit, close."""

    def __init__(self, app: SwarmdeckApp) -> None:
        self.app = app
        self.bar = Horizontal(id="command-bar")
        self.mode_label = Static(":", id="command-mode")
        self.input = CommandInput(id="command")
        self.hint = Static("", id="command-hint")
        self.mode = ":"
        self._filter_target: SwarmList | InboxList | None = None
        self._return_focus: Widget | None = None
        #: The last completion's candidates and the line it left, for Tab to cycle.
        self._cycle: tuple[tuple[str, ...], str, int] | None = None

    def compose(self) -> ComposeResult:
        with self.bar:
            yield self.mode_label
            yield self.input
            yield self.hint

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
        self.hint.update("")
        self._cycle = None
        self.bar.add_class("-visible")
        self.app.set_focus(self.input)  # now, not after keys already queued
        self._return_focus = self.app.pane_widget(self.app.current_pane)

    def close(self, *, refocus: bool = True) -> None:
        """Hide the bar; focus returns to the pane it came from (unless it went elsewhere:
        ``refocus=False``, when a click moved focus and that is what closed it)."""
        self.bar.remove_class("-visible")
        self._cycle = None
        if not refocus:
            return
        target = self._return_focus
        if target is not None and target is not self.input:
            self.app.set_focus(target)
        else:
            self.app.set_focus(self.app.inbox_list)

    def changed(self, value: str) -> None:
        """The input changed: a filter applies at once; a typed key ends a Tab cycle."""
        if self._cycle is not None and value != self._cycle[1]:
            self._cycle = None
            self.hint.update("")
        if self.mode == "/" and self._filter_target is not None:
            self._filter(self._filter_target, value)

    # ------------------------------------------------------------------ completion

    def complete(self) -> None:
        """Tab: complete the line, or step to the next candidate the last Tab listed."""
        value = self.input.value
        if self._cycle is not None and value == self._cycle[1]:
            candidates, _line, index = self._cycle
            index = (index + 1) % len(candidates)
            line = self._with_candidate(value, candidates[index])
            self._set(line)
            self._cycle = (candidates, line, index)
            self._show(candidates, index)
            return
        done = self._completion(value)
        self._set(done.line)
        if len(done.candidates) > 1:
            self._cycle = (done.candidates, done.line, -1)
            self._show(done.candidates, -1)
        else:
            self._cycle = None
            self.hint.update("" if done.candidates else "no completion")

    def _completion(self, value: str) -> Completion:
        if self.mode == ":":
            return complete_command(value, self._values)
        target = self._filter_target
        return complete_filter(value, self._fields(target) if target is not None else {})

    def _with_candidate(self, line: str, candidate: str) -> str:
        """``line`` with its last word (or the part after the last ``:``) replaced."""
        if self.mode == ":":
            word, space, _arg = line.lstrip(":").partition(" ")
            return f"{word} {candidate}" if space else candidate
        head, _, last = line.rpartition(" ")
        name, colon, _value = last.partition(":")
        term = f"{name}:{candidate}" if colon else candidate
        return f"{head} {term}" if head else term

    def _set(self, line: str) -> None:
        self.input.value = line
        self.input.cursor_position = len(line)

    def _show(self, candidates: Sequence[str], index: int) -> None:
        hint = Text()
        for i, c in enumerate(candidates[:12]):
            hint.append("  ")
            hint.append(clean(c, max_len=40, single_line=True), "reverse" if i == index else "")
        if len(candidates) > 12:
            hint.append(f"  +{len(candidates) - 12}")
        self.hint.update(hint)

    def _values(self, handler: HandlerId) -> Sequence[str]:
        app = self.app
        if handler == "show_workflow":
            return [w.name for w in app.models.workflows]
        if handler == "set_theme":
            return sorted(app.theme_names)
        if handler == "set_sort":
            return SORTS
        return ()

    def _fields(self, target: SwarmList | InboxList) -> dict[str, Sequence[str]]:
        """The filter's fields for ``target``, each with the values the deck knows."""
        models = self.app.models
        if isinstance(target, SwarmList):
            agents = models.swarm.agents.values()
            return {
                "state": list(STATE_ORDER),
                "role": sorted({a.role for a in agents}),
                "name": sorted(models.swarm.agents)[:200],
                "task": sorted({a.task for a in agents if a.task})[:200],
                "workflow": sorted({a.workflow for a in agents if a.workflow})[:200],
                "model": sorted({a.model for a in agents if a.model}),
                "host": sorted({a.host for a in agents if a.host}),
            }
        items = models.inbox.items.values()
        return {
            "severity": list(SEVERITIES),
            "sev": list(SEVERITIES),
            "kind": sorted({e.kind for e in items}),
            "agent": sorted({e.agent for e in items if e.agent})[:200],
            "state": ["open", "decided", "withdrawn"],
            "workflow": sorted({e.workflow for e in items if e.workflow})[:200],
            "task": sorted({e.task for e in items if e.task})[:200],
        }

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
