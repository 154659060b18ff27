"""The TUI's plain parts: themes and the models (the graph has tests/tui/test_graph.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.theme import Theme

from swarmdeck.store.db import Store
from swarmdeck.tui.model import Filter, InboxModel, Models, SwarmModel
from swarmdeck.tui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes, parse_theme
from tests.helpers.tui import AppFactory, frozen
from tests.tui.rows import agent_row, escalation_row


def test_builtin_themes() -> None:
    loaded = load_themes(None)
    assert not loaded.errors
    assert {"swarmdeck-dark", "swarmdeck-light", "swarmdeck-contrast"} <= set(loaded.themes)
    for theme in loaded.themes.values():
        assert isinstance(theme, Theme)
        assert set(VARIABLE_DEFAULTS) <= set(theme.variables)
    assert loaded.themes["swarmdeck-light"].dark is False


def test_user_themes_and_one_clear_error(tmp_path: Path) -> None:
    tmp_path = tmp_path / "themes"
    tmp_path.mkdir()
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\nprimary = "#ff0000"\n[variables]\nagent-failed = "magenta"\n'
    )
    (tmp_path / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (tmp_path / "garbage.toml").write_text("name = ")
    loaded = load_themes(tmp_path)
    assert loaded.themes["mine"].variables["agent-failed"] == "magenta"
    assert "broken" not in loaded.themes
    assert len(loaded.errors) == 2
    assert any("broken.toml: primary" in e and "not a colour" in e for e in loaded.errors)
    assert any("garbage.toml: not valid TOML" in e for e in loaded.errors)


def test_unknown_field_named() -> None:
    with pytest.raises(ValueError, match=r"x\.toml: colour: Extra inputs"):
        parse_theme('name = "x"\nprimary = "red"\ncolour = "blue"\n', "x.toml")


async def test_broken_theme_setting_falls_back(app_factory: AppFactory) -> None:
    app = app_factory(theme="no-such-theme")
    async with app.run_test(size=(80, 24)):
        assert app.theme == DEFAULT_THEME
        said = "theme 'no-such-theme' not found; using swarmdeck-dark"
        assert [text for _ts, _severity, text in app.message_log.entries] == [said]
        # At 80 columns a toast would cover the stacked panes: the status line says it.
        assert said in str(app.status_line.render())


def test_filter_parse() -> None:
    f = Filter.parse("state:blocked role:cod !idle build")
    assert f.terms == (("state", "blocked", False), ("role", "cod", False))
    assert f.words == (("idle", True), ("build", False))
    assert f.matches({"state": "blocked", "role": "coder"}, "x build")
    assert not f.matches({"state": "blocked", "role": "coder"}, "idle build")
    assert not Filter.parse("  ")


def test_swarm_model_incremental() -> None:
    model = SwarmModel()
    model.merge([agent_row("b"), agent_row("a", "blocked")])
    assert model.order == ["a", "b"]
    order = model.order
    model.merge([agent_row("b", "working", rev=2)])  # name sort: no reorder for a state change
    assert model.order is order and model.agents["b"].rev == 2
    assert model.by_state == {"idle": 0, "blocked": 1, "working": 1}
    model.set_filter("state:working")
    assert model.order == ["b"]
    model.merge([agent_row("a", "working", rev=3)])  # joins the filtered view
    assert model.order == ["a", "b"]
    model.set_sort("state")
    model.merge([agent_row("c", "failed", rev=4)])
    model.set_filter("")
    assert model.order[0] == "c"


def test_inbox_model_resorts_only_when_the_order_can_change() -> None:
    model = InboxModel(visible_seconds=60.0)
    model.merge(
        [
            escalation_row("old", raised=1.0),
            escalation_row("new", raised=2.0),
            escalation_row("hot", "high"),
        ],
        now=10,
    )
    assert model.order == ["hot", "old", "new"]
    order = model.order
    model.merge([escalation_row("old", raised=1.0, title="retitled", rev=2)], now=10)
    assert model.order is order  # same place in the list: nothing to sort
    model.merge([escalation_row("old", raised=1.0, rev=3, decided=9.0)], now=10)
    assert model.order == ["hot", "new", "old"]  # decided: after the open ones
    model.set_filter("retitled")
    assert model.order == []
    model.merge([escalation_row("new", raised=2.0, title="retitled", rev=4)], now=10)
    assert model.order == ["new"]  # became visible under the filter
    model.set_filter("")
    model.expire(now=100.0)  # the decision aged out of the window
    assert model.order == ["hot", "new"]


async def test_models_poll_only_fetches_changes(swarm_store: Store) -> None:
    models = Models(swarm_store, clock=frozen)
    first = await models.poll()
    assert first.agents_changed and len(models.swarm.agents) == 12
    assert models.graph is not None and models.graph.name in ("release-42", "hotfix-7")
    again = await models.poll()
    assert not again.agents_changed and not again.inbox_changed
    await swarm_store.decide("esc-db", "approve", actor="x@y")
    after = await models.poll()
    assert after.inbox_changed and not after.agents_changed
    assert models.inbox.items["esc-db"].state == "decided"


async def test_severity_rise_needs_attention(swarm_store: Store) -> None:
    from swarmdeck.store.governance import set_escalation

    models = Models(swarm_store, clock=frozen)
    await models.poll()
    # A policy rule raising it (a re-raise by its source may not change what was shown).
    await set_escalation(
        swarm_store, "esc-db", actor="policy:x", action="policy.escalate", severity="critical"
    )
    result = await models.poll()
    assert [e.id for e in result.fresh] == ["esc-db"]


async def test_workflow_pane_follows_live_work_until_pinned(tmp_path: Path) -> None:
    """After a restart the freshest workflow may be an abandoned one: follow the live one."""
    from tests.helpers import ev

    async with await Store.open(tmp_path / "wf.db") as store:
        await store.append(
            [
                ev("task.created", task="N1", workflow="new", data={"title": "n"}, offset=1),
                ev("task.started", task="N1", workflow="new", agent="a", offset=2),
                ev("task.created", task="O1", workflow="old", data={"title": "o"}, offset=3),
                ev("task.failed", task="O1", workflow="old", data={"error": "abandoned"}, offset=4),
            ],
            origin="demo",
        )
        models = Models(store, clock=frozen)
        await models.poll(force_workflow=True)
        assert models.workflows[0].name == "old"  # the most recently updated
        assert models.workflow_name == "new"  # but the pane shows where work is happening
        await models.select_workflow("old")
        await models.poll(force_workflow=True)
        assert models.workflow_name == "old"  # the manager's choice sticks
