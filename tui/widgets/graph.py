"""The workflow pane: the selected workflow as a DAG (wide) or a compact list (narrow).

The layout (:mod:`tui.presentation.graph_layout`) and the drawing
(:mod:`tui.presentation.graph_draw`) are pure functions; this widget keeps the cursor,
turns style names into the theme's styles, scrolls, and posts what the manager asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from swarmdeck.store.models import Workflow, WorkflowNode
from swarmdeck.tui.presentation.graph_draw import (
    Line,
    compact_lines,
    draw,
    empty_lines,
    line_width,
)
from swarmdeck.tui.presentation.graph_layout import (
    BOX_H,
    BOX_W,
    Layout,
    box_width,
    layout,
    neighbour,
)

#: Below this width the graph is shown as a list, one node a line.
NARROW = 60


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
        Binding("w", "pick_workflow", "Workflows…", id="graph.pick_workflow"),
    ]

    @dataclass
    class NodeSelected(Message):
        """Enter on a node: show its task."""

        graph: WorkflowGraph
        node: WorkflowNode

        @property
        def control(self) -> WorkflowGraph:
            return self.graph

    @dataclass
    class RetryRequested(Message):
        """``r`` on a node: retry its failed task."""

        graph: WorkflowGraph
        node: WorkflowNode

        @property
        def control(self) -> WorkflowGraph:
            return self.graph

    @dataclass
    class PickWorkflow(Message):
        """``w``: choose which workflow to show."""

        graph: WorkflowGraph

        @property
        def control(self) -> WorkflowGraph:
            return self.graph

    def __init__(self, *, clock: Callable[[], float]) -> None:
        super().__init__(id="workflow-graph")
        self.clock = clock
        self.workflow: Workflow | None = None
        self.lay: Layout | None = None
        self.cursor: str | None = None
        self.ascii_only = False
        self.read_only = False
        self._lines: list[Line] = []
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
        self.lay = self._layout(workflow)
        real = self.real_nodes()
        if real and (self.cursor is None or self.cursor not in {n.id for n in real}):
            self.cursor = real[0].id
        if not real:
            self.cursor = None
        self.rebuild()

    def _layout(self, workflow: Workflow | None) -> Layout | None:
        """The layout for the pane's width: boxes as wide as the labels need and the pane
        allows (at the narrowest a label is cut, and the pane scrolls)."""
        if workflow is None:
            return None
        lay = layout(workflow)
        width = box_width(workflow, self.size.width - 1, len(lay.layers))
        return lay if width == BOX_W else layout(workflow, width)

    def real_nodes(self) -> list[WorkflowNode]:
        return self.lay.real_nodes() if self.lay is not None else []

    def rebuild(self) -> None:
        self._strips.clear()
        if self.workflow is None or self.lay is None:
            self._lines = empty_lines()
        elif self.compact:
            self._lines, self._compact_rows = compact_lines(
                self.lay,
                max(10, self.size.width - 1),
                self.ascii_only,
                self.cursor,
                self.lay_name,
            )
        else:
            self._lines = draw(self.lay, self.ascii_only, self.cursor, self.workflow.name).lines()
        self.virtual_size = Size(max(line_width(self._lines), 1), len(self._lines))
        self.refresh()
        self._scroll_cursor_into_view()

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
        self.lay = self._layout(self.workflow)
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
                Region(p.x, p.y, p.box_w, BOX_H), animate=False, immediate=True, force=True
            )

    def action_move(self, dx: int, dy: int) -> None:
        if self.lay is None or self.cursor is None:
            return
        if self.compact:
            order = [n for n in self._compact_rows if n]
            i = order.index(self.cursor) if self.cursor in order else 0
            i = max(0, min(len(order) - 1, i + (dx or dy)))
            self.cursor = order[i]
        else:
            self.cursor = neighbour(self.lay, self.cursor, dx, dy)
        self.rebuild()

    def current_node(self) -> WorkflowNode | None:
        for node in self.real_nodes():
            if node.id == self.cursor:
                return node
        return None

    def action_details(self) -> None:
        node = self.current_node()
        if node is not None:
            self.post_message(self.NodeSelected(self, node))

    def action_retry(self) -> None:
        node = self.current_node()
        if node is not None:
            self.post_message(self.RetryRequested(self, node))

    def action_pick_workflow(self) -> None:
        self.post_message(self.PickWorkflow(self))
