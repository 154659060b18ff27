"""Where each workflow node goes: a small Sugiyama layout, and the routes of its edges.

Nodes get a layer by longest path from the sources (cycles are tolerated: their back
edges are listed as dependencies but do not push layers), edges that skip layers get
dummy nodes so every edge joins adjacent layers, and a couple of barycentre sweeps
order each layer to reduce crossings. Layers run left to right. Each edge is then
routed through a channel column in the gap between its two layers.

Channels are shared where sharing says exactly what the edges say: targets with the same
sources form a group, and a group whose sources feed nothing else is drawn as one bus
(a fan-out ``─┬─▶ / ╰─▶``, a fan-in ``─╮ / ─┼─▶ / ─╯``, or every source to every target).
Any other source keeps a channel of its own, so two edges never look joined unless
they are. The channels of one gap are ordered to cross as little as possible.

Pure: a :class:`Workflow` in, positions in cells out; :mod:`graph_draw` turns them into
characters and the widget only scrolls and styles them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import permutations

from swarmdeck.store.models import Workflow, WorkflowNode

BOX_W = 18
"""The narrowest box; :func:`box_width` widens boxes when the pane has room."""
MAX_BOX_W = 40
BOX_H = 3
GAP = 6
ROW_GAP = 1
#: Columns of a gap an edge may turn in (the last two lead into the arrow).
CHANNELS = GAP - 3


@dataclass
class Placed:
    id: str
    layer: int
    slot: int = 0
    node: WorkflowNode | None = None  # None: a dummy carrying an edge across a layer
    box_w: int = BOX_W

    @property
    def x(self) -> int:
        return self.layer * (self.box_w + GAP)

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
    box_w: int = BOX_W

    def real_nodes(self) -> list[WorkflowNode]:
        """The workflow's nodes (no dummies), layer by layer, top to bottom."""
        return [p.node for items in self.layers for p in items if p.node is not None]


def box_width(workflow: Workflow, width: int, layers: int) -> int:
    """The box width for a pane ``width`` cells wide: as wide as the longest label needs,
    as the pane allows for ``layers`` steps side by side, between BOX_W and MAX_BOX_W."""
    if layers <= 0:
        return BOX_W
    room = (width + GAP) // layers - GAP
    # Borders and padding: "│▶ label│", "╭─ id ─╮" ("╔═ GATE id ═╗"), "╰ who  state ╯".
    need = max(
        (
            max(
                len(n.label or n.id) + 4,
                len(n.id) + (10 if n.gate else 5),
                len(n.assignee or n.role or "") + len(n.state) + 6,
            )
            for n in workflow.nodes
        ),
        default=BOX_W,
    )
    return max(BOX_W, min(room, need, MAX_BOX_W))


def layout(workflow: Workflow, box_w: int = BOX_W) -> Layout:
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
    out = Layout(depends={i: preds[i] for i in ids}, box_w=box_w)
    count = max(layer.values(), default=-1) + 1
    out.layers = [[] for _ in range(count)]
    for i in order:
        placed = Placed(i, layer[i], node=nodes[i], box_w=box_w)
        out.layers[layer[i]].append(placed)
        out.by_id[i] = placed
    _add_dummies(out, edges, layer)
    _sweep(out, count)
    _centre(out, count)
    tallest = max((p.slot + 1 for items in out.layers for p in items), default=0)
    out.width = max(0, count * (box_w + GAP) - GAP)
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
            placed = Placed(did, mid, box_w=out.box_w)
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


def _centre(out: Layout, count: int) -> None:
    """Move each node down to the middle of what feeds it (a first layer narrower than
    the second: of what it feeds), keeping each layer's order; slots may then skip rows.
    A fan-in then points at the middle of its sources instead of running from the top."""
    up: dict[str, list[str]] = {}
    down: dict[str, list[str]] = {}
    for src, dst in out.edges:
        down.setdefault(src, []).append(dst)
        up.setdefault(dst, []).append(src)

    def place(items: list[Placed], neigh: dict[str, list[str]]) -> None:
        previous = -1
        for p in items:
            slots = [out.by_id[n].slot for n in neigh.get(p.id, [])]
            want = int(sum(slots) / len(slots)) if slots else previous + 1
            p.slot = max(want, previous + 1)
            previous = p.slot

    for li in range(1, count):
        place(out.layers[li], up)
    if count > 1 and len(out.layers[0]) < len(out.layers[1]):  # a fan-out: its middle
        place(out.layers[0], down)


