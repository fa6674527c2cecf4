"""Retention on hand-made events, on every engine: first-time and recurring cohorts, "on" and
"on or after", week/day/month/hour periods, ties, contacts active before their cohort.

Weeks start on Monday: W-1 = 2025-12-29, W0 = 2026-01-05, W1 = 01-12, W2 = 01-19, W3 = 01-26."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.analytics.conftest import Warehouse

from siyu.analytics.base import AnalyticsError, run_analysis

S, O = "signup", "Order Completed"  # noqa: E741 (O for order reads best in the fixtures)
WEEKS = {"from": "2026-01-05", "to": "2026-01-25", "period": "week", "start_event": S, "return_event": O}


def weekly_events() -> list[tuple[Any, ...]]:
    return [
        # u1: signs up W0, orders W0 (after signing up) and W2
        (1, S, datetime(2026, 1, 5, 9)),
        (1, O, datetime(2026, 1, 6, 9)),
        (1, O, datetime(2026, 1, 21, 9)),
        # u2: signs up in W0's last second, orders in W1's first second
        (2, S, datetime(2026, 1, 11, 23, 59, 59)),
        (2, O, datetime(2026, 1, 12, 0, 0)),
        # u3: first signed up in W-1 (before the range), again in W0; never orders
        (3, S, datetime(2026, 1, 1, 9)),
        (3, S, datetime(2026, 1, 7, 9)),
        # u4: signs up W1; ordered in W0 (before its cohort) and twice at the same moment in W1
        (4, O, datetime(2026, 1, 8, 9)),
        (4, S, datetime(2026, 1, 13, 9)),
        (4, O, datetime(2026, 1, 14, 9)),
        (4, O, datetime(2026, 1, 14, 9)),
        # u5: signs up in W1 and again in W2, orders in W2
        (5, S, datetime(2026, 1, 15, 9)),
        (5, S, datetime(2026, 1, 20, 9)),
        (5, O, datetime(2026, 1, 22, 9)),
        # u6: signs up in W2 and never orders
        (6, S, datetime(2026, 1, 19, 0, 0)),
        # u7: signs up after the range; u8 only orders
        (7, S, datetime(2026, 1, 26, 0, 0)),
        (8, O, datetime(2026, 1, 13, 9)),
    ]


def cohorts(result: Any) -> list[tuple[str, int, list[int]]]:
    return [(c["start"], c["size"], c["values"]) for c in result.to_dict()["cohorts"]]


def test_first_time_weekly(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(weekly_events())
    result = run_analysis("retention", {**WEEKS, "type": "first_time"}, src)
    # W0: u1, u2 (u3's first signup is before the range): k0 u1, k1 u2, k2 u1
    # W1: u4, u5: k0 u4 (its W0 order is before its cohort and does not count), k1 u5
    # W2: u6: nobody
    assert cohorts(result) == [
        ("2026-01-05", 2, [1, 1, 1]),
        ("2026-01-12", 2, [1, 1]),
        ("2026-01-19", 1, [0]),
    ]
    payload = result.to_dict()
    assert payload["average"] == [
        {"period": 0, "rate": pytest.approx(2 / 5), "contacts": 2, "eligible": 5},
        {"period": 1, "rate": 0.5, "contacts": 2, "eligible": 4},
        {"period": 2, "rate": 0.5, "contacts": 1, "eligible": 2},
    ]
    assert result.rate(1) == 0.5 and result.rate(3) is None
    assert (payload["type"], payload["mode"], payload["periods"]) == ("first_time", "on", 3)
    frame = result.to_pandas()
    assert list(frame.columns) == ["cohort", "size", "period", "contacts", "rate"]
    assert frame["contacts"].tolist() == [1, 1, 1, 1, 1, 0]
    assert frame["rate"].tolist()[:3] == [0.5, 0.5, 0.5]
    assert result.figure().data[0].type == "heatmap"
    if src.engine == "duckdb":
        snapshot("retention_first_time", result.sql)


def test_first_time_on_or_after(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(weekly_events())
    result = run_analysis("retention", {**WEEKS, "type": "first-time", "mode": "on-or-after"}, src)
    # W0: k0 u1, u2; k1 u2 (W1), u1 (W2); k2 u1.   W1: k0 u4, u5; k1 u5.
    assert cohorts(result) == [
        ("2026-01-05", 2, [2, 2, 1]),
        ("2026-01-12", 2, [2, 1]),
        ("2026-01-19", 1, [0]),
    ]
    assert result.to_dict()["mode"] == "on_or_after"
    if src.engine == "duckdb":
        snapshot("retention_first_time_on_or_after", result.sql)


def test_recurring_weekly(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(weekly_events())
    result = run_analysis("retention", {**WEEKS, "type": "recurring"}, src)
    # W0: u1, u2, u3 (its W0 signup counts): k0 u1, k1 u2, k2 u1
    # W1: u4, u5: k0 u4, k1 u5;  W2: u5, u6: k0 u5
    assert cohorts(result) == [
        ("2026-01-05", 3, [1, 1, 1]),
        ("2026-01-12", 2, [1, 1]),
        ("2026-01-19", 2, [1]),
    ]
    if src.engine == "duckdb":
        snapshot("retention_recurring", result.sql)


def test_same_start_and_return_event(warehouse: Warehouse) -> None:
    src = warehouse.load(weekly_events())
    params = {k: v for k, v in WEEKS.items() if k != "return_event"}
    # period 0 is the whole cohort; u5 signs up again in W2 (k1 of W1)
    assert cohorts(run_analysis("retention", params, src)) == [
        ("2026-01-05", 2, [2, 0, 0]),
        ("2026-01-12", 2, [2, 1]),
        ("2026-01-19", 1, [1]),
    ]
    result = run_analysis("retention", {**params, "type": "recurring"}, src)
    assert cohorts(result) == [
        ("2026-01-05", 3, [3, 0, 0]),
        ("2026-01-12", 2, [2, 1]),
        ("2026-01-19", 2, [2]),
    ]
    assert [a["rate"] for a in result.to_dict()["average"]] == [1.0, pytest.approx(1 / 5), 0.0]


def test_periods_limit_and_property_filters(warehouse: Warehouse) -> None:
    events = [*weekly_events(), (2, O, datetime(2026, 1, 24, 9), {"amount": 300})]
    src = warehouse.load(events)
    result = run_analysis("retention", {**WEEKS, "periods": 2}, src)
    # W0 keeps k0, k1 only; u2's new W2 order changes nothing there
    assert cohorts(result) == [
        ("2026-01-05", 2, [1, 1]),
        ("2026-01-12", 2, [1, 1]),
        ("2026-01-19", 1, [0]),
    ]
    assert len(result.to_dict()["average"]) == 2
    big = [{"property": "amount", "op": "gte", "value": 100}]
    result = run_analysis("retention", {**WEEKS, "return_where": big}, src)
    # only u2's W2 order (amount 300) matches: W0 k2
    assert cohorts(result) == [
        ("2026-01-05", 2, [0, 0, 1]),
        ("2026-01-12", 2, [0, 0]),
        ("2026-01-19", 1, [0]),
    ]


def test_daily_with_identical_timestamps(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            (1, S, datetime(2026, 3, 1, 10)),  # start and return at the very same moment
            (1, O, datetime(2026, 3, 1, 10)),
            (1, O, datetime(2026, 3, 2, 23, 59, 59)),
            (2, S, datetime(2026, 3, 1, 23, 59, 59)),
            (2, O, datetime(2026, 3, 3, 0, 0)),
            (3, O, datetime(2026, 3, 1, 9)),  # u3 returns before its start the same day
            (3, S, datetime(2026, 3, 1, 11)),
        ]
    )
    params = {"from": "2026-03-01", "to": "2026-03-03", "period": "day", "start_event": S, "return_event": O}
    # day 0 counts return events anywhere in the cohort's day (u1, u3)
    assert cohorts(run_analysis("retention", params, src)) == [
        ("2026-03-01", 3, [2, 1, 1]),
        ("2026-03-02", 0, [0, 0]),
        ("2026-03-03", 0, [0]),
    ]


def test_monthly_boundaries(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            (1, S, datetime(2026, 1, 31, 23, 59, 59)),
            (1, O, datetime(2026, 2, 1, 0, 0)),  # Jan cohort, k1
            (2, S, datetime(2026, 2, 28, 12)),
            (2, O, datetime(2026, 3, 1, 0, 0)),  # Feb cohort, k1
            (2, O, datetime(2026, 3, 31, 23)),  # after `to` but in its month: read
            (3, S, datetime(2026, 3, 10)),
            (3, O, datetime(2026, 4, 1, 0, 0)),  # the month after: not read
        ]
    )
    params = {
        "from": "2026-01-15",
        "to": "2026-03-10",
        "period": "month",
        "start_event": S,
        "return_event": O,
    }
    assert cohorts(run_analysis("retention", params, src)) == [
        ("2026-01-01", 1, [0, 1, 0]),
        ("2026-02-01", 1, [0, 1]),
        ("2026-03-01", 1, [0]),
    ]
    on_or_after = run_analysis("retention", {**params, "mode": "on_or_after"}, src)
    assert cohorts(on_or_after) == [
        ("2026-01-01", 1, [1, 1, 0]),
        ("2026-02-01", 1, [1, 1]),
        ("2026-03-01", 1, [0]),
    ]


def test_hourly(warehouse: Warehouse) -> None:
    src = warehouse.load([(1, S, datetime(2026, 1, 5, 10, 59, 59)), (1, O, datetime(2026, 1, 5, 11, 0))])
    params = {"from": "2026-01-05", "to": "2026-01-05", "period": "hour", "start_event": S, "return_event": O}
    result = run_analysis("retention", params, src)
    got = cohorts(result)
    assert len(got) == 24 and result.to_dict()["periods"] == 24
    assert got[10] == ("2026-01-05T10:00:00", 1, [0, 1] + [0] * 12)
    assert [len(c[2]) for c in got] == list(range(24, 0, -1))
    assert sum(c[1] for c in got) == 1
    frame = result.to_pandas()
    assert [str(t) for t in frame[frame["size"] == 1]["cohort"].unique()] == ["2026-01-05 10:00:00"]


def test_any_event_and_empty(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [(1, "tag.added", datetime(2026, 1, 5, 9)), (1, "Page Viewed", datetime(2026, 1, 12))]
    )
    result = run_analysis("retention", {**WEEKS, "start_event": "*", "return_event": "*"}, src)
    # the system event is not activity: u1's first activity is W1
    assert cohorts(result) == [
        ("2026-01-05", 0, [0, 0, 0]),
        ("2026-01-12", 1, [1, 0]),
        ("2026-01-19", 0, [0]),
    ]
    empty = run_analysis("retention", WEEKS, warehouse.load([]))
    assert [a["rate"] for a in empty.to_dict()["average"]] == [None, None, None]
    assert empty.to_pandas()["rate"].isna().all()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "sometimes"}, "type"),
        ({"mode": "before"}, "mode"),
        ({"period": "year"}, "period"),
        ({"periods": 0}, "periods"),
        ({"to": "2026-01-01"}, "to"),
        ({"from": "2010-01-04", "to": "2026-01-01"}, "from"),
        ({"start_event": ""}, "start_event"),
        ({"return_where": [{"property": "$x", "op": "eq", "value": 1}]}, "return_where[0].property"),
    ],
)
def test_bad_parameters_name_the_field(warehouse: Warehouse, change: dict[str, Any], field: str) -> None:
    src = warehouse.load([])
    with pytest.raises(AnalyticsError) as err:
        run_analysis("retention", {**WEEKS, **change}, src)
    assert err.value.field == field
