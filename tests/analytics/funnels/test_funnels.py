"""Funnels on hand-made events, on every engine: the three modes, several entries per contact,
ties, the window's inclusive edge, the date range, exclusions, breakdowns and property filters.

Days are counted from T0 = Monday 2026-01-05 (``day(n, hour)``). Every expected number is worked
out by hand in the comment next to its contact."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import AnalyticsError, run_analysis

V, C, O = "View Product", "Add to Cart", "Order Completed"  # noqa: E741
X = "Page Viewed"  # an unrelated event
STEPS = [{"event": V}, {"event": C}, {"event": O}]
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
H = 3600


def run(params: dict[str, Any], src: Any, session: Session | None = None) -> Any:
    # No result cache: it keys in-memory warehouses by id(connection), which Python reuses
    # from one test's warehouse to the next.
    return run_analysis("funnel", params, src, session, use_cache=False)


def funnel(src: Any, session: Session | None = None, **params: Any) -> dict[str, Any]:
    return run({"steps": STEPS, **WEEK, **params}, src, session).to_dict()


def counts(result: dict[str, Any]) -> list[int]:
    return [s["count"] for s in result["steps"]]


def medians(result: dict[str, Any]) -> list[float | None]:
    return [s["median_seconds_to_convert"] for s in result["steps"]]


def averages(result: dict[str, Any]) -> list[float | None]:
    return [s["average_seconds_to_convert"] for s in result["steps"]]


def secs(t: Any, s: float) -> Any:
    return t + timedelta(seconds=s)


def test_sequential(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(
        [
            # 1: all three, another event in between is fine: 1 h, then 1 day
            (1, V, day(0, 10)),
            (1, X, day(0, 10.5)),
            (1, C, day(0, 11)),
            (1, O, day(1, 11)),
            # 2: view and cart, 30 min
            (2, V, day(1, 9)),
            (2, C, day(1, 9.5)),
            # 3: only a view
            (3, V, day(2)),
            # 4: no view: not in the funnel
            (4, C, day(2, 10)),
            (4, O, day(2, 11)),
            # 5: the order comes before the cart: two steps, 2 h
            (5, V, day(3, 8)),
            (5, O, day(3, 9)),
            (5, C, day(3, 10)),
        ]
    )
    result = run({"steps": STEPS, **WEEK}, src)
    out = result.to_dict()
    assert counts(out) == [4, 3, 1]
    assert [s["conversion_from_first"] for s in out["steps"]] == [1.0, 0.75, 0.25]
    assert [s["conversion_from_previous"] for s in out["steps"]] == [1.0, 0.75, pytest.approx(1 / 3)]
    assert medians(out) == [None, 3600.0, 86400.0]  # median of 3600, 1800, 7200
    assert averages(out) == [None, pytest.approx(4200.0), 86400.0]
    assert [(s["step"], s["event"], s["label"]) for s in out["steps"]] == [(1, V, V), (2, C, C), (3, O, O)]
    assert (out["mode"], out["window_days"], out["breakdown"], out["from"]) == (
        "sequential",
        14,
        None,
        WEEK["from"],
    )
    frame = result.to_pandas()
    assert list(frame.columns) == [
        "step",
        "event",
        "label",
        "count",
        "conversion_from_first",
        "conversion_from_previous",
        "median_seconds_to_convert",
        "average_seconds_to_convert",
    ]
    assert frame["count"].tolist() == [4, 3, 1]
    assert result.to_csv().splitlines()[1].startswith(f'1,"{V}","{V}",4,1')
    assert result.figure().data[0].type == "bar"
    if src.engine == "duckdb":
        snapshot("funnel_sequential", result.sql)


def test_several_entries_count_the_furthest(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            # 1: a first entry reaches the cart; a later one all three (10 min, 10 min)
            (1, V, day(0, 9)),
            (1, C, day(0, 10)),
            (1, V, day(3, 9)),
            (1, C, secs(day(3, 9), 600)),
            (1, O, secs(day(3, 9), 1200)),
            # 2: two views before one cart: the later view is the counted start (1 h, not 4 h)
            (2, V, day(0, 9)),
            (2, V, day(0, 12)),
            (2, C, day(0, 13)),
            # 3: the first entry's order is outside its window; the second entry's is inside:
            # cart after 1 h, order 10 days - 1 h later
            (3, V, day(0)),
            (3, C, day(1)),
            (3, V, day(10)),
            (3, C, day(10, 1)),
            (3, O, day(20)),
            # 4: the first entry goes furthest (1 h, 1 h); a later view alone changes nothing
            (4, V, day(0)),
            (4, C, day(0, 1)),
            (4, O, day(0, 2)),
            (4, V, day(1)),
        ]
    )
    out = funnel(src, **{"to": "2026-01-18"})
    assert counts(out) == [4, 4, 3]
    assert medians(out) == [None, 3600.0, 3600.0]  # {600, 3600, 3600, 3600}; {600, 860400, 3600}
    assert averages(out) == [None, pytest.approx(2850.0), pytest.approx(288200.0)]


def test_ties_are_taken_in_the_best_order(warehouse: Warehouse) -> None:
    t = day(0, 10)
    src = warehouse.load(
        [
            # 1: view and cart at the same instant (view inserted first), order 1 h later
            (1, V, t),
            (1, C, t),
            (1, O, day(0, 11)),
            # 2: the same with the cart inserted first
            (2, C, t),
            (2, V, t),
            (2, O, day(0, 11)),
            # 3: all three at one instant, in reverse
            (3, O, day(1)),
            (3, C, day(1)),
            (3, V, day(1)),
            # 4: the cart an hour before the view: only the view counts
            (4, C, day(0, 9)),
            (4, V, day(0, 10)),
        ]
    )
    for mode in ("sequential", "strict"):
        out = funnel(src, mode=mode)
        assert counts(out) == [4, 3, 3], mode
        assert medians(out) == [None, 0.0, 3600.0], mode  # {0, 0, 0}; {3600, 3600, 0}
        assert averages(out) == [None, 0.0, 2400.0], mode
    # Any order: 4 has the cart and the view (1 h apart), so two steps.
    out = funnel(src, mode="any_order")
    assert counts(out) == [4, 4, 3]
    assert medians(out) == [None, 0.0, 3600.0]  # {0, 0, 0, 3600}; {3600, 3600, 0}
    assert averages(out) == [None, 900.0, 2400.0]


def test_window_is_inclusive_and_measured_from_step_one(warehouse: Warehouse) -> None:
    t = day(0, 10)
    src = warehouse.load(
        [
            # 1: the cart exactly 14 days after the view: inside
            (1, V, t),
            (1, C, day(14, 10)),
            # 2: one second later: outside
            (2, V, t),
            (2, C, secs(day(14, 10), 1)),
            # 3: the order exactly 14 days after the VIEW (13 after the cart): inside
            (3, V, t),
            (3, C, day(1, 10)),
            (3, O, day(14, 10)),
            # 4: one second later: two steps
            (4, V, t),
            (4, C, day(1, 10)),
            (4, O, secs(day(14, 10), 1)),
        ]
    )
    out = funnel(src)
    assert counts(out) == [4, 3, 1]
    assert medians(out) == [None, 86400.0, 13 * 86400.0]  # {14 d, 1 d, 1 d}
    assert counts(funnel(src, window_days=13)) == [4, 2, 0]


def test_entries_start_within_the_range(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            # 1: viewed the day before `from`: no entry
            (1, V, secs(day(2), -1)),
            (1, C, day(2, 1)),
            # 2: an old view and one in the range, then the cart
            (2, V, day(1)),
            (2, V, day(2, 10)),
            (2, C, day(2, 11)),
            # 3: viewed in the last second of `to`, cart the day after: counts
            (3, V, secs(day(4), -1)),
            (3, C, day(4, 1)),
            # 4: viewed after `to`
            (4, V, day(4)),
            # 5: a cart before `from` does not follow the view
            (5, C, day(1)),
            (5, V, day(2)),
        ]
    )
    out = funnel(src, **{"from": "2026-01-07", "to": "2026-01-08"})
    assert counts(out) == [3, 2, 0]
    assert (out["from"], out["to"]) == ("2026-01-07", "2026-01-08")


def test_strict(warehouse: Warehouse, snapshot: Any) -> None:
    def at(minute: float) -> Any:
        return secs(day(0, 10), minute * 60)

    src = warehouse.load(
        [
            # 1: three in a row (5 min, 5 min)
            (1, V, at(0)),
            (1, C, at(5)),
            (1, O, at(10)),
            # 2: another event after the view breaks it
            (2, V, at(0)),
            (2, X, at(1)),
            (2, C, at(5)),
            (2, O, at(10)),
            # 3: broken after the cart
            (3, V, at(0)),
            (3, C, at(5)),
            (3, X, at(7)),
            (3, O, at(10)),
            # 4: the other event shares the view's instant: it can come first
            (4, V, at(0)),
            (4, X, at(0)),
            (4, C, at(5)),
            (4, O, at(10)),
            # 5: the other event shares the cart's instant: before or after the cart it is
            # between two steps, so the cart is the last step
            (5, V, at(0)),
            (5, C, at(5)),
            (5, X, at(5)),
            (5, O, at(10)),
            # 6: a system event (not activity) does not break it
            (6, V, at(0)),
            (6, "tag.added", at(1)),
            (6, C, at(5)),
            # 7: a second entry right before the cart (1 min)
            (7, V, at(0)),
            (7, X, at(1)),
            (7, V, at(30)),
            (7, C, at(31)),
        ]
    )
    out = funnel(src, mode="strict")
    assert counts(out) == [7, 6, 2]
    assert medians(out) == [None, 300.0, 300.0]
    assert averages(out) == [None, 260.0, 300.0]  # (5 × 300 + 60) / 6
    assert counts(funnel(src)) == [7, 7, 5]  # sequential: only 6 and 7 never order
    if src.engine == "duckdb":
        result = run({"steps": STEPS, **WEEK, "mode": "strict"}, src)
        snapshot("funnel_strict", result.sql)


def test_any_order(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(
        [
            # 1: all three backwards, an hour apart
            (1, O, day(0, 10)),
            (1, C, day(0, 11)),
            (1, V, day(0, 12)),
            # 2: the view is beyond the window (and the range)
            (2, C, day(0, 10)),
            (2, V, day(15, 10)),
            # 3: two views count as one step; the later view is the counted start: the order
            # 30 min after it
            (3, V, day(0, 10)),
            (3, V, day(0, 10.5)),
            (3, O, day(0, 11)),
            # 4: the order exactly at the window's end, the view one second after
            (4, C, day(0, 10)),
            (4, O, day(14, 10)),
            (4, V, secs(day(14, 10), 1)),
        ]
    )
    result = run({"steps": STEPS, **WEEK, "mode": "any_order"}, src)
    out = result.to_dict()
    assert counts(out) == [4, 3, 1]
    assert medians(out) == [None, 3600.0, 3600.0]  # {3600, 1800, 1209600}; {3600}
    assert averages(out) == [None, 405000.0, 3600.0]
    assert [s["label"] for s in out["steps"]] == ["any 1 of 3", "any 2 of 3", "any 3 of 3"]
    if src.engine == "duckdb":
        snapshot("funnel_any_order", result.sql)


def test_exclusions(warehouse: Warehouse, snapshot: Any) -> None:
    R, K = "Refund", "Complaint"

    def at(hour: float, d: float = 0) -> Any:
        return day(d, hour)

    src = warehouse.load(
        [
            # 1: refund between view and cart: excluded
            (1, V, at(1)),
            (1, R, at(2)),
            (1, C, at(3)),
            (1, O, at(4)),
            # 2: refund after the cart: not in the refund's range; three steps
            (2, V, at(1)),
            (2, C, at(2)),
            (2, R, at(3)),
            (2, O, at(4)),
            # 3: complaint between cart and order: excluded by the second exclusion
            (3, V, at(1)),
            (3, C, at(2)),
            (3, K, at(3)),
            (3, O, at(4)),
            # 4: no cart; a refund within the window: excluded
            (4, V, at(1)),
            (4, R, at(5, 3)),
            # 5: no cart; the refund after the window: one step
            (5, V, at(1)),
            (5, R, at(2, 15)),
            # 6: refund at the view's very instant: not after it; two steps
            (6, V, at(1)),
            (6, R, at(1)),
            (6, C, at(2)),
            # 7: complaint before the cart is outside "after step 1": three steps
            (7, V, at(1)),
            (7, K, at(2)),
            (7, C, at(3)),
            (7, O, at(4)),
            # 8: the refunded entry is not the counted one (the later entry reaches the cart)
            (8, V, at(1)),
            (8, R, at(2)),
            (8, V, at(1, 2)),
            (8, C, at(2, 2)),
        ]
    )
    params = {"exclusions": [{"event": R, "to_step": 1}, {"event": K, "from_step": 1, "to_step": 2}]}
    out = funnel(src, **params)
    assert counts(out) == [5, 4, 2]  # 2 (3 steps), 5 (1), 6 (2), 7 (3), 8 (2) remain
    # The complaint alone removes only 3: 1 (3 steps), 2 (3), 4 (1), 5 (1), 6 (2), 7 (3), 8 (2).
    assert counts(funnel(src, exclusions=[{"event": K, "from_step": 1}])) == [7, 5, 3]
    # Without to_step the refund spans the whole funnel: 1, 2 (refund before the order) and 4 go;
    # 3 (3 steps), 5 (1), 6 (2), 7 (3), 8 (2) remain.
    assert counts(funnel(src, exclusions=[{"event": R}])) == [5, 4, 2]
    assert counts(funnel(src)) == [8, 6, 4]
    if src.engine == "duckdb":
        result = run({"steps": STEPS, **WEEK, **params}, src)
        snapshot("funnel_exclusions", result.sql)


def test_property_filters_on_steps(warehouse: Warehouse) -> None:
    tea, coffee = {"category": "tea"}, {"category": "coffee"}
    src = warehouse.load(
        [
            # 1: tea view, cart, order of 150: all three
            (1, V, day(0), tea),
            (1, C, day(0, 1)),
            (1, O, day(0, 2), {"amount": 150}),
            # 2: a coffee view is not step 1
            (2, V, day(0), coffee),
            (2, C, day(0, 1)),
            (2, O, day(0, 2), {"amount": 150}),
            # 3: the order is too small
            (3, V, day(0), tea),
            (3, C, day(0, 1)),
            (3, O, day(0, 2), {"amount": 50}),
            # 4: a coffee view after the tea view changes nothing
            (4, V, day(0), tea),
            (4, V, day(0, 1), coffee),
            (4, C, day(0, 2)),
        ]
    )
    steps = [
        {"event": V, "where": [{"property": "category", "op": "eq", "value": "tea"}]},
        {"event": C},
        {"event": O, "where": [{"property": "amount", "op": "gt", "value": 100}]},
    ]
    assert counts(funnel(src, steps=steps)) == [3, 3, 1]


def test_the_same_event_twice(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            # 1: one view cannot be two steps
            (1, V, day(0, 10)),
            (1, O, day(0, 11)),
            # 2: two views then the order (30 min, 30 min)
            (2, V, day(0, 10)),
            (2, V, day(0, 10.5)),
            (2, O, day(0, 11)),
            # 3: two views at one instant are still two events (0 s, 1 h)
            (3, V, day(0, 10)),
            (3, V, day(0, 10)),
            (3, O, day(0, 11)),
            # 4: the second view after the order: two steps (1 h)
            (4, V, day(0, 10)),
            (4, O, day(0, 10.5)),
            (4, V, day(0, 11)),
        ]
    )
    steps = [{"event": V}, {"event": V}, {"event": O}]
    out = funnel(src, steps=steps)
    assert counts(out) == [4, 3, 2]
    assert medians(out) == [None, 1800.0, 2700.0]  # {1800, 0, 3600}; {1800, 3600}
    # Strict: 4's views have the order between them.
    assert counts(funnel(src, steps=steps, mode="strict")) == [4, 2, 2]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"steps": [{"event": V}]}, "steps"),
        ({"steps": [{"event": V}, {"event": ""}]}, "steps[1].event"),
        (
            {"steps": [{"event": V}, {"event": C, "where": [{"property": "a", "op": "eq"}]}]},
            "steps[1].where[0]",
        ),
        ({"steps": [{"event": V}, {"event": V}], "mode": "any_order"}, "steps[1].event"),
        ({"window_days": 0}, "window_days"),
        ({"mode": "loose"}, "mode"),
        ({"exclusions": [{"event": "Refund", "from_step": 2, "to_step": 1}]}, "exclusions[0].from_step"),
        ({"exclusions": [{"event": "Refund", "to_step": 3}]}, "exclusions[0].to_step"),
        ({"exclusions": [{"event": C}]}, "exclusions[0].event"),
        ({"exclusions": [{"event": "Refund", "to_step": 1}], "mode": "any_order"}, "exclusions[0].from_step"),
        ({"breakdown": {"by": "attribute"}}, "breakdown.name"),
        ({"breakdown": {"by": "city"}}, "breakdown.by"),
        ({"from": "2026-01-12", "to": "2026-01-05"}, "to"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_name_the_field(warehouse: Warehouse, params: dict[str, Any], field: str) -> None:
    src = warehouse.load([(1, V, day(0))])
    with pytest.raises(AnalyticsError) as err:
        run({"steps": STEPS, **WEEK, **params}, src)
    assert err.value.field == field


def test_mode_spelled_with_a_dash(warehouse: Warehouse) -> None:
    src = warehouse.load([(1, O, day(0)), (1, V, day(0, 1))])
    assert counts(funnel(src, mode="any-order")) == [1, 1, 0]