def _bary(neigh: list[str], rank: dict[str, int], fallback: int) -> float:
    values = [rank[n] for n in neigh if n in rank]
    return sum(values) / len(values) if values else float(fallback)


def _routes(lay: Layout) -> list[Route]:
    """Route every edge through a channel of the gap after its source's layer."""
    by_gap: dict[int, list[tuple[str, str]]] = {}
    for src, dst in lay.edges:
        by_gap.setdefault(lay.by_id[src].layer, []).append((src, dst))
    channel_of: dict[tuple[str, str], int] = {}
    for gap_edges in by_gap.values():
        nets = _nets(gap_edges)
        for n, column in enumerate(_order_nets(lay, nets)):
            for edge in nets[column]:
                channel_of[edge] = n % CHANNELS
    routes: list[Route] = []
    for src, dst in lay.edges:
        a, b = lay.by_id[src], lay.by_id[dst]
        gap_start = a.x + lay.box_w
        channel = gap_start + 1 + channel_of[(src, dst)]
        routes.append(Route(gap_start, a.port, channel, b.x, b.port, b.node is not None))
    return routes


def _nets(edges: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """The edges of one gap, as nets that may each share one channel.

    Targets fed by the same sources form a group; a group whose sources feed no other
    target is one net (a bus says exactly "each of these into each of those"). Every
    other source is a net of its own, as is every edge it draws.
    """
    preds: dict[str, list[str]] = {}
    succs: dict[str, set[str]] = {}
    for src, dst in edges:
        preds.setdefault(dst, []).append(src)
        succs.setdefault(src, set()).add(dst)
    groups: dict[frozenset[str], list[str]] = {}
    for dst, feeding in preds.items():
        groups.setdefault(frozenset(feeding), []).append(dst)
    clean: set[str] = set()
    nets: list[list[tuple[str, str]]] = []
    for sources, targets in groups.items():
        if all(succs[s] == set(targets) for s in sources):
            clean.update(sources)
            nets.append([e for e in edges if e[0] in sources])
    for src in dict.fromkeys(s for s, _d in edges):
        if src not in clean:
            nets.append([e for e in edges if e[0] == src])
    return nets


def _order_nets(lay: Layout, nets: list[list[tuple[str, str]]]) -> list[int]:
    """Indexes of ``nets`` left to right: the order whose runs cross fewest other nets."""
    if len(nets) <= 1:
        return list(range(len(nets)))
    spans = [_span(lay, net) for net in nets]
    if len(nets) > 4:  # too many to try every order: by height, as the sweep left them
        return sorted(range(len(nets)), key=lambda i: (spans[i][0] + spans[i][1], i))
    best = min(permutations(range(len(nets))), key=partial(_crossings, spans))
    return list(best)


def _span(lay: Layout, net: list[tuple[str, str]]) -> tuple[int, int, set[int], set[int]]:
    """A net's vertical extent, and the rows its sources leave by and its targets enter by."""
    ins = {lay.by_id[s].port for s, _d in net}
    outs = {lay.by_id[d].port for _s, d in net}
    rows = ins | outs
    return min(rows), max(rows), ins, outs


def _crossings(spans: list[tuple[int, int, set[int], set[int]]], order: Sequence[int]) -> int:
    """Runs that cross (or, worse, touch) another net's channel when placed in ``order``."""
    total = 0
    for pos, i in enumerate(order):
        _low, _high, ins, outs = spans[i]
        for other_pos, j in enumerate(order):
            low, high, _ins, other_outs = spans[j]
            # A source's run comes from the left: it passes the channels before its own;
            # a target's run leaves to the right: it passes the channels after its own
            # (meeting a net that feeds the same target is right: both go into it).
            rows = ins if other_pos < pos else outs - other_outs if other_pos > pos else set()
            total += sum(3 if r in (low, high) else 1 for r in rows if low <= r <= high)
    return total


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
