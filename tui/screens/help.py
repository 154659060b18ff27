"""``?``: every key, as currently mapped, grouped by where it works, with its binding id;
then the ``:`` commands, from the one command table (:mod:`tui.commands`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.binding import Binding

from swarmdeck.tui.command_line import CommandInput
from swarmdeck.tui.commands import help_rows
from swarmdeck.tui.decisions import DECISION_BINDING_IDS
from swarmdeck.tui.screens.details import DetailScreen
from swarmdeck.tui.screens.modals import AnswerScreen, ConfirmScreen, PickScreen, ReasonScreen
from swarmdeck.tui.screens.workflow_picker import WorkflowPicker
from swarmdeck.tui.widgets.graph import WorkflowGraph
from swarmdeck.tui.widgets.lists import InboxList, RowList, SwarmList

if TYPE_CHECKING:
    from swarmdeck.tui.app import SwarmdeckApp


def _bindings(cls: type) -> list[Binding]:
    out: list[Binding] = []
    for item in getattr(cls, "BINDINGS", []):
        if isinstance(item, Binding):
            out.append(item)
    return out


def _shown_key(binding: Binding, keymap: dict[str, str]) -> str:
    keys = keymap.get(binding.id or "", binding.key)
    names = []
    for key in keys.split(","):
        key = key.strip()
        names.append(
            {
                "question_mark": "?",
                "colon": ":",
                "slash": "/",
                "space": "space",
                "escape": "esc",
            }.get(key, key)
        )
    return " ".join(names)


async def help_view(app: SwarmdeckApp) -> RenderableType:
    keymap = dict(app._keymap)
    groups: list[tuple[str, list[type]]] = [
        ("Everywhere", [type(app)]),
        ("Lists (Swarm, Inbox)", [RowList]),
        ("Swarm", [SwarmList]),
        ("Inbox", [InboxList]),
        ("Workflow", [WorkflowGraph]),
        ("Details view", [DetailScreen]),
        ("The : and / prompt", [CommandInput]),
        ("Dialogs", [ReasonScreen, PickScreen, AnswerScreen, WorkflowPicker, ConfirmScreen]),
    ]
    parts: list[RenderableType] = []
    if app.read_only:
        parts.append(Text("read-only session: decision keys are disabled\n", style="bold"))
    for title, classes in groups:
        table = Table(
            box=None,
            padding=(0, 2),
            show_header=False,
            title=title,
            title_justify="left",
            title_style="bold underline",
        )
        table.add_column(no_wrap=True, min_width=12)
        table.add_column()
        table.add_column(style="dim")
        shown: set[str] = set()  # dialogs share modal.cancel: one row says it
        for cls in classes:
            for b in _bindings(cls):
                if app.read_only and b.id in DECISION_BINDING_IDS:
                    continue
                if b.id and b.id in shown:
                    continue
                shown.add(b.id or "")
                table.add_row(_shown_key(b, keymap), b.description or b.action, b.id or "")
        parts.append(table)
        parts.append(Text(""))
    commands = Table(
        box=None,
        padding=(0, 2),
        show_header=False,
        title="Commands",
        title_justify="left",
        title_style="bold underline",
    )
    commands.add_column(no_wrap=True)
    commands.add_column()
    for usage, what in help_rows():
        commands.add_row(usage, what)
    parts.append(commands)
    parts.append(
        Text(
            "\nRemap any key by its id in the config file, e.g.\n"
            '  [tui.keymap]\n  "inbox.approve" = "y"\n'
            "ctrl+p opens the command palette "
            "(inbox: approve <title>, workflow: NAME, theme: NAME …)."
        )
    )
    return Group(*parts)
