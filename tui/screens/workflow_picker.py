"""The workflow picker (``w``, or ``:workflow`` with a prefix that fits several): type to
narrow, enter to show.

Cycling through 29 workflows one ``w`` at a time does not scale; a fuzzy list does
(``rel42`` finds ``release-42``). Workflows that are moving (tasks running, escalations
open) come first, each with its progress, so the list also answers "where is work".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from swarmdeck.store.models import WorkflowSummary
from swarmdeck.tui.safe_text import clean
from swarmdeck.tui.screens.modals import modal_css

#: Workflows listed at most (the filter finds the rest).
MAX_SHOWN = 200


def ranked(workflows: Sequence[WorkflowSummary], query: str) -> list[WorkflowSummary]:
    """The workflows matching ``query`` (fuzzy, case-insensitive), best first; without a
    query, those with work in flight first, in the order the store lists them. Pure."""
    live = [w for w in workflows if w.running or w.open_escalations]
    rest = [w for w in workflows if not (w.running or w.open_escalations)]
    ordered = live + rest
    if not query.strip():
        return ordered
    matcher = Matcher(query.strip(), case_sensitive=False)
    scored = [(matcher.match(w.name), -n, w) for n, w in enumerate(ordered)]
    return [w for score, _n, w in sorted(scored, key=lambda s: (s[0], s[1]), reverse=True) if score]


def describe(w: WorkflowSummary) -> Text:
    """One line of the picker: name, then progress and what waits."""
    line = Text(clean(w.name, max_len=80, single_line=True), style="bold")
    line.append(f"  {w.done}/{w.tasks} done", style="dim")
    if w.running:
        line.append(f" · {w.running} running")
    if w.failed:
        line.append(f" · {w.failed} failed", style="bold")
    if w.open_escalations:
        line.append(f" · {w.open_escalations} waiting", style="bold")
    return line


class WorkflowPicker(ModalScreen[str | None]):
    """Pick a workflow by typing part of its name."""

    DEFAULT_CSS = modal_css("WorkflowPicker")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
        Binding("down", "down", "Down (the workflow picker)", show=False, id="picker.down"),
        Binding("up", "up", "Up (the workflow picker)", show=False, id="picker.up"),
    ]

    def __init__(
        self, workflows: Sequence[WorkflowSummary], *, query: str = "", current: str | None
    ) -> None:
        super().__init__()
        self.workflows = list(workflows)
        self.query_text = query
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Show workflow…", style="bold"), classes="prompt")
            yield Input(value=self.query_text, placeholder="type part of a name", id="pick")
            yield OptionList(id="workflows")
            yield Label("", classes="hint", id="pick-count")
            yield Label("↑↓ choose · enter: show · esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self._fill(self.query_text)
        self.query_one("#pick", Input).focus()

    @on(Input.Changed, "#pick")
    def _changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, query: str) -> None:
        found = ranked(self.workflows, query)
        options = self.query_one("#workflows", OptionList)
        options.clear_options()
        options.add_options([Option(describe(w), id=w.name) for w in found[:MAX_SHOWN]])
        if found:
            names = [w.name for w in found[:MAX_SHOWN]]
            options.highlighted = names.index(self.current) if self.current in names else 0
        shown = f"{len(found)} of {len(self.workflows)}" if query.strip() else f"{len(found)}"
        self.query_one("#pick-count", Label).update(
            f"{shown} workflows" if found else f"no workflow matches {query.strip()!r}"
        )

    @on(Input.Submitted, "#pick")
    def _submitted(self) -> None:
        options = self.query_one("#workflows", OptionList)
        if options.highlighted is not None:
            option = options.get_option_at_index(options.highlighted)
            self.dismiss(option.id)

    @on(OptionList.OptionSelected, "#workflows")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_down(self) -> None:
        self.query_one("#workflows", OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one("#workflows", OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)
