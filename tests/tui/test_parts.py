"""The TUI's plain parts: themes, the models, the graph layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.theme import Theme

from swarmdeck.store.db import Store
from swarmdeck.store.models import Agent, Workflow, WorkflowNode
from swarmdeck.tui.model import Filter, Models, SwarmModel
from swarmdeck.tui.themes import DEFAULT_THEME, VARIABLE_DEFAULTS, load_themes, parse_theme
from swarmdeck.tui.widgets.graph import draw, layout
from tests.tui.conftest import AppFactory, frozen


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
        assert [str(n.message) for n in app._notifications] == [
            "theme 'no-such-theme' not found; using swarmdeck-dark"
        ]


def _agent(name: str, state: str = "idle", role: str = "coder", rev: int = 1) -> Agent:
    return Agent(name, role, None, None, state, "", None, None, 0.0, 0.0, 0, 0, 0, 0.0, "demo", rev)


def test_filter_parse() -> None:
    f = Filter.parse("state:blocked role:cod !idle build")
    assert f.terms == (("state", "blocked", False), ("role", "cod", False))
    assert f.words == (("idle", True), ("build", False))
    assert f.matches({"state": "blocked", "role": "coder"}, "x build")
    assert not f.matches({"state": "blocked", "role": "coder"}, "idle build")
    assert not Filter.parse("  ")


def test_swarm_model_incremental() -> None:
    model = SwarmModel()
    model.merge([_agent("b"), _agent("a", "blocked")])
    assert model.order == ["a", "b"]
    assert model.take_changes() == (True, {"a", "b"})
    model.merge([_agent("b", "working", rev=2)])  # name sort: no reorder for a state change
    assert model.take_changes() == (False, {"b"})
    assert model.by_state == {"idle": 0, "blocked": 1, "working": 1}
    model.set_filter("state:working")
    assert model.order == ["b"]
    model.merge([_agent("a", "working", rev=3)])  # joins the filtered view
    assert model.order == ["a", "b"]
    model.set_sort("state")
    model.merge([_agent("c", "failed", rev=4)])
    model.set_filter("")
    assert model.order[0] == "c"


async def test_models_poll_only_fetches_changes(store: Store) -> None:
    models = Models(store, clock=frozen)
    first = await models.poll()
    assert first.agents_changed and len(models.swarm.agents) == 12
    assert models.graph is not None and models.graph.name in ("release-42", "hotfix-7")
    again = await models.poll()
    assert not again.agents_changed and not again.inbox_changed
    await store.decide("esc-db", "approve", actor="x@y")
    after = await models.poll()
    assert after.inbox_changed and not after.agents_changed
    assert models.inbox.items["esc-db"].state == "decided"


def _wf(nodes: list[str], edges: list[tuple[str, str]], gate: str = "") -> Workflow:
    return Workflow(
        "w",
        [
            WorkflowNode(n, n, None, n == gate, "failed" if n == "b" else "pending", None, n)
            for n in nodes
        ],
        edges,
        True,
        0.0,
        1,
    )


def test_layout_layers_and_dummies() -> None:
    lay = layout(_wf(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]))
    layers = [[p.id for p in items if p.node is not None] for items in lay.layers]
    assert layers == [["a"], ["b"], ["c"], ["d"]]
    assert sum(1 for items in lay.layers for p in items if p.node is None) == 1  # a -> c skips b
    assert all(lay.by_id[s].layer + 1 == lay.by_id[d].layer for s, d in lay.edges)


def test_layout_tolerates_cycles() -> None:
    lay = layout(_wf(["a", "b"], [("a", "b"), ("b", "a")]))
    assert sorted(p.id for items in lay.layers for p in items) == ["a", "b"]


def test_draw_box_chars_and_ascii() -> None:
    wf = _wf(["a", "b", "c"], [("a", "b"), ("a", "c")], gate="c")
    canvas = draw(layout(wf), False, "a")
    text = "\n".join("".join(row) for row in canvas.chars)
    assert "╭" in text and "▶" in text and "╔" in text and "GATE c" in text
    assert "✗ b" in text  # failed node: symbol, not only colour
    ascii_text = "\n".join("".join(row) for row in draw(layout(wf), True, "a").chars)
    assert ascii_text.isascii()
    assert ">" in ascii_text and "x b" in ascii_text


async def test_severity_rise_needs_attention(store: Store) -> None:
    from swarmdeck.store.events import make_event
    from tests.tui.swarm_data import T0

    models = Models(store, clock=frozen)
    await models.poll()
    raised = make_event(
        "escalation.raised", id="r2", source="demo", ts=T0, agent="coder-1",
        data={"id": "esc-db", "kind": "question", "title": "Which database for the cache?",
              "severity": "critical"},
    )  # fmt: skip
    await store.append([raised], origin="demo")
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


def test_wide_labels_keep_every_row_exactly_canvas_wide() -> None:
    """CJK and emoji labels take two cells each: boxes and edges must not shift."""
    from dataclasses import replace

    from rich.cells import cell_len

    wf = _wf(["a", "b"], [("a", "b")])
    wide = replace(wf, nodes=[replace(n, label="漢字漢字漢字 wide 🚀 label") for n in wf.nodes])
    canvas = draw(layout(wide), False, "a")
    for row in canvas.chars:
        assert cell_len("".join(row)) == canvas.width
    text = "\n".join("".join(row) for row in canvas.chars)
    assert "漢字" in text
    assert "▶" in text  # the edge between the two boxes survives
