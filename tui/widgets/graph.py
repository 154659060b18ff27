"""The workflow pane: a layered DAG drawn with box-drawing characters.

Layout is a small Sugiyama: nodes get a layer by longest path from the sources
(cycles are tolerated: their back edges are drawn but do not push layers), edges
that skip layers get dummy nodes so every edge joins adjacent layers, and a couple
of barycentre sweeps order each layer to reduce crossings. Layers run left to right;
each node is a 3-line box with its state symbol (readable without colour), human
gates have a double border, and the edges are routed through channels between the
layers on a canvas of line bits, so joins and crossings get the right character.

At narrow widths the same graph is shown as a compact list, one node a line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from swarmdeck.store.models import Workflow, WorkflowNode
from swarmdeck.tui.render import NODE_SYMBOLS, fit, symbol
from swarmdeck.tui.safe_text import clean

BOX_W = 18
BOX_H = 3
GAP = 6
ROW_GAP = 1
NARROW = 60

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
_LINES = {
    UP | DOWN: "│",
    LEFT | RIGHT: "─",
    DOWN | RIGHT: "╭",
    DOWN | LEFT: "╮",
    UP | RIGHT: "╰",
    UP | LEFT: "╯",
    UP | DOWN | RIGHT: "├",
    UP | DOWN | LEFT: "┤",
    LEFT | RIGHT | DOWN: "┬",
    LEFT | RIGHT | UP: "┴",
    UP | DOWN | LEFT | RIGHT: "┼",
    UP: "│",
    DOWN: "│",
    LEFT: "─",
    RIGHT: "─",
}
_ASCII_LINES = {
    bits: ("|" if ch == "│" else "-" if ch == "─" else "+") for bits, ch in _LINES.items()
}


@dataclass
class Placed:
    id: str
    layer: int
    slot: int = 0
    node: WorkflowNode | None = None  # None: a dummy carrying an edge across a layer

    @property
    def x(self) -> int:
        return self.layer * (BOX_W + GAP)

    @property
    def y(self) -> int:
        return self.slot * (BOX_H + ROW_GAP)


@dataclass
class Layout:
    layers: list[list[Placed]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # between adjacent items
    by_id: dict[str, Placed] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    depends: dict[str, list[str]] = field(default_factory=dict)


def layout(workflow: Workflow) -> Layout:
    """Assign layers and slots to the workflow's nodes (pure; tested on its own)."""
    ids = [n.id for n in workflow.nodes]
    nodes = {n.id: n for n in workflow.nodes}
    preds: dict[str, list[str]] = {i: [] for i in ids}
    succs: dict[str, list[str]] = {i: [] for i in ids}
    # Edges in node-declaration order: the same graph always draws the same way, whatever
    # order the store returns its edges in.
    declared = {n: k for k, n in enumerate(ids)}
    edges = sorted(
        {(s, d) for s, d in workflow.edges if s in nodes and d in nodes},
        key=lambda e: (declared[e[0]], declared[e[1]]),
    )
    for src, dst in edges:
        if src in nodes and dst in nodes and src != dst:
            succs[src].append(dst)
            preds[dst].append(src)
    # Kahn's order; what a cycle leaves behind is appended in declaration order.
    indeg = {i: len(preds[i]) for i in ids}
    order: list[str] = [i for i in ids if indeg[i] == 0]
    seen = set(order)
    k = 0
    while k < len(order):
        for nxt in succs[order[k]]:
            indeg[nxt] -= 1
            if indeg[nxt] == 0 and nxt not in seen:
                seen.add(nxt)
                order.append(nxt)
        k += 1
    order += [i for i in ids if i not in seen]
    position = {i: n for n, i in enumerate(order)}
    layer: dict[str, int] = {}
    for i in order:
        layer[i] = max(
            (layer[p] + 1 for p in preds[i] if p in layer and position[p] < position[i]),
            default=0,
        )
    out = Layout(depends={i: preds[i] for i in ids})
    count = max(layer.values(), default=-1) + 1
    out.layers = [[] for _ in range(count)]
    for i in order:
        placed = Placed(i, layer[i], node=nodes[i])
        out.layers[layer[i]].append(placed)
        out.by_id[i] = placed
    dummy = 0
    for src, dst in edges:
        if src not in layer or dst not in layer or src == dst:
            continue
        a, b = layer[src], layer[dst]
        if b <= a:
            continue  # a back edge in a cycle: shown in the node's dependency list only
        prev = src
        for mid in range(a + 1, b):
            dummy += 1
            did = f"\x00{dummy}"
            placed = Placed(did, mid)
            out.layers[mid].append(placed)
            out.by_id[did] = placed
            out.edges.append((prev, did))
            prev = did
        out.edges.append((prev, dst))
    # Barycentre sweeps: order each layer by the mean slot of its neighbours.
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for src, dst in out.edges:
        down.setdefault(src, []).append(dst)
        up.setdefault(dst, []).append(src)
    for _sweep in range(2):
        for li in range(1, count):
            rank = {p.id: n for n, p in enumerate(out.layers[li - 1])}
            out.layers[li].sort(key=lambda p: _bary(up.get(p.id, []), rank, p.slot))
            for n, p in enumerate(out.layers[li]):
                p.slot = n
        for li in range(count - 2, -1, -1):
            rank = {p.id: n for n, p in enumerate(out.layers[li + 1])}
            out.layers[li].sort(key=lambda p: _bary(down.get(p.id, []), rank, p.slot))
            for n, p in enumerate(out.layers[li]):
                p.slot = n
    for li, items in enumerate(out.layers):
        for n, p in enumerate(items):
            p.slot = n
            p.layer = li
    tallest = max((len(items) for items in out.layers), default=0)
    out.width = max(0, count * (BOX_W + GAP) - GAP)
    out.height = max(0, tallest * (BOX_H + ROW_GAP) - ROW_GAP)
    return out


