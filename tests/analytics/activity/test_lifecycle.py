"""Lifecycle (new / returning / resurrecting / dormant) on hand-made contacts, on every engine.

Weeks start on Monday: W0 = 2026-01-05, W1 = 01-12, W2 = 01-19; the range shows W1 and W2 and
the runner reads W0 for their "previous period"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.analytics.conftest import Warehouse

from siyu.analytics.base import AnalyticsError, run_analysis

OLD = datetime(2025, 12, 1)


def table(result: Any) -> list[tuple[str, int, int, int, int]]:
    return [
        (p["period"], p["new"], p["returning"], p["resurrecting"], p["dormant"])
        for p in result.to_dict()["periods"]
    ]


def test_weekly_statuses(warehouse: Warehouse, snapshot: Any) -> None:
    created = {
        "a": datetime(2026, 1, 13),  # W1
        "b": OLD,
        "c": OLD,
        "d": datetime(2026, 1, 14),  # W1, but active before it was created
        "e": datetime(2026, 1, 12),  # W1, first active in W2
        "f": datetime(2026, 1, 6),  # W0
        "g": datetime(2026, 1, 20),  # W2
        "h": datetime(2026, 1, 13),  # W1, only a system event
        "i": datetime(2026, 1, 15, 12),  # W1, first event earlier the same week
    }
    ids = {k: n for n, k in enumerate(created, start=1)}
    ev = [
        ("a", datetime(2026, 1, 13, 10)),
        ("a", datetime(2026, 1, 19, 0, 0)),
        ("b", datetime(2026, 1, 11, 23, 59, 59)),  # W0, last second
        ("b", datetime(2026, 1, 12, 0, 0)),  # W1, first second
        ("c", datetime(2025, 12, 22, 10)),  # long before the window
        ("c", datetime(2026, 1, 25, 23)),
        ("d", datetime(2025, 12, 20, 10)),  # before the scanned window and before creation
        ("d", datetime(2026, 1, 14, 9)),
        ("e", datetime(2026, 1, 20, 9)),
        ("f", datetime(2026, 1, 6, 9)),
        ("g", datetime(2026, 1, 21, 9)),  # twice at the same moment
        ("g", datetime(2026, 1, 21, 9)),
        ("i", datetime(2026, 1, 13, 9)),
    ]
    src = warehouse.load(
        [(ids[k], "Page Viewed", ts) for k, ts in ev] + [(ids["h"], "tag.added", datetime(2026, 1, 13, 11))],
        contacts=[{"id": ids[k], "created_at": ts} for k, ts in created.items()],
    )
    result = run_analysis("lifecycle", {"from": "2026-01-12", "to": "2026-01-25", "period": "week"}, src)
    # W1: new a, i (created and first active in W1); returning b; resurrecting d (active before
    #     creation, so W1 is not its first active week); dormant f (W0, not W1)
    # W2: new g; returning a; resurrecting c (gap), e (created W1, first active W2); dormant b, d, i
    assert table(result) == [
        ("2026-01-12", 2, 1, 1, -1),
        ("2026-01-19", 1, 1, 2, -3),
    ]
    frame = result.to_pandas()
    assert list(frame.columns) == ["period", "new", "returning", "resurrecting", "dormant"]
    assert frame["dormant"].tolist() == [-1, -3]
    assert len(result.figure().data) == 4
    if src.engine == "duckdb":
        snapshot("lifecycle_week", result.sql)


def test_monthly_boundaries(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            (1, "Order Completed", datetime(2026, 1, 31, 23, 59, 59)),  # x: Jan and Feb
            (1, "Order Completed", datetime(2026, 2, 1, 0, 0)),
            (2, "Order Completed", datetime(2026, 2, 28, 23)),  # y: created Feb 1 00:00, Feb only
            (3, "Order Completed", datetime(2026, 3, 1, 0, 0)),  # z: created Jan 1, Mar only
            (4, "Page Viewed", datetime(2026, 2, 10)),  # another event: not counted
        ],
        contacts=[
            {"id": 1, "created_at": datetime(2026, 1, 10)},
            {"id": 2, "created_at": datetime(2026, 2, 1)},
            {"id": 3, "created_at": datetime(2026, 1, 1)},
            {"id": 4, "created_at": datetime(2026, 2, 10)},
        ],
    )
    params = {"from": "2026-02-15", "to": "2026-03-02", "period": "month", "event": "Order Completed"}
    # Feb: new y, returning x; Mar: resurrecting z, dormant x and y
    assert table(run_analysis("lifecycle", params, src)) == [
        ("2026-02-01", 1, 1, 0, 0),
        ("2026-03-01", 0, 0, 1, -2),
    ]


def test_daily_with_creation_defaults_and_empty_days(warehouse: Warehouse) -> None:
    # contacts without a row in `contacts` are created at their first event by the fixture
    src = warehouse.load(
        [
            (1, "Page Viewed", datetime(2026, 1, 5, 10)),
            (1, "Page Viewed", datetime(2026, 1, 6, 10)),
            (2, "Page Viewed", datetime(2026, 1, 4, 10)),  # the day before the range
            (2, "Page Viewed", datetime(2026, 1, 7, 10)),
        ]
    )
    result = run_analysis("lifecycle", {"from": "2026-01-05", "to": "2026-01-08", "period": "day"}, src)
    # Jan 5: new 1, dormant 2; Jan 6: returning 1; Jan 7: resurrecting 2, dormant 1; Jan 8: dormant 2
    assert table(result) == [
        ("2026-01-05", 1, 0, 0, -1),
        ("2026-01-06", 0, 1, 0, 0),
        ("2026-01-07", 0, 0, 1, -1),
        ("2026-01-08", 0, 0, 0, -1),
    ]


def test_empty(warehouse: Warehouse) -> None:
    src = warehouse.load([])
    result = run_analysis("lifecycle", {"from": "2026-01-05", "to": "2026-01-18", "period": "week"}, src)
    assert table(result) == [("2026-01-05", 0, 0, 0, 0), ("2026-01-12", 0, 0, 0, 0)]


def test_bad_period(warehouse: Warehouse) -> None:
    src = warehouse.load([])
    with pytest.raises(AnalyticsError) as err:
        run_analysis("lifecycle", {"from": "2026-01-05", "to": "2026-01-18", "period": "year"}, src)
    assert err.value.field == "period"
