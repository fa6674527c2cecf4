"""The step graph of a journey, laid out for drawing: steps in layers (a step sits below every
step that leads to it, except along loops), edges labelled with why they are taken (a
branch's route, a split's variant, wait_for's event or timeout), and an end node for ``exit``.

Pure geometry and data: interfaces draw the boxes (SVG) and translate the labels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from siyu.journeys.schemas import EXIT, JourneySpec, Step

BOX_W, BOX_H = 200, 64
GAP_X, GAP_Y = 40, 56
MARGIN = 24
#: Edges skipping layers run down a lane left of the boxes (not through the boxes between).
LANE, LANE_STEP = 56, 8


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # next / route / else / variant / event / timeout
    label: str = ""
    back: bool = False  # leads to an earlier layer (a loop)
    points: list[tuple[float, float]] = field(default_factory=list)
    label_at: tuple[float, float] = (0.0, 0.0)


@dataclass
class Node:
    id: str
    action: str  # the step's action, or "exit"
    detail: str
    layer: int = 0
    order: int = 0
    x: float = 0.0
    y: float = 0.0


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float


def _duration(seconds: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def step_detail(step: Step) -> str:
    """A short, language-neutral summary of what the step does (keys, channels, durations)."""
    if step.send:
        what = step.send.template or "inline"
        return f"{step.send.channel} · {what}"
    if step.wait is not None:
        return _duration(step.wait)
    if step.wait_until:
        return f"D+{step.wait_until.day} {step.wait_until.at}"
    if step.wait_for:
        return f"{step.wait_for.event} ≤ {_duration(step.wait_for.timeout)}"
    if step.branch:
        return f"{len(step.branch.routes)} + else"
    if step.split:
        return " / ".join(f"{v.name} {v.weight:g}" for v in step.split.variants)
    if step.add_tag or step.remove_tag:
        return str(step.add_tag or step.remove_tag)
    if step.set_stage:
        return str(step.set_stage)
    if step.set_attribute:
        return ", ".join(sorted(step.set_attribute))[:40]
    if step.award_points:
        return f"{step.award_points.points:+d}"
    if step.issue_coupon:
        return step.issue_coupon.template
    if step.webhook:
        return step.webhook.event
    return ""


def edges_of(spec: JourneySpec) -> list[Edge]:
    """Every edge with its reason; a step that falls through goes to the following one."""
    out: list[Edge] = []
    for step in spec.steps:
        here: list[Edge] = []
        if step.branch:
            for i, route in enumerate(step.branch.routes):
                here.append(Edge(step.id, route.next, "route", f"#{i + 1}"))
            here.append(Edge(step.id, step.branch.otherwise, "else"))
        elif step.split:
            here += [Edge(step.id, v.next, "variant", v.name) for v in step.split.variants]
        elif step.wait_for and step.wait_for.on_event and step.wait_for.on_timeout:
            here.append(Edge(step.id, step.wait_for.on_event, "event"))
            here.append(Edge(step.id, step.wait_for.on_timeout, "timeout"))
        elif step.wait_for and (step.wait_for.on_event or step.wait_for.on_timeout):
            named = "event" if step.wait_for.on_event else "timeout"
            other = "timeout" if named == "event" else "event"
            here.append(Edge(step.id, step.wait_for.on_event or step.wait_for.on_timeout or "", named))
            here.append(Edge(step.id, spec.following(step.id), other))
        elif step.exit:
            here.append(Edge(step.id, EXIT, "next"))
        else:
            here.append(Edge(step.id, spec.following(step.id), "next"))
        out += here
    return out


def layout(spec: JourneySpec) -> Graph:
    """Layers by longest path from the first step over the graph without its back edges
    (found by a depth-first walk in step order), one barycentre pass to order each layer, and
    straight edges (loops go round the right-hand side)."""
    nodes = {s.id: Node(s.id, s.action, step_detail(s)) for s in spec.steps}
    edges = edges_of(spec)
    if any(e.target == EXIT for e in edges):
        nodes[EXIT] = Node(EXIT, "exit", "")
    succ: dict[str, list[Edge]] = defaultdict(list)
    for e in edges:
        succ[e.source].append(e)
    # depth-first from the first step (then any unreachable step): an edge to a step still on
    # the stack is a back edge
    state: dict[str, int] = {}
    for root in [s.id for s in spec.steps]:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            nid, it = stack[-1]
            e = next(it, None)
            if e is None:
                state[nid] = 2
                stack.pop()
                continue
            if state.get(e.target) == 1:
                e.back = True
            elif e.target not in state:
                state[e.target] = 1
                stack.append((e.target, iter(succ[e.target])))
    forward = [e for e in edges if not e.back]
    preds: dict[str, list[str]] = defaultdict(list)
    for e in forward:
        preds[e.target].append(e.source)
    layer: dict[str, int] = {}

    def depth(nid: str) -> int:  # iterative longest path on the acyclic forward edges
        todo = [nid]
        while todo:
            cur = todo[-1]
            missing = [p for p in preds[cur] if p not in layer]
            if missing:
                todo += missing
                continue
            todo.pop()
            layer[cur] = max((layer[p] + 1 for p in preds[cur]), default=0)
        return layer[nid]

    for nid in nodes:
        depth(nid)
    if EXIT in nodes:  # the end sits below everything
        layer[EXIT] = max(layer[n] for n in nodes if n != EXIT) + 1
    rows: dict[int, list[str]] = defaultdict(list)
    position = {s.id: i for i, s in enumerate(spec.steps)}
    for nid in nodes:
        rows[layer[nid]].append(nid)
    order: dict[str, float] = {}
    for lv in sorted(rows):

        def key(nid: str) -> tuple[float, int]:
            ps = [order[p] for p in preds[nid] if p in order]
            return (sum(ps) / len(ps) if ps else 0.0, position.get(nid, 10**6))

        rows[lv].sort(key=key)
        for i, nid in enumerate(rows[lv]):
            order[nid] = float(i)
    widest = max(len(r) for r in rows.values())
    left_edge = MARGIN + LANE
    width = left_edge + MARGIN + widest * BOX_W + (widest - 1) * GAP_X + 60  # room for loop edges
    for lv, ids in rows.items():
        span = len(ids) * BOX_W + (len(ids) - 1) * GAP_X
        left = left_edge + (widest * BOX_W + (widest - 1) * GAP_X - span) / 2
        for i, nid in enumerate(ids):
            n = nodes[nid]
            n.layer, n.order = lv, i
            n.x, n.y = left + i * (BOX_W + GAP_X), MARGIN + lv * (BOX_H + GAP_Y)
    height = MARGIN * 2 + (max(rows) + 1) * BOX_H + max(rows) * GAP_Y
    lanes = 0
    for e in edges:
        a, b = nodes[e.source], nodes[e.target]
        if e.back or b.layer <= a.layer:
            e.back = True
            right = width - 20
            e.points = [
                (a.x + BOX_W, a.y + BOX_H / 2),
                (right, a.y + BOX_H / 2),
                (right, b.y + BOX_H / 2),
                (b.x + BOX_W, b.y + BOX_H / 2),
            ]
            e.label_at = (right - 4, (a.y + b.y) / 2 + BOX_H / 2)
        elif b.layer - a.layer > 1:
            lane = MARGIN + LANE - 12 - (lanes % 6) * LANE_STEP
            lanes += 1
            below, above = a.y + BOX_H + GAP_Y / 3, b.y - GAP_Y / 3
            e.points = [
                (a.x + BOX_W / 2, a.y + BOX_H),
                (a.x + BOX_W / 2, below),
                (lane, below),
                (lane, above),
                (b.x + BOX_W / 2, above),
                (b.x + BOX_W / 2, b.y),
            ]
            e.label_at = ((a.x + BOX_W / 2 + lane) / 2, below)
        else:
            e.points = [(a.x + BOX_W / 2, a.y + BOX_H), (b.x + BOX_W / 2, b.y)]
            e.label_at = (a.x + BOX_W / 2, (a.y + BOX_H + b.y) / 2)
    ordered = sorted(nodes.values(), key=lambda n: (n.layer, n.order))
    return Graph(nodes=ordered, edges=edges, width=width, height=height)
