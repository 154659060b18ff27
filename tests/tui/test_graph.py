"""The workflow graph's pure parts: layout, edge routes, cursor moves and drawing.

None of these needs an App: a Workflow goes in, positions or lines of text come out.
"""

from __future__ import annotations

from dataclasses import replace

from rich.cells import cell_len

from swarmdeck.store.models import Workflow, WorkflowNode
from swarmdeck.tui.presentation.graph_draw import compact_lines, draw, short_id
from swarmdeck.tui.presentation.graph_layout import (
    BOX_W,
    GAP,
    MAX_BOX_W,
    box_width,
    layout,
    neighbour,
)


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


def test_wide_labels_keep_every_row_exactly_canvas_wide() -> None:
    """CJK and emoji labels take two cells each: boxes and edges must not shift."""
    wf = _wf(["a", "b"], [("a", "b")])
    wide = replace(wf, nodes=[replace(n, label="漢字漢字漢字 wide 🚀 label") for n in wf.nodes])
    canvas = draw(layout(wide), False, "a")
    for row in canvas.chars:
        assert cell_len("".join(row)) == canvas.width
    text = "\n".join("".join(row) for row in canvas.chars)
    assert "漢字" in text
    assert "▶" in text  # the edge between the two boxes survives


def _lines(wf: Workflow, box_w: int = BOX_W) -> list[str]:
    return ["".join(row).rstrip() for row in draw(layout(wf, box_w), False, None).chars]


def _gap(lines: list[str], layer: int, box_w: int = BOX_W) -> list[str]:
    """The cells of the gap after ``layer`` on each line (where edges turn)."""
    start = layer * (box_w + GAP) + box_w
    return [line[start : start + GAP].ljust(GAP) for line in lines]