def _bary(neigh: list[str], rank: dict[str, int], fallback: int) -> float:
    values = [rank[n] for n in neigh if n in rank]
    return sum(values) / len(values) if values else float(fallback)


class Canvas:
    """Characters and style names on a grid; line cells keep direction bits."""

    def __init__(self, width: int, height: int, ascii_only: bool) -> None:
        self.width = width
        self.height = height
        self.ascii_only = ascii_only
        self.chars = [[" "] * width for _ in range(height)]
        self.styles: list[list[str]] = [[""] * width for _ in range(height)]
        self.bits: dict[tuple[int, int], int] = {}

    def put(self, x: int, y: int, text: str, style: str) -> None:
        """Write ``text`` from cell ``x``; a double-width character takes two cells.

        The second cell of a wide character holds "" so that joining a row gives a
        string exactly ``width`` cells wide (agent labels may be CJK or emoji).
        """
        from rich.cells import get_character_cell_size

        if not 0 <= y < self.height:
            return
        cell = x
        for ch in text:
            size = get_character_cell_size(ch)
            if size == 0:
                continue
            if cell >= 0 and cell + size <= self.width:
                self.chars[y][cell] = ch
                self.styles[y][cell] = style
                if size == 2:
                    self.chars[y][cell + 1] = ""
                    self.styles[y][cell + 1] = style
            cell += size

    def line_bits(self, x: int, y: int, bits: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.bits[(x, y)] = self.bits.get((x, y), 0) | bits

    def hline(self, x0: int, x1: int, y: int) -> None:
        """A horizontal run from x0 to x1 inclusive, joined at both ends."""
        if x1 < x0:
            x0, x1 = x1, x0
        for x in range(x0, x1 + 1):
            self.line_bits(x, y, (LEFT if x > x0 else 0) | (RIGHT if x < x1 else 0))

    def vline(self, x: int, y0: int, y1: int) -> None:
        if y1 < y0:
            y0, y1 = y1, y0
        for y in range(y0, y1 + 1):
            self.line_bits(x, y, (UP if y > y0 else 0) | (DOWN if y < y1 else 0))

    def finish(self) -> None:
        table = _ASCII_LINES if self.ascii_only else _LINES
        for (x, y), bits in self.bits.items():
            if self.chars[y][x] == " " and bits:
                self.chars[y][x] = table.get(bits, "+")
                self.styles[y][x] = "edge"


def short_id(node_id: str, workflow: str) -> str:
    """``release-42.plan`` reads as ``plan`` inside the release-42 graph."""
    for sep in (".", "/", ":"):
        prefix = workflow + sep
        if node_id.startswith(prefix) and len(node_id) > len(prefix):
            return node_id[len(prefix) :]
    return node_id


def draw(lay: Layout, ascii_only: bool, cursor: str | None, workflow: str = "") -> Canvas:
    canvas = Canvas(lay.width, lay.height, ascii_only)
    # Edges first (as bits), boxes on top, then the bits become characters.
    gaps: dict[int, list[str]] = {}
    for src, _dst in lay.edges:
        layer = lay.by_id[src].layer
        if src not in gaps.setdefault(layer, []):
            gaps[layer].append(src)
    arrow = ">" if ascii_only else "▶"
    for src, dst in lay.edges:
        a, b = lay.by_id[src], lay.by_id[dst]
        gap_start = a.x + BOX_W
        channel = gap_start + 1 + gaps[a.layer].index(src) % (GAP - 3)
        y1 = _port(a)
        y2 = _port(b)
        canvas.hline(gap_start, channel, y1)
        canvas.vline(channel, y1, y2)
        end = b.x - 1
        if b.node is None:
            canvas.hline(channel, b.x, y2)
        else:
            canvas.hline(channel, end - 1, y2)
            canvas.line_bits(end - 1, y2, RIGHT)
            canvas.put(end, y2, arrow, "edge")
    for items in lay.layers:
        for p in items:
            if p.node is None:
                canvas.hline(p.x, p.x + BOX_W - 1, _port(p))
                continue
            _box(canvas, p, ascii_only, cursor == p.id, workflow)
    canvas.finish()
    return canvas


def _port(p: Placed) -> int:
    """The row an edge leaves or enters by: a box's middle; a dummy's lower row, so a long
    edge passing through never lines up with the exit of the box drawn in its slot before."""
    return p.y + (1 if p.node is not None else 2)


def _box(canvas: Canvas, p: Placed, ascii_only: bool, selected: bool, workflow: str) -> None:
    node = p.node
    assert node is not None
    state = node.state
    style = f"node-{state}" + (" cursor" if selected else "")
    if node.gate:
        tl, tr, bl, br, h, v = ("+", "+", "+", "+", "=", "‖") if ascii_only else "╔╗╚╝═║"
        if ascii_only:
            v = "|"
    else:
        tl, tr, bl, br, h, v = ("+", "+", "+", "+", "-", "|") if ascii_only else "╭╮╰╯─│"
    inner = BOX_W - 2
    label_id = clean(short_id(node.id, workflow), max_len=60)
    top_text = f"{h} {label_id} " if not node.gate else f"{h} GATE {label_id} "
    top = tl + _pad_line(top_text, inner, h) + tr
    sym = symbol(NODE_SYMBOLS, state, ascii_only)
    label = clean(node.label or node.id, max_len=200, single_line=True)
    mid = v + fit(f"{sym} {label}", inner) + v
    who = clean(node.assignee or node.role or "", max_len=60)
    tail = f" {state} "
    bottom_inner = _pad_line(f" {who} " if who else "", inner - len(tail), h) + tail
    bottom = bl + fit(bottom_inner, inner) + br
    canvas.put(p.x, p.y, top, style)
    canvas.put(p.x, p.y + 1, mid, style)
    canvas.put(p.x, p.y + 2, bottom, style)


def _pad_line(text: str, width: int, fill: str) -> str:
    if width <= 0:
        return ""
    from rich.cells import cell_len

    if cell_len(text) > width:
        return fit(text, width)
    return text + fill * (width - cell_len(text))


class WorkflowGraph(ScrollView, can_focus=True):
    """The selected workflow as a DAG (wide) or a compact list (narrow)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "graph--edge",
        "graph--cursor",
        "graph--cursor-blurred",
        "graph--gate",
        "graph--empty",
        "node--pending",
        "node--running",
        "node--blocked",
        "node--failed",
        "node--done",
    }
    DEFAULT_CSS = """
    WorkflowGraph { background: $surface; scrollbar-size-vertical: 1; overflow-x: hidden; }
    WorkflowGraph > .graph--edge { color: $text-muted; }
    WorkflowGraph > .graph--cursor { text-style: reverse bold; }
    WorkflowGraph > .graph--cursor-blurred { text-style: bold underline; }
    WorkflowGraph > .graph--gate { color: $gate; }
    WorkflowGraph > .graph--empty { color: $text-muted; }
    WorkflowGraph > .node--pending { color: $node-pending; }
    WorkflowGraph > .node--running { color: $node-running; }
    WorkflowGraph > .node--blocked { color: $node-blocked; text-style: bold; }
    WorkflowGraph > .node--failed { color: $node-failed; text-style: bold; }
    WorkflowGraph > .node--done { color: $node-done; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l,right", "move(1, 0)", "Next step", show=False, id="graph.right"),
        Binding("h,left", "move(-1, 0)", "Previous step", show=False, id="graph.left"),
        Binding("j,down", "move(0, 1)", "Down", show=False, id="graph.down"),
        Binding("k,up", "move(0, -1)", "Up", show=False, id="graph.up"),
        Binding("enter", "details", "Task", id="graph.details"),
        Binding("r", "retry", "Retry", id="graph.retry"),
        Binding("w", "next_workflow", "Next workflow", id="graph.next_workflow"),
    ]

    class NodeSelected(Message):
        def __init__(self, node: WorkflowNode) -> None:
            super().__init__()
            self.node = node

    class RetryRequested(Message):
        def __init__(self, node: WorkflowNode) -> None:
            super().__init__()
            self.node = node

    class NextWorkflow(Message):
        pass

    def __init__(self, *, clock: Callable[[], float]) -> None:
        super().__init__(id="workflow-graph")
        self.clock = clock
        self.workflow: Workflow | None = None
        self.lay: Layout | None = None
        self.cursor: str | None = None
        self.ascii_only = False
        self.read_only = False
        self._lines: list[list[tuple[str, str]]] = []
        self._strips: dict[int, Strip] = {}
        self._compact_rows: list[str] = []

    @property
    def lay_name(self) -> str:
        return self.workflow.name if self.workflow is not None else ""

    @property
    def compact(self) -> bool:
        return self.size.width < NARROW

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return not (action == "retry" and self.read_only)

    def set_workflow(self, workflow: Workflow | None) -> None:
        self.workflow = workflow
        self.lay = layout(workflow) if workflow is not None else None
        real = self.real_nodes()
        if real and (self.cursor is None or self.cursor not in {n.id for n in real}):
            self.cursor = real[0].id
        if not real:
            self.cursor = None
        self.rebuild()

    def real_nodes(self) -> list[WorkflowNode]:
        if self.lay is None:
            return []
        return [p.node for items in self.lay.layers for p in items if p.node is not None]

    def rebuild(self) -> None:
        self._strips.clear()
        if self.workflow is None or self.lay is None:
            self._lines = [
                [("No workflow yet: tasks and workflow.defined events draw one.", "empty")]
            ]
        elif self.compact:
            self._lines = self._compact_lines(max(10, self.size.width - 1))
        else:
            canvas = draw(self.lay, self.ascii_only, self.cursor, self.workflow.name)
            self._lines = [_runs(canvas.chars[y], canvas.styles[y]) for y in range(canvas.height)]
        longest = max((sum(cell_len(t) for t, _ in line) for line in self._lines), default=0)
        self.virtual_size = Size(max(longest, 1), len(self._lines))
        self.refresh()
        self._scroll_cursor_into_view()

    def _compact_lines(self, width: int) -> list[list[tuple[str, str]]]:
        assert self.lay is not None
        lines: list[list[tuple[str, str]]] = []
        self._compact_rows = []
        for li, items in enumerate(self.lay.layers):
            real = [p for p in items if p.node is not None]
            if not real:
                continue
            head = f"─ step {li + 1} " if not self.ascii_only else f"- step {li + 1} "
            rule = "─" if not self.ascii_only else "-"
            lines.append([(head + rule * max(0, width - len(head)), "edge")])
            self._compact_rows.append("")
            for p in real:
                node = p.node
                assert node is not None
                sym = symbol(NODE_SYMBOLS, node.state, self.ascii_only)
                gate = "◆" if node.gate and not self.ascii_only else "G" if node.gate else " "
                deps = self.lay.depends.get(node.id, [])
                after = (
                    f" ← {','.join(clean(short_id(d, self.lay_name), max_len=30) for d in deps)}"
                    if deps
                    else ""
                )
                label = clean(node.label or node.id, max_len=200, single_line=True)
                shown = clean(short_id(node.id, self.lay_name), max_len=40)
                left = f"{sym}{gate}{shown} {label}{after}"
                state = f" {node.state}"
                style = f"node-{node.state}" + (" cursor" if node.id == self.cursor else "")
                lines.append([(fit(left, max(1, width - len(state))) + state, style)])
                self._compact_rows.append(node.id)
        return lines

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(index)
        if strip is None:
            segments = [Segment(text, self._style(name)) for text, name in self._lines[index]]
            strip = Strip(segments).simplify()
            self._strips[index] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _style(self, names: str) -> Style:
        style = self.rich_style
        for name in names.split():
            if name == "edge":
                style += self.get_component_rich_style("graph--edge")
            elif name == "empty":
                style += self.get_component_rich_style("graph--empty")
            elif name == "cursor":
                style += self.get_component_rich_style(
                    "graph--cursor" if self.has_focus else "graph--cursor-blurred"
                )
            elif name.startswith("node-"):
                style += self.get_component_rich_style(f"node--{name[5:]}", default=Style())
        return style

    def on_resize(self) -> None:
        self.rebuild()

    def on_focus(self) -> None:
        self._strips.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._strips.clear()
        self.refresh()

    def _scroll_cursor_into_view(self) -> None:
        if self.cursor is None or self.lay is None:
            return
        if self.compact:
            if self.cursor in self._compact_rows:
                y = self._compact_rows.index(self.cursor)
                self.scroll_to_region(Region(0, y, 1, 1), animate=False, immediate=True)
            return
        p = self.lay.by_id.get(self.cursor)
        if p is not None:
            self.scroll_to_region(
                Region(p.x, p.y, BOX_W, BOX_H), animate=False, immediate=True, force=True
            )

    def action_move(self, dx: int, dy: int) -> None:
        if self.lay is None or self.cursor is None:
            return
        if self.compact:
            order = [n for n in self._compact_rows if n]
            i = order.index(self.cursor) if self.cursor in order else 0
            i = max(0, min(len(order) - 1, i + (dx or dy)))
            self.cursor = order[i]
            self.rebuild()
            return
        p = self.lay.by_id[self.cursor]
        if dy:
            column = [q for q in self.lay.layers[p.layer] if q.node is not None]
            i = column.index(p) + dy
            if 0 <= i < len(column):
                self.cursor = column[i].id
        else:
            li = p.layer + dx
            while 0 <= li < len(self.lay.layers):
                column = [q for q in self.lay.layers[li] if q.node is not None]
                if column:
                    self.cursor = min(column, key=lambda q: abs(q.slot - p.slot)).id
                    break
                li += dx
        self.rebuild()

    def current_node(self) -> WorkflowNode | None:
        for node in self.real_nodes():
            if node.id == self.cursor:
                return node
        return None

    def action_details(self) -> None:
        node = self.current_node()
        if node is not None:
            self.post_message(self.NodeSelected(node))

    def action_retry(self) -> None:
        node = self.current_node()
        if node is not None:
            self.post_message(self.RetryRequested(node))

    def action_next_workflow(self) -> None:
        self.post_message(self.NextWorkflow())


def _runs(chars: list[str], styles: list[str]) -> list[tuple[str, str]]:
    runs: list[tuple[str, str]] = []
    start = 0
    for x in range(1, len(chars) + 1):
        if x == len(chars) or styles[x] != styles[start]:
            runs.append(("".join(chars[start:x]), styles[start]))
            start = x
    return runs
