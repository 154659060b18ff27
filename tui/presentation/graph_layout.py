"""Where each workflow node goes: a small Sugiyama layout, and the routes of its edges.

Nodes get a layer by longest path from the sources (cycles are tolerated: their back
edges are listed as dependencies but do not push layers), edges that skip layers get
dummy nodes so every edge joins adjacent layers, and a couple of barycentre sweeps
order each layer to reduce crossings. Layers run left to right. Each edge is then
routed through a channel column in the gap between its two layers.

Pure: a :class:`Workflow` in, positions in cells out; :mod:`graph_draw` turns them into
characters and the widget only scrolls and styles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmdeck.store.models import Workflow, WorkflowNode

BOX_W = 18
BOX_H = 3
GAP = 6
ROW_GAP = 1


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

    @property
    def port(self) -> int:
        """The row an edge leaves or enters by: a box's middle; a dummy's lower row, so a
        long edge passing through never lines up with the exit of the box drawn in its slot
        before."""
        return self.y + (1 if self.node is not None else 2)


@dataclass(frozen=True, slots=True)
class Route:
    """One edge between adjacent layers, in canvas cells.

    It leaves the source's right side at ``(x_from, y_from)``, runs right to the
    ``channel`` column, turns along it to ``y_to`` and runs right to ``x_to``, the
    target's left edge; ``arrow`` when the target is a real node (a dummy carries on).
    """

    x_from: int
    y_from: int
    channel: int
    x_to: int
    y_to: int
    arrow: bool


@dataclass
class Layout:
    layers: list[list[Placed]] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)  # between adjacent items
    by_id: dict[str, Placed] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    depends: dict[str, list[str]] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)

    def real_nodes(self) -> list[WorkflowNode]:
        """The workflow's nodes (no dummies), layer by layer, top to bottom."""
        return [p.node for items in self.layers for p in items if p.node is not None]


def layout(workflow: Workflow) -> Layout:
    """Assign layers and slots to the workflow's nodes and route its edges."""
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
        if src != dst:
            succs[src].append(dst)
            preds[dst].append(src)
    order = _topological(ids, preds, succs)
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
    _add_dummies(out, edges, layer)
    _sweep(out, count)
    tallest = max((len(items) for items in out.layers), default=0)
    out.width = max(0, count * (BOX_W + GAP) - GAP)
    out.height = max(0, tallest * (BOX_H + ROW_GAP) - ROW_GAP)
    out.routes = _routes(out)
    return out


def _topological(
    ids: list[str], preds: dict[str, list[str]], succs: dict[str, list[str]]
) -> list[str]:
    """Kahn's order; what a cycle leaves behind is appended in declaration order."""
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
    return order + [i for i in ids if i not in seen]


def _add_dummies(out: Layout, edges: list[tuple[str, str]], layer: dict[str, int]) -> None:
    """Split every edge that skips layers into one-layer hops through dummy nodes."""
    dummy = 0
    for src, dst in edges:
        if src == dst:
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


def _sweep(out: Layout, count: int) -> None:
    """Barycentre sweeps: order each layer by the mean slot of its neighbours."""
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


def _bary(neigh: list[str], rank: dict[str, int], fallback: int) -> float:
    values = [rank[n] for n in neigh if n in rank]
    return sum(values) / len(values) if values else float(fallback)


def _routes(lay: Layout) -> list[Route]:
    """Each source gets its own channel column in the gap after its layer, so edges from
    different boxes run side by side instead of merging into one line."""
    sources: dict[int, list[str]] = {}
    for src, _dst in lay.edges:
        in_gap = sources.setdefault(lay.by_id[src].layer, [])
        if src not in in_gap:
            in_gap.append(src)
    routes: list[Route] = []
    for src, dst in lay.edges:
        a, b = lay.by_id[src], lay.by_id[dst]
        gap_start = a.x + BOX_W
        channel = gap_start + 1 + sources[a.layer].index(src) % (GAP - 3)
        routes.append(Route(gap_start, a.port, channel, b.x, b.port, b.node is not None))
    return routes


def neighbour(lay: Layout, node_id: str, dx: int, dy: int) -> str:
    """The node a cursor on ``node_id`` moves to: up or down within its layer, or to the
    nearest slot of the next layer left or right that has a real node. Stays put at an
    edge of the graph."""
    p = lay.by_id[node_id]
    if dy:
        column = [q for q in lay.layers[p.layer] if q.node is not None]
        i = column.index(p) + dy
        return column[i].id if 0 <= i < len(column) else node_id
    li = p.layer + dx
    while 0 <= li < len(lay.layers):
        column = [q for q in lay.layers[li] if q.node is not None]
        if column:
            return min(column, key=lambda q: abs(q.slot - p.slot)).id
        li += dx
    return node_id
