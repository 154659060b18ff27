"""Small modal dialogs: a required reason, a pick from a list, an answer, a confirmation.

Each returns its answer through ``dismiss`` (None when cancelled with Esc), so the
caller awaits ``push_screen_wait`` or passes a callback.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option


def modal_css(name: str) -> str:
    """The dialog look, spelled with the screen's own type (DEFAULT_CSS is scoped to it)."""
    return f"""
    {name} {{ align: center middle; background: $background 60%; }}
    {name} > Vertical {{
        width: 80%; max-width: 90; min-width: 30; height: auto; max-height: 90%;
        border: round $primary; background: $panel; padding: 0 1;
    }}
    {name} .prompt {{ width: 100%; margin-bottom: 1; }}
    {name} .hint {{ color: $text-muted; width: 100%; }}
    {name} .problem {{ color: $error; width: 100%; height: auto; }}
    {name} Input {{ width: 100%; }}
    {name} OptionList {{ height: auto; max-height: 16; }}
    {name} VerticalScroll {{ height: auto; max-height: 20; }}
    """


class ReasonScreen(ModalScreen[str | None]):
    """Ask for a reason (required: the agent is told why)."""

    DEFAULT_CSS = modal_css("ReasonScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
    ]

    def __init__(
        self,
        prompt: Text | str,
        *,
        placeholder: str = "reason (sent to the agent)",
        value: str = "",
    ) -> None:
        super().__init__()
        self.prompt = prompt
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.prompt, classes="prompt")
            yield Input(value=self.value, placeholder=self.placeholder, id="reason")
            yield Label("", classes="problem", id="reason-error")
            yield Label("enter: send · esc: cancel", classes="hint")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.query_one("#reason-error", Label).update("A reason is required.")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[str | None]):
    """Pick one of several values (reroute targets)."""

    DEFAULT_CSS = modal_css("PickScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
        Binding("j", "down", "Down", show=False, id="modal.down"),
        Binding("k", "up", "Up", show=False, id="modal.up"),
    ]

    def __init__(self, prompt: Text | str, choices: list[tuple[str, Text]]) -> None:
        super().__init__()
        self.prompt = prompt
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.prompt, classes="prompt")
            yield OptionList(*[Option(label, id=value) for value, label in self.choices])
            yield Label("enter: choose · esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class AnswerScreen(ModalScreen[str | None]):
    """Answer a question: one of its options (a number key picks it at once, or j/k and
    enter), or, when it offers none, the answer typed out (sent to the agent as is)."""

    DEFAULT_CSS = modal_css("AnswerScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="modal.cancel"),
        Binding("j", "down", "Down", show=False, id="modal.down"),
        Binding("k", "up", "Up", show=False, id="modal.up"),
    ]

    def __init__(self, prompt: Text | str, options: list[str] | None, body: Text | None) -> None:
        super().__init__()
        self.prompt = prompt
        self.options = list(options or [])
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.prompt, classes="prompt")
            if self.body is not None and self.body.plain.strip():
                yield Static(self.body, classes="hint")
            if self.options:
                yield OptionList(
                    *[
                        Option(
                            Text.assemble(f"{n}  " if n < 10 else "   ", Text(option)), id=option
                        )
                        for n, option in enumerate(self.options, 1)
                    ]
                )
                keys = f"1-{min(9, len(self.options))}" if len(self.options) > 1 else "1"
                yield Label(f"{keys} or enter: answer · esc: cancel", classes="hint")
            else:
                yield Input(placeholder="your answer (sent to the agent)", id="answer")
                yield Label("", classes="problem", id="answer-error")
                yield Label("enter: send · esc: cancel", classes="hint")

    def on_mount(self) -> None:
        if self.options:
            self.query_one(OptionList).focus()
        else:
            self.query_one("#answer", Input).focus()

    def on_key(self, event: Key) -> None:
        if self.options and event.character and event.character.isdigit():
            n = int(event.character)
            if 1 <= n <= min(9, len(self.options)):
                event.stop()
                self.dismiss(self.options[n - 1])

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.query_one("#answer-error", Label).update("An answer is required.")
            return
        self.dismiss(value)

    def action_down(self) -> None:
        if self.options:
            self.query_one(OptionList).action_cursor_down()

    def action_up(self) -> None:
        if self.options:
            self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """Show exactly what will happen; y or enter confirms, n or esc cancels.

    ``again`` names more keys that confirm: the key that asked (``a`` twice approves),
    so a confirmation is one more keystroke, never a new habit.
    """

    DEFAULT_CSS = modal_css("ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self, title: str, lines: list[Text], *, again: frozenset[str] = frozenset()
    ) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.again = again

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self.title_text, style="bold"), classes="prompt")
            with VerticalScroll():
                for line in self.lines:
                    yield Static(line)
            again = "".join(f"{k} / " for k in sorted(self.again))
            yield Label(f"{again}y / enter: do it · n / esc: cancel", classes="hint")

    def on_key(self, event: Key) -> None:
        if event.key in self.again:
            event.stop()
            self.dismiss(True)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
