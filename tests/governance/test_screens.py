"""MetricsScreen and MakeRuleScreen: Pilot tests reaching the store and the config file, and
snapshots (masked guardrail titles visible, the secret nowhere)."""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from swarmdeck.guardrails import GuardrailConfig, IngestFilter
from swarmdeck.store.db import Store
from swarmdeck.tui.screens.make_rule import MakeRuleScreen, append_rule, rule_dict
from swarmdeck.tui.screens.metrics import MetricsScreen
from tests.helpers.clock import T0
from tests.helpers.history import history_event as _ev
from tests.helpers.history import record_history

NOW = T0 + 6 * 3600
SECRET = "AKIAIOSFODNN7EXAMPLE"
Snap = Callable[..., bool]


def frozen() -> float:
    return NOW


async def seed(db: Path) -> None:
    async with await Store.open(db, clock=frozen) as store:
        await record_history(store, NOW)
        flt = IngestFilter(GuardrailConfig(), store=store, clock=frozen)
        leak = _ev("log", 990, NOW - 600, agent="coder-1", task="T-9",
                   data={"text": f"export AWS_ACCESS_KEY_ID={SECRET}"})  # fmt: skip
        await store.append(await flt([leak], "demo"), origin="demo")
        await store.decide("R-41", "approve", actor="policy:routine-reads")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "screens.db"
    asyncio.run(seed(path))
    return path


class Host(App[None]):
    """The smallest app that shows one screen the way SwarmdeckApp does."""

    def __init__(self, db: Path, make: Callable[[Store], Screen[Any]], config: Path) -> None:
        super().__init__()
        self.db = db
        self.make = make
        self.config_path = config
        self.actor = "ann@box"
        self.store: Store | None = None
        self.result: Any = "unset"

    def clock(self) -> float:
        return NOW

    async def on_mount(self) -> None:
        self.store = await Store.open(self.db, clock=frozen)
        self.push_screen(self.make(self.store), callback=self._done)

    def _done(self, result: Any) -> None:
        self.result = result

    async def on_unmount(self) -> None:
        if self.store is not None:
            await self.store.close()


async def settle(pilot: Pilot[Any]) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor makes snapshots flaky
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _escalation(db: Path, escalation_id: str) -> Any:
    async with await Store.open(db) as store:
        return await store.escalation(escalation_id)


def test_metrics_snapshot(snap_compare: Snap, db: Path, tmp_path: Path) -> None:
    app = Host(db, lambda s: MetricsScreen(s, refresh_seconds=0, buckets=12), tmp_path / "c.toml")
    assert snap_compare(app, terminal_size=(110, 36), run_before=settle)


def test_make_rule_snapshot(snap_compare: Snap, db: Path, tmp_path: Path) -> None:
    esc = asyncio.run(_escalation(db, "R-40"))
    app = Host(db, lambda s: MakeRuleScreen(s, esc), tmp_path / "c.toml")
    assert snap_compare(app, terminal_size=(110, 40), run_before=settle)


async def test_metrics_screen_shows_masked_numbers(db: Path, tmp_path: Path) -> None:
    app = Host(db, lambda s: MetricsScreen(s, refresh_seconds=0), tmp_path / "c.toml")
    async with app.run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MetricsScreen)
        assert screen.last is not None
        assert screen.last.human_decisions == 45
        assert screen.last.policy_decisions == 1
        text = "".join(str(line) for line in app.export_screenshot().splitlines())
        assert SECRET not in text
        await pilot.press("d")  # 24h window
        await settle(pilot)
        assert screen.window == "24h"


async def test_make_rule_saves_decides_and_audits(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# my settings\n[tui]\nbell = false\n")
    esc = await _escalation(db, "R-40")
    app = Host(db, lambda s: MakeRuleScreen(s, esc), config)
    async with app.run_test(size=(110, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MakeRuleScreen)
        # The proposal matches "Grep ..." approvals; the dry run compares with history.
        assert screen.query_one("#rule-pattern", Input).value == "^Grep\\b"
        assert screen.report_lines == [
            "rule auto-grep would have auto-approved 2 requests (1 still open, 1 already "
            "decided by a policy; none decided by a human to compare with)"
        ]
        # Widen the pattern to every read-like request: the headline follows.
        field = screen.query_one("#rule-pattern", Input)
        field.value = "^(Read|Grep|Glob)"
        await settle(pilot)
        assert screen.report_lines[0].startswith(
            "rule auto-grep matched 42 requests and would have auto-approved them; "
            "of the 40 a human decided, 37 were approved and 3 were rejected"
        )
        await pilot.click("#rule-save")
        await settle(pilot)
    assert app.result == {"rule": "auto-grep", "path": str(config), "decision": "approve"}
    text = config.read_text()
    assert text.startswith("# my settings\n[tui]\nbell = false\n")
    rules = tomllib.loads(text)["policy"]["rules"]
    assert rules == [
        {
            "name": "auto-grep",
            "match": {"escalation_kind": "approval", "title": "^(Read|Grep|Glob)"},
            "path": ["approve"],
        }
    ]  # fmt: skip
    async with await Store.open(db) as store:
        decided = await store.escalation("R-40")
        assert decided.decided_by == "ann@box"
        [added] = [r for r in await store.audit_records() if r.action == "policy.rule_added"]
        assert added.actor == "ann@box"
        assert added.detail["from_escalation"] == "R-40"
        assert (await store.audit_verify()).ok


def test_append_rule_refuses_a_duplicate_and_keeps_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    append_rule(config, rule_dict("r1", "approval", "^Read", "approve", ""))
    before = config.read_text()
    from swarmdeck.config import ConfigError

    with pytest.raises(ConfigError, match="already exists"):
        append_rule(config, rule_dict("r1", "approval", "^Grep", "approve", ""))
    with pytest.raises(ConfigError, match="reject: needs reason"):
        append_rule(config, rule_dict("r2", "approval", "^Bash", "reject", ""))
    assert config.read_text() == before
    append_rule(config, rule_dict("r3", "approval", "^Bash", "reject", 'no "shell", please'))
    rules = tomllib.loads(config.read_text())["policy"]["rules"]
    assert rules[1]["path"] == ["reject(reason=\"no 'shell', please\")"]


async def test_real_app_opens_both_screens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Through SwarmdeckApp itself: ``:metrics`` and ``m`` (decide and make a rule) on the inbox."""
    from swarmdeck.config import Settings, TuiSettings
    from swarmdeck.tui.app import SwarmdeckApp

    monkeypatch.setenv("SWARMDECK_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "none")
    db = tmp_path / "app.db"
    await seed(db)
    app = SwarmdeckApp(
        None, Settings(db=db, tui=TuiSettings()), clock=frozen, actor="ann@box",
        themes_dir=None, ascii_only=False,
    )  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("colon", *"metrics", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MetricsScreen)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("2", "m")  # the inbox; its first item is an open read request
        await settle(pilot)
        assert isinstance(app.screen, MakeRuleScreen)
        assert app.screen.escalation.state == "open"
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, MakeRuleScreen)
