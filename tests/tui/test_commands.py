"""The one command table, and the three places that read it: the prompt, help, the palette."""

from __future__ import annotations

import io
import typing

from rich.console import Console

from swarmdeck.store.db import Store
from swarmdeck.tui.commands import (
    COMMANDS,
    HandlerId,
    help_rows,
    parse,
    placeholder,
    unknown,
)
from swarmdeck.tui.palette import SwarmdeckCommands
from swarmdeck.tui.screens.help import help_view
from tests.helpers.tui import AppFactory


def test_every_handler_id_has_one_command_and_every_word_one_meaning() -> None:
    assert sorted(c.handler for c in COMMANDS) == sorted(typing.get_args(HandlerId))
    words = [w for c in COMMANDS for w in (c.name, *c.aliases)]
    assert len(words) == len(set(words))


def test_parse_names_aliases_and_arguments() -> None:
    command, word, arg = parse(":WF  release 42 ")
    assert command is not None and command.handler == "show_workflow"
    assert (word, arg) == ("wf", "release 42")
    assert parse("q!")[0] is not None and parse("q!")[0] == parse("quit")[0]
    assert parse("bogus") == (None, "bogus", "")
    assert parse("   ") == (None, "", "")


def test_prompt_hint_and_unknown_list_every_command() -> None:
    hint = placeholder()
    for c in COMMANDS:
        assert c.name in hint and f":{c.name}" in unknown("x")
    assert "workflow NAME" in hint and "theme NAME" in hint


def test_help_rows_share_a_row_when_commands_do_the_same() -> None:
    rows = dict(help_rows())
    assert rows[":swarm  :inbox"] == "focus a pane"
    assert ":help" in rows  # it ran, but help did not list it
    shown = " ".join(rows)
    assert all(c.usage in shown for c in COMMANDS)


async def test_help_screen_lists_the_table(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)):
        console = Console(width=120, record=True, file=io.StringIO())
        console.print(await help_view(app))
        text = console.export_text()
    for usage, what in help_rows():
        assert usage in text and what in text
    assert text.count("modal.cancel") == 1  # two dialogs share it: one row


async def test_palette_opens_on_the_table_and_runs_its_handlers(
    app_factory: AppFactory, swarm_store: Store
) -> None:
    app = app_factory()
    async with app.run_test(size=(120, 40)) as pilot:
        provider = SwarmdeckCommands(app.screen)
        opened = [hit.text async for hit in provider.discover()]
        assert opened == [f"{c.name}: {c.description}" for c in COMMANDS if not c.needs_arg]
        hits = {hit.text: hit async for hit in provider.search("sort state")}
        hit = hits["sort: state"]  # a value the command takes, offered by name
        assert hit.help == ":sort state"
        await hit.command()
        await pilot.pause()
        assert app.models.swarm.sort == "state"
        hits = {hit.text: hit async for hit in provider.search("workflow hotfix")}
        await hits["workflow: hotfix-7"].command()
        await pilot.pause()
        assert app.models.workflow_name == "hotfix-7"
        assert app.focused is app.graph  # as :workflow hotfix-7 does
