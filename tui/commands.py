"""The one command table: every ``:`` command, read by the prompt, help and the palette.

The ``:`` prompt parses a line against it (:func:`parse`), its placeholder lists it,
the help screen shows it and the command palette offers it; the App maps each entry's
``handler`` id to the method that does the work. A new command is one row here and one
handler there, and a test checks that every handler id has one.

Pure data and string functions: no Textual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
    "show_messages",
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
        "show a workflow (part of a name lists the matches)",
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
        "messages",
        ("msgs",),
        "",
        "what was said lately (toasts and the status line)",
        "show_messages",
    ),
    Command(
        "quit", ("q", "exit", "q!"), "", "leave (the swarm keeps running in the store)", "quit"
    ),
)

#: The ``/`` prompt's syntax, for help and for its placeholder.
FILTER_SYNTAX = "/text  state:blocked  role:coder  !word"
FILTER_PLACEHOLDER = (
    "text  state:blocked  role:coder  !state:idle   (tab completes, enter keeps, esc clears)"
)

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


# --------------------------------------------------------------------------- completion

Values = Callable[[HandlerId], Sequence[str]]
"""What a command's argument may be, by handler (the workflows, themes, sort orders)."""


@dataclass(frozen=True, slots=True)
class Completion:
    """What Tab makes of a line: the new line, and every candidate it chose among."""

    line: str
    candidates: tuple[str, ...] = ()


def complete_command(line: str, values: Values) -> Completion:
    """Complete the ``:`` line: the command word, then its argument.

    One candidate: the line becomes it (a command that takes an argument gets the space
    after it). Several: the line grows to their longest common prefix and all are
    returned, so the prompt can list them and a second Tab can cycle through them.
    Matching ignores case; an argument also matches in the middle ("42" finds
    "release-42") when nothing starts with it.
    """
    text = line.lstrip().lstrip(":")
    word, space, arg = text.partition(" ")
    if not space:
        names = [c.name for c in COMMANDS if c.name.startswith(word.lower())]
        names += [
            c.name
            for c in COMMANDS
            if c.name not in names and any(a.startswith(word.lower()) for a in c.aliases)
        ]
        if len(names) == 1:
            only = _BY_WORD[names[0]]
            return Completion(names[0] + (" " if only.args else ""), tuple(names))
        return Completion(_common_prefix(names) or word, tuple(names))
    command = _BY_WORD.get(word.lower())
    if command is None or not command.args:
        return Completion(line)
    found = _matching(arg.strip(), values(command.handler))
    head = f"{word} "
    if len(found) == 1:
        return Completion(head + found[0], found)
    return Completion(head + (_common_prefix(found) or arg.strip()), found)


def complete_filter(line: str, fields: dict[str, Sequence[str]]) -> Completion:
    """Complete the last term of a ``/`` filter: a field name (``sta`` -> ``state:``),
    then its value (``state:bl`` -> ``state:blocked``); ``!`` negation is kept."""
    head, _, last = line.rpartition(" ")
    prefix = f"{head} " if head else ""
    neg = "!" if last.startswith("!") else ""
    term = last[len(neg) :]
    name, colon, value = term.partition(":")
    if not colon:
        found = _matching(name, [f"{f}:" for f in fields], anywhere=False)
        if len(found) == 1:
            return Completion(prefix + neg + found[0], found)
        return Completion(prefix + neg + (_common_prefix(found) or name), found)
    known = fields.get(name.lower())
    if known is None:
        return Completion(line)
    found = _matching(value, known)
    if len(found) == 1:
        return Completion(f"{prefix}{neg}{name}:{found[0]} ", found)
    return Completion(f"{prefix}{neg}{name}:{_common_prefix(found) or value}", found)


def _matching(prefix: str, values: Sequence[str], *, anywhere: bool = True) -> tuple[str, ...]:
    low = prefix.lower()
    unique = list(dict.fromkeys(values))
    starts = tuple(v for v in unique if v.lower().startswith(low))
    if starts or not anywhere or not low:
        return starts
    return tuple(v for v in unique if low in v.lower())


def _common_prefix(values: Sequence[str]) -> str:
    if not values:
        return ""
    first, last = min(values), max(values)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]
