"""The step graph laid out for drawing: every step once, labelled edges, loops marked, and
forward edges always pointing down."""

from __future__ import annotations

from siyu.journeys.graph import BOX_H, layout, step_detail
from siyu.journeys.schemas import parse_journey

DOC = {
    "key": "g",
    "name": "g",
    "trigger": {"list": True},
    "steps": [
        {"id": "start", "wait_until": {"day": 1, "at": "10:00"}},
        {
            "id": "ask",
            "wait_for": {
                "event": "Order Completed",
                "timeout": "3d",
                "on_event": "thanks",
                "on_timeout": "ab",
            },
        },
        {
            "id": "ab",
            "split": {
                "variants": [
                    {"name": "a", "weight": 1, "next": "sms"},
                    {"name": "b", "weight": 2, "next": "mail"},
                ]
            },
        },
        {"id": "sms", "send": {"channel": "sms", "template": "t1"}, "next": "check"},
        {"id": "mail", "send": {"channel": "email", "template": "t2"}},
        {"id": "check", "branch": {"routes": [{"if": {"has_tag": "x"}, "next": "ask"}], "else": "thanks"}},
        {"id": "thanks", "add_tag": "done", "next": "exit"},
    ],
}


def test_layout_draws_every_step_and_edge() -> None:
    g = layout(parse_journey(DOC))
    ids = [n.id for n in g.nodes]
    assert sorted(ids) == sorted([s["id"] for s in DOC["steps"]] + ["exit"])
    edges = {(e.source, e.target, e.kind, e.label) for e in g.edges}
    assert edges == {
        ("start", "ask", "next", ""),
        ("ask", "thanks", "event", ""),
        ("ask", "ab", "timeout", ""),
        ("ab", "sms", "variant", "a"),
        ("ab", "mail", "variant", "b"),
        ("sms", "check", "next", ""),
        ("mail", "check", "next", ""),
        ("check", "ask", "route", "#1"),
        ("check", "thanks", "else", ""),
        ("thanks", "exit", "next", ""),
    }
    nodes = {n.id: n for n in g.nodes}
    back = [(e.source, e.target) for e in g.edges if e.back]
    assert back == [("check", "ask")]  # the loop
    for e in g.edges:
        if not e.back:
            assert nodes[e.target].layer > nodes[e.source].layer
            assert e.points[0][1] == nodes[e.source].y + BOX_H and e.points[-1][1] == nodes[e.target].y
    assert nodes["exit"].layer == max(n.layer for n in g.nodes)
    assert nodes["sms"].layer == nodes["mail"].layer and nodes["sms"].x != nodes["mail"].x
    assert all(n.x >= 0 and n.x + 200 <= g.width and n.y + BOX_H <= g.height for n in g.nodes)


def test_step_details() -> None:
    spec = parse_journey(DOC)
    assert step_detail(spec.step("start")) == "D+1 10:00"
    assert step_detail(spec.step("ask")) == "Order Completed ≤ 3d"
    assert step_detail(spec.step("ab")) == "a 1 / b 2"
    assert step_detail(spec.step("sms")) == "sms · t1"
    assert step_detail(spec.step("thanks")) == "done"
