"""A laid-out workflow as lines of styled text: boxes and edges, or a compact list.

Wide: each node is a 3-line box with its state symbol (readable without colour), human
gates have a double border, and edges are drawn on a canvas of line bits, so joins and
crossings get the right character. Narrow: one node a line under a rule per step.

A line is a list of runs ``(text, style names)``; the names (``edge``, ``empty``,
``cursor``, ``node-<state>``) are the widget's component classes, so this module never
needs a theme or Textual.
"""

from __future__ import annotations

from rich.cells import cell_len, get_character_cell_size

from swarmdeck.tui.presentation.graph_layout import Layout, Placed
from swarmdeck.tui.render import NODE_SYMBOLS, fit, symbol
from swarmdeck.tui.safe_text import clean

Run = tuple[str, str]
Line = list[Run]

EMPTY = "No workflow yet: tasks and workflow.defined events draw one."

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

    def lines(self) -> list[Line]:
        """Each row as runs of equal style."""
        return [_runs(self.chars[y], self.styles[y]) for y in range(self.height)]


def short_id(node_id: str, workflow: str) -> str:
    """``release-42.plan`` reads as ``plan`` inside the release-42 graph."""
    for sep in (".", "/", ":"):
        prefix = workflow + sep
        if node_id.startswith(prefix) and len(node_id) > len(prefix):
            return node_id[len(prefix) :]
    return node_id


def draw(lay: Layout, ascii_only: bool, cursor: str | None, workflow: str = "") -> Canvas:
    """The wide view: boxes and routed edges on a canvas ``lay.width`` by ``lay.height``."""
    canvas = Canvas(lay.width, lay.height, ascii_only)
    # Edges first (as bits), boxes on top, then the bits become characters.
    arrow = ">" if ascii_only else "▶"
    for r in lay.routes:
        canvas.hline(r.x_from, r.channel, r.y_from)
        canvas.vline(r.channel, r.y_from, r.y_to)
        if r.arrow:
            canvas.hline(r.channel, r.x_to - 2, r.y_to)
            canvas.line_bits(r.x_to - 2, r.y_to, RIGHT)
            canvas.put(r.x_to - 1, r.y_to, arrow, "edge")
        else:
            canvas.hline(r.channel, r.x_to, r.y_to)
    for items in lay.layers:
        for p in items:
            if p.node is None:
                canvas.hline(p.x, p.x + p.box_w - 1, p.port)
                continue
            _box(canvas, p, ascii_only, cursor == p.id, workflow)
    canvas.finish()
    return canvas


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
    inner = p.box_w - 2
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
    if cell_len(text) > width:
        return fit(text, width)
    return text + fill * (width - cell_len(text))


def compact_lines(
    lay: Layout, width: int, ascii_only: bool, cursor: str | None, workflow: str = ""
) -> tuple[list[Line], list[str]]:
    """The narrow view: a rule per step, then one line per node with its dependencies.

    Returns the lines and, for each line, the node id it shows ("" for a rule), which
    is how the widget moves its cursor and scrolls in this view.
    """
    lines: list[Line] = []
    rows: list[str] = []
    for li, items in enumerate(lay.layers):
        real = [p.node for p in items if p.node is not None]
        if not real:
            continue
        head = f"─ step {li + 1} " if not ascii_only else f"- step {li + 1} "
        rule = "─" if not ascii_only else "-"
        lines.append([(head + rule * max(0, width - len(head)), "edge")])
        rows.append("")
        for node in real:
            sym = symbol(NODE_SYMBOLS, node.state, ascii_only)
            gate = "◆" if node.gate and not ascii_only else "G" if node.gate else " "
            deps = lay.depends.get(node.id, [])
            after = (
                f" ← {','.join(clean(short_id(d, workflow), max_len=30) for d in deps)}"
                if deps
                else ""
            )
            label = clean(node.label or node.id, max_len=200, single_line=True)
            shown = clean(short_id(node.id, workflow), max_len=40)
            label = "" if label == shown else f" {label}"  # "plan plan" says it once
            left = f"{sym}{gate}{shown}{label}{after}"
            state = f" {node.state}"
            style = f"node-{node.state}" + (" cursor" if node.id == cursor else "")
            lines.append([(fit(left, max(1, width - len(state))) + state, style)])
            rows.append(node.id)
    return lines, rows


def empty_lines() -> list[Line]:
    return [[(EMPTY, "empty")]]


def line_width(lines: list[Line]) -> int:
    """Cells of the longest line: the widget's virtual width."""
    return max((sum(cell_len(t) for t, _ in line) for line in lines), default=0)


def _runs(chars: list[str], styles: list[str]) -> list[Run]:
    runs: list[Run] = []
    start = 0
    for x in range(1, len(chars) + 1):
        if x == len(chars) or styles[x] != styles[start]:
            runs.append(("".join(chars[start:x]), styles[start]))
            start = x
    return runs