def test_routes_leave_and_enter_by_the_ports() -> None:
    lay = layout(_wf(["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    assert len(lay.routes) == 4
    for route, (src, dst) in zip(lay.routes, lay.edges, strict=True):
        a, b = lay.by_id[src], lay.by_id[dst]
        assert (route.x_from, route.y_from) == (a.x + BOX_W, a.port)
        assert (route.x_to, route.y_to) == (b.x, b.port)
        assert route.x_from < route.channel < route.x_to
        assert route.arrow


def test_a_four_way_fan_in_is_one_bus_into_the_middle() -> None:
    """Four sources into one target: one channel, the target beside the middle of the bus
    (it used to read "─┬┬┬─▶" / "─┼┴┼─▶": a channel per source, crossing each other)."""
    lines = _lines(_wf(["a", "b", "c", "d", "t"], [(x, "t") for x in "abcd"]))
    gap = _gap(lines, 0)
    assert [g for g in gap if g.strip()] == [
        "─╮    ", " │    ", " │    ", " │    ",
        "─┼───▶", " │    ", " │    ", " │    ",
        "─┤    ", " │    ", " │    ", " │    ",
        "─╯    ",
    ]  # fmt: skip
    assert "○ t" in lines[gap.index("─┼───▶")]  # the arrow points at the target's label row


def test_fan_out_then_every_source_to_every_target_share_a_bus() -> None:
    """The demo's shape: a plan fans out to four codes, each feeding review and test."""
    codes = [f"code-{i}" for i in range(1, 5)]
    edges = [("plan", c) for c in codes] + [(c, t) for c in codes for t in ("review", "test")]
    lines = _lines(_wf(["plan", *codes, "review", "test"], edges))
    for layer in (0, 1):
        gap = _gap(lines, layer)
        columns = {i for g in gap for i, ch in enumerate(g) if ch in "│╮╯┤├┼┬┴╭╰"}
        assert len(columns) == 1, gap  # one bus, no second channel beside it
        assert not any(g.count("▶") > 1 for g in gap)
    plan_row = next(i for i, line in enumerate(lines) if "○ plan" in line)
    middle = [i for i, line in enumerate(lines) if "○ code-2" in line or "○ code-3" in line]
    assert middle[0] <= plan_row <= middle[1]  # the plan sits beside the middle of its fan


def test_sources_that_feed_different_targets_keep_their_own_channels() -> None:
    """a feeds x and y, b only y: one bus would say b feeds x too."""
    lay = layout(_wf(["a", "b", "x", "y"], [("a", "x"), ("a", "y"), ("b", "y")]))
    channel = {edge: r.channel for r, edge in zip(lay.routes, lay.edges, strict=True)}
    assert channel[("a", "x")] == channel[("a", "y")] != channel[("b", "y")]


def test_boxes_widen_to_use_the_pane() -> None:
    wf = replace(
        _wf(["a", "b"], [("a", "b")]),
        nodes=[
            WorkflowNode("a", "plan the whole release", "planner", False, "blocked", None, "a"),
            WorkflowNode("b", "b", None, False, "pending", None, "b"),
        ],
    )
    assert box_width(wf, 40, 2) == BOX_W  # no room: the narrowest box, labels cut
    wide = box_width(wf, 200, 2)
    assert BOX_W < wide <= MAX_BOX_W
    lines = _lines(wf, wide)
    assert "■ plan the whole release" in lines[1]
    assert "╰ planner ─" in lines[2] and "blocked ╯" in lines[2]  # not "plann… blocked"
    assert "…" not in lines[1] + lines[2]
    assert box_width(wf, 1000, 2) == len("plan the whole release") + 4  # no wider than needed


def test_a_dummy_carries_a_long_edge_without_an_arrow() -> None:
    lay = layout(_wf(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")]))
    dummies = [p for items in lay.layers for p in items if p.node is None]
    assert len(dummies) == 1
    [into_dummy] = [
        r for r, (_s, d) in zip(lay.routes, lay.edges, strict=True) if d == dummies[0].id
    ]
    assert not into_dummy.arrow
    assert dummies[0].port == dummies[0].y + 2  # the lower row: never a box's exit row


def test_cursor_moves_between_and_within_layers() -> None:
    lay = layout(_wf(["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    assert [p.id for p in lay.layers[1]] == ["b", "c"]
    assert neighbour(lay, "a", 1, 0) == "b"  # the nearest slot of the next layer
    assert neighbour(lay, "b", 0, 1) == "c"
    assert neighbour(lay, "c", 0, 1) == "c"  # the bottom of its layer: stays
    assert neighbour(lay, "c", 1, 0) == "d"
    assert neighbour(lay, "a", -1, 0) == "a"  # the left edge of the graph: stays


def test_cursor_skips_layers_holding_only_dummies() -> None:
    lay = layout(_wf(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")]))
    assert neighbour(lay, "a", 1, 0) == "b"
    assert neighbour(lay, "c", -1, 0) == "b"


def test_compact_lines_one_node_a_line_under_step_rules() -> None:
    wf = _wf(["w.a", "w.b", "w.c"], [("w.a", "w.b"), ("w.a", "w.c")], gate="w.c")
    lines, rows = compact_lines(layout(wf), 40, False, "w.b", "w")
    texts = ["".join(text for text, _style in line) for line in lines]
    assert rows == ["", "w.a", "", "w.b", "w.c"]
    assert texts[0].startswith("─ step 1 ") and len(texts[0]) == 40
    assert texts[3].startswith("○ b ") and texts[3].endswith(" pending")
    assert "← a" in texts[3]  # its dependency, by short id
    assert texts[4].startswith("○◆c ")  # a gate is marked
    assert lines[3][0][1] == "node-pending cursor" and lines[4][0][1] == "node-pending"
    ascii_lines, _ = compact_lines(layout(wf), 40, True, None, "w")
    ascii_texts = ["".join(text for text, _style in line) for line in ascii_lines]
    assert ascii_texts[0].startswith("- step 1 -") and ascii_texts[4].startswith("oGc ")


def test_short_id_drops_the_workflow_prefix() -> None:
    assert short_id("release-42.plan", "release-42") == "plan"
    assert short_id("release-42/plan", "release-42") == "plan"
    assert short_id("release-42.", "release-42") == "release-42."
    assert short_id("other.plan", "release-42") == "other.plan"
