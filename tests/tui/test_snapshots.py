"""Snapshots of the main screen and each pane at 120x40, at a 45-column side panel and in a
small 80x24 terminal; details, the answer dialog and the workflow picker at all three.

Deterministic: a fixed swarm (tests/tui/swarm_data.py), a frozen clock, animations
off, and every screenshot taken after the first poll merged the store (on_mount
awaits it) and after workers finished. Update with ``--snapshot-update`` only after
looking at the report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from swarmdeck.tui.app import SwarmdeckApp
from tests.helpers.tui import make_app

SIZES = {"wide": (120, 40), "side": (45, 40), "small": (80, 24)}

Snap = Callable[..., bool]


@pytest.mark.parametrize("size", SIZES.keys())
def test_main_screen(snap_compare: Snap, db_path: Path, size: str) -> None:
    assert snap_compare(make_app(db_path), terminal_size=SIZES[size])


@pytest.mark.parametrize("size", ["wide", "side"])
@pytest.mark.parametrize("pane", ["swarm", "inbox", "workflow"])
def test_single_pane(snap_compare: Snap, db_path: Path, pane: str, size: str) -> None:
    assert snap_compare(make_app(db_path, pane=pane), terminal_size=SIZES[size])


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _on_row(pilot: Pilot[Any], key: str) -> None:
    app = pilot.app
    assert isinstance(app, SwarmdeckApp)
    app.inbox_list.move_to(app.models.inbox.index[key])
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES.keys())
def test_escalation_details(snap_compare: Snap, db_path: Path, size: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _on_row(pilot, "esc-hostile")
        await pilot.press("enter")
        await _settle(pilot)

    assert snap_compare(make_app(db_path), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES.keys())
def test_answer_dialog(snap_compare: Snap, db_path: Path, size: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await _on_row(pilot, "esc-db")
        await pilot.press("A")
        await pilot.pause()  # (the decision worker waits on the dialog: not "settled")
        await pilot.pause()

    assert snap_compare(make_app(db_path), terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES.keys())
def test_workflow_picker(snap_compare: Snap, db_path: Path, size: str) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("3", "w")
        await _settle(pilot)

    assert snap_compare(make_app(db_path), terminal_size=SIZES[size], run_before=run_before)


def test_reject_dialog(snap_compare: Snap, db_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("d", *"not now")
        await pilot.pause()

    assert snap_compare(make_app(db_path), terminal_size=(120, 40), run_before=run_before)


def test_bulk_confirmation(snap_compare: Snap, db_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("space", "space", "space", "a")
        await pilot.pause()

    assert snap_compare(make_app(db_path), terminal_size=(120, 40), run_before=run_before)


def test_audit_pane(snap_compare: Snap, db_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("colon", *"audit", "enter")
        await _settle(pilot)

    assert snap_compare(make_app(db_path), terminal_size=(120, 40), run_before=run_before)


def test_help(snap_compare: Snap, db_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await _settle(pilot)

    assert snap_compare(make_app(db_path), terminal_size=(120, 40), run_before=run_before)


def test_filtered_swarm_sorted_by_state(snap_compare: Snap, db_path: Path) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await pilot.press("1", "slash", *"role:coder", "enter", "s")
        await pilot.pause()

    assert snap_compare(make_app(db_path), terminal_size=(120, 40), run_before=run_before)


def test_no_color_contrast_ascii(
    snap_compare: Snap, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NO_COLOR + ASCII: states still read through symbols and words."""
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(db_path, theme="swarmdeck-contrast")
    app.ascii_only = True
    assert snap_compare(app, terminal_size=(120, 40))
