"""Paths on hand-made events, on every engine: sessions split after exactly 30 minutes of
inactivity or more, paths after/before an anchor or the session's ends, repeats, limits, the date
range, system events and node drop-off. Expected transitions are worked out in the comments."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import AnalyticsError, run_analysis

DAY0 = {"from": "2026-01-05", "to": "2026-01-05"}


def at(minutes: float, d: int = 0) -> datetime:
    return day(d, 10) + timedelta(minutes=minutes)


def paths(src: Any, **params: Any) -> dict[str, Any]:
    # No result cache: it keys in-memory warehouses by id(connection), reused between tests.
    return run_analysis("paths", {**DAY0, **params}, src, use_cache=False).to_dict()


def edges(out: dict[str, Any]) -> list[tuple[int, str, str, int]]:
    return [(e["level"], e["source"], e["target"], e["count"]) for e in out["edges"]]


def sessions() -> list[tuple[Any, ...]]:
    return [
        # 1: A B at 30 min (same session), B again (a repeat), C exactly 30 min later, A, then D
        # 30 min + 1 s after A: a new session
        (1, "A", at(0)),
        (1, "B", at(30)),
        (1, "B", at(40)),
        (1, "C", at(70)),
        (1, "A", at(80)),
        (1, "D", at(110 + 1 / 60)),
        (1, "E", at(111)),
        # 2: A C D in one session
        (2, "A", at(0)),
        (2, "C", at(30)),
        (2, "D", at(31)),
        # 3: a single event: no transition
        (3, "A", at(0)),
        # 4: outside the range (the next day) and a system event between A and B
        (4, "A", at(0, 1)),
        (4, "B", at(1, 1)),
        (5, "A", at(0)),
        (5, "tag.added", at(1)),
        (5, "B", at(2)),
    ]


def test_from_session_start(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(sessions())
    result = run_analysis("paths", DAY0, src, use_cache=False)
    out = result.to_dict()
    # sessions: 1a A B C A, 1b D E, 2 A C D, 5 A B (the system event is left out)
    assert edges(out) == [
        (1, "A", "B", 2),
        (1, "A", "C", 1),
        (1, "D", "E", 1),
        (2, "B", "C", 1),
        (2, "C", "D", 1),
        (3, "C", "A", 1),
    ]
    assert out["total_edges"] == 6 and out["event"] is None
    frame = result.to_pandas()
    assert list(frame.columns) == ["level", "source", "target", "count"] and len(frame) == 6
    assert result.figure().data[0].type == "sankey"
    if src.engine == "duckdb":
        snapshot("paths_from_session_start", result.sql)


def test_session_split_at_more_than_the_gap(warehouse: Warehouse) -> None:
    src = warehouse.load(sessions())
    # With 29-minute sessions, 1 splits after A (30 min) and after B (30 min to C): A | B | C A | D E;
    # 2 splits after A: A | C D; 5 stays A B.
    assert edges(paths(src, session_minutes=29)) == [
        (1, "A", "B", 1),
        (1, "C", "A", 1),
        (1, "C", "D", 1),
        (1, "D", "E", 1),
    ]


def test_into_session_end(warehouse: Warehouse) -> None:
    src = warehouse.load(sessions())
    out = paths(src, direction="before", steps=2)
    # last two transitions: 1a B→C (2), C→A (1); 1b D→E (1); 2 A→C (2), C→D (1); 5 A→B (1)
    assert edges(out) == [
        (1, "A", "B", 1),
        (1, "C", "A", 1),
        (1, "C", "D", 1),
        (1, "D", "E", 1),
        (2, "A", "C", 1),
        (2, "B", "C", 1),
    ]


def test_after_an_anchor(warehouse: Warehouse) -> None:
    src = warehouse.load(sessions())
    out = paths(src, event="A", steps=2)
    # every A starts a path: 1a A(1) → B → C, A(4) → (end); 2 A → C → D; 3 nothing; 5 A → B
    assert edges(out) == [(1, "A", "B", 2), (1, "A", "C", 1), (2, "B", "C", 1), (2, "C", "D", 1)]
    nodes = {(n["level"], n["event"]): (n["inflow"], n["outflow"], n["drop_off"]) for n in out["nodes"]}
    # after one step: B (2 in, 1 on: 5's path ends there), C (1 in, 1 on); level 2 is the last
    assert nodes == {
        (0, "A"): (0, 3, None),
        (1, "B"): (2, 1, 1),
        (1, "C"): (1, 1, 0),
        (2, "C"): (1, 0, None),
        (2, "D"): (1, 0, None),
    }


def test_before_an_anchor(warehouse: Warehouse) -> None:
    src = warehouse.load(sessions())
    out = paths(src, event="C", direction="before", steps=3)
    # every C ends a path: 1a A → B → C; 2 A → C
    assert edges(out) == [(1, "A", "C", 1), (1, "B", "C", 1), (2, "A", "B", 1)]
    nodes = {(n["level"], n["event"]): n["drop_off"] for n in out["nodes"]}
    # before: drop_off counts paths that begin at a node (2's path begins at A one step back)
    assert nodes == {(0, "C"): None, (1, "A"): 1, (1, "B"): 0, (2, "A"): 1}


def test_each_anchor_occurrence_and_the_limit(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            # two As in one session: two paths, A→B at levels 1 and 3; B→A at level 2
            (1, "A", at(0)),
            (1, "B", at(1)),
            (1, "A", at(2)),
            (1, "B", at(3)),
            (2, "A", at(0)),
            (2, "B", at(1)),
            (3, "A", at(0)),
            (3, "C", at(1)),
        ]
    )
    out = paths(src, event="A", steps=3)
    # 1: from A(1): A→B (1), B→A (2), A→B (3); from A(3): A→B (1). 2: A→B (1). 3: A→C (1).
    assert edges(out) == [(1, "A", "B", 3), (1, "A", "C", 1), (2, "B", "A", 1), (3, "A", "B", 1)]
    assert edges(paths(src, event="A", steps=3, limit=2)) == [(1, "A", "B", 3), (1, "A", "C", 1)]
    assert paths(src, event="A", steps=3, limit=2)["total_edges"] == 4


def test_system_events_and_excluded_events(warehouse: Warehouse) -> None:
    src = warehouse.load(sessions())
    with_system = paths(src, event="A", steps=1, exclude_system=False)
    # 5's path now goes A → tag.added
    assert edges(with_system) == [(1, "A", "B", 1), (1, "A", "C", 1), (1, "A", "tag.added", 1)]
    # Excluded events are gone before sessions are cut: without C, 1 is A B | A | D E (40 min
    # from B to A) and 2 is A | D (31 min).
    assert edges(paths(src, steps=2, exclude_events=["C"])) == [(1, "A", "B", 2), (1, "D", "E", 1)]


def test_anchor_filters_and_empty(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [(1, "A", at(0), {"plan": "pro"}), (1, "B", at(1)), (2, "A", at(0)), (2, "C", at(1))]
    )
    pro = [{"property": "plan", "op": "eq", "value": "pro"}]
    assert edges(paths(src, event="A", where=pro)) == [(1, "A", "B", 1)]
    empty = paths(src, event="Z")
    assert empty["edges"] == [] and empty["nodes"] == [] and empty["total_edges"] == 0


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"steps": 0}, "steps"),
        ({"session_minutes": 0}, "session_minutes"),
        ({"limit": 0}, "limit"),
        ({"direction": "sideways"}, "direction"),
        ({"event": "*"}, "event"),
        ({"where": [{"property": "a", "op": "eq", "value": 1}]}, "where"),
        ({"event": "A", "exclude_events": ["A"]}, "exclude_events"),
        ({"depth": 3}, "depth"),
    ],
)
def test_bad_parameters_name_the_field(warehouse: Warehouse, params: dict[str, Any], field: str) -> None:
    src = warehouse.load([(1, "A", at(0))])
    with pytest.raises(AnalyticsError) as err:
        run_analysis("paths", {**DAY0, **params}, src, use_cache=False)
    assert err.value.field == field
