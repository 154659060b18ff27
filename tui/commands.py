"""The one command table: every ``:`` command, read by the prompt, help and the palette.

The ``:`` prompt parses a line against it (:func:`parse`), its placeholder lists it,
the help screen shows it and the command palette offers it; the App maps each entry's
``handler`` id to the method that does the work. A new command is one row here and one
handler there, and a test checks that every handler id has one.

Pure data and string functions: no Textual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

HandlerId = Literal[
    "focus_swarm",
    "focus_inbox",
    "show_workflow",
    "show_adapters",
    "show_audit",
    "show_metrics",
    "set_theme",
    "set_sort",
    "show_help",
    "quit",
]


@dataclass(frozen=True, slots=True)
class Command:
    """One ``:`` command."""

    name: str
    aliases: tuple[str, ...]
    args: str
    """What may follow the name, as help shows it (``NAME``); "" when nothing does."""
    description: str
    handler: HandlerId
    arg_optional: bool = False
    """The command also runs bare (``:workflow`` alone shows the pane)."""

    @property
    def usage(self) -> str:
        return f":{self.name} {self.args}" if self.args else f":{self.name}"

    @property
    def needs_arg(self) -> bool:
        return bool(self.args) and not self.arg_optional


COMMANDS: tuple[Command, ...] = (
    Command("swarm", ("agents", "sw"), "", "focus a pane", "focus_swarm"),
    Command("inbox", ("in", "esc", "escalations"), "", "focus a pane", "focus_inbox"),
    Command(
        "workflow",
        ("wf", "workflows"),
        "NAME",
        "show a workflow (prefix is enough)",
        "show_workflow",
        arg_optional=True,
    ),
    Command(
        "adapters", ("adapter", "health"), "", "adapter health and dead letters", "show_adapters"
    ),
    Command("audit", (), "", "the audit chain, verified", "show_audit"),
    Command("metrics", (), "", "outcome velocity", "show_metrics"),
    Command(
        "theme", (), "NAME", "switch theme (swarmdeck-dark, -light, -contrast, yours)", "set_theme"
    ),
    Command("sort", (), "name|state|last seen|cost", "sort the swarm", "set_sort"),
    Command("help", (), "", "every key, as mapped", "show_help"),
    Command(
        "quit", ("q", "exit", "q!"), "", "leave (the swarm keeps running in the store)", "quit"
    ),
)

#: The ``/`` prompt's syntax, for help and for its placeholder.
FILTER_SYNTAX = "/text  state:blocked  role:coder  !word"
FILTER_PLACEHOLDER = "text  state:blocked  role:coder  !state:idle   (enter keeps, esc clears)"

_BY_WORD = {word: c for c in COMMANDS for word in (c.name, *c.aliases)}


def parse(line: str) -> tuple[Command | None, str, str]:
    """``(command, word, argument)`` of a typed line; command None when the word is unknown
    (or the line empty). A leading ``:`` is allowed; the word is case-insensitive."""
    word, _, arg = line.strip().lstrip(":").partition(" ")
    word = word.lower()
    return _BY_WORD.get(word), word, arg.strip()


def placeholder() -> str:
    """The ``:`` prompt's hint: each command with what it takes."""
    return "  ".join(c.usage[1:] for c in COMMANDS)


def unknown(word: str) -> str:
    return f"unknown command :{word} (try {' '.join(f':{c.name}' for c in COMMANDS)})"


def help_rows() -> Iterator[tuple[str, str]]:
    """(usage, description) rows; neighbours that do the same share a row."""
    pending: list[str] = []
    for i, c in enumerate(COMMANDS):
        pending.append(c.usage)
        following = COMMANDS[i + 1] if i + 1 < len(COMMANDS) else None
        if following is None or following.description != c.description:
            yield "  ".join(pending), c.description
            pending = []
    yield FILTER_SYNTAX, "filter the focused list; esc clears"
