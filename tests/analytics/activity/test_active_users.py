"""DAU/WAU/MAU, DAU/MAU stickiness and the stickiness histogram on hand-made events, on every
engine. Expected numbers are worked out by hand in the comments (T0 = day 0 = Monday 2026-01-05)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from tests.analytics.conftest import Warehouse, day

from siyu.analytics.base import AnalyticsError, run_analysis

D10 = day(10).date()  # 2026-01-15


def rows(result: Any) -> list[tuple[str, int, int, int, float | None]]:
    return [(d["day"], d["dau"], d["wau"], d["mau"], d["stickiness"]) for d in result.to_dict()["days"]]


def activity_events() -> list[tuple[Any, ...]]:
    return [
        # c1: twice at the very same moment on day 0 (a tie counts once), and on day 10
        (1, "Page Viewed", day(0, 9)),
        (1, "Page Viewed", day(0, 9)),
        (1, "Content Clicked", day(10, 23.99)),
        # c2: only on day -19, the first day of day 10's 30-day window (and not of day 11's)
        (2, "Page Viewed", day(-19, 0)),
        # c3: orders on days 9 and 11
        (3, "Order Completed", day(9, 12), {"amount": 50}),
        (3, "Order Completed", day(11, 0), {"amount": 150}),
        # c4: a system event is not activity
        (4, "tag.added", day(10, 8)),
        # c5: long before any window
        (5, "Page Viewed", day(-40)),
    ]


def test_dau_wau_mau_trailing_windows_inclusive(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(activity_events())
    result = run_analysis("activity", {"from": "2026-01-15", "to": "2026-01-17"}, src)
    # day 10: DAU {c1}; WAU days 4-10 {c1, c3}; MAU days -19..10 {c1, c2, c3}
    # day 11: DAU {c3}; WAU days 5-11 {c1, c3}; MAU days -18..11 {c1, c3} (c2 dropped out)
    # day 12: DAU {};   WAU days 6-12 {c1, c3}; MAU {c1, c3}
    assert rows(result) == [
        ("2026-01-15", 1, 2, 3, pytest.approx(1 / 3)),
        ("2026-01-16", 1, 2, 2, 0.5),
        ("2026-01-17", 0, 2, 2, 0.0),
    ]
    frame = result.to_pandas()
    assert list(frame.columns) == ["day", "dau", "wau", "mau", "stickiness"]
    assert frame["dau"].tolist() == [1, 1, 0]
    assert result.to_dict()["from"] == "2026-01-15" and result.to_dict()["event"] is None
    assert len(result.figure().data) == 4
    if src.engine == "duckdb":
        snapshot("activity", result.sql)


def test_any_event_star_is_the_default(warehouse: Warehouse) -> None:
    src = warehouse.load(activity_events())
    default = run_analysis("activity", {"from": "2026-01-15", "to": "2026-01-17"}, src)
    star = run_analysis("activity", {"from": "2026-01-15", "to": "2026-01-17", "event": "*"}, src)
    assert rows(star) == rows(default)


def set_type(src: Any, event_id: int, kind: str) -> None:
    """The fixture loads every event as a track call; make one another call type."""
    if src.engine == "duckdb":
        src.conn.execute("UPDATE events SET type = ? WHERE id = ?", [kind, event_id])
        return
    with src.db.begin() as conn:
        conn.execute(text(f'SET LOCAL search_path TO "{src.schema}"'))
        conn.execute(text("UPDATE events SET type = :k WHERE id = :i"), {"k": kind, "i": event_id})


def test_only_track_page_screen_calls_are_activity(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            (1, "Page Viewed", day(0, 9)),  # id 1: a page call
            (2, "Identified", day(0, 9)),  # id 2: an identify call
            (3, "Grouped", day(0, 9)),  # id 3: a group call
            (4, "Screen Viewed", day(0, 10)),  # id 4: a screen call
        ]
    )
    for event_id, kind in ((1, "page"), (2, "identify"), (3, "group"), (4, "screen")):
        set_type(src, event_id, kind)
    result = run_analysis("activity", {"from": "2026-01-05", "to": "2026-01-05"}, src, use_cache=False)
    assert rows(result) == [("2026-01-05", 2, 2, 2, 1.0)]  # contacts 1 and 4
    # a named event matches whatever the call type
    named = run_analysis("activity", {"from": "2026-01-05", "to": "2026-01-05", "event": "Identified"}, src)
    assert rows(named)[0][1] == 1


def test_event_and_property_filter(warehouse: Warehouse) -> None:
    src = warehouse.load(activity_events())
    params = {
        "from": "2026-01-15",
        "to": "2026-01-17",
        "event": "Order Completed",
        "where": [{"property": "amount", "op": "gt", "value": 100}],
    }
    # only c3's order of day 11 matches: nobody is active on day 10 at all → stickiness null
    assert rows(run_analysis("activity", params, src)) == [
        ("2026-01-15", 0, 0, 0, None),
        ("2026-01-16", 1, 1, 1, 1.0),
        ("2026-01-17", 0, 1, 1, 0.0),
    ]
    # ne also matches events without the property: c3's day-9 order (amount 50) only
    params["where"] = [{"property": "amount", "op": "ne", "value": 150}]
    assert rows(run_analysis("activity", params, src))[0] == ("2026-01-15", 0, 1, 1, 0.0)


def naive_activity(active: dict[int, set[date]], first: date, last: date) -> list[tuple[str, int, int, int]]:
    """The definition, literally: distinct contacts with an active day in [t - n + 1, t]."""
    out = []
    t = first
    while t <= last:
        counts = [
            sum(1 for days in active.values() if any(t - timedelta(days=n - 1) <= d <= t for d in days))
            for n in (1, 7, 30)
        ]
        out.append((t.isoformat(), *counts))
        t += timedelta(days=1)
    return out


def test_long_range_across_bitmap_words(warehouse: Warehouse) -> None:
    """130 days of bitmap (three 63-bit words): windows that cross the words' edges."""
    first, last = date(2026, 1, 5), date(2026, 4, 14)  # 100 days, bits from 29 days before
    # day offsets from the bitmap's origin (first - 29): 62/63 and 125/126 sit on word edges
    offsets = {1: [0, 62], 2: [63], 3: [61, 125, 126], 4: [129], 5: [100, 101, 102]}
    origin = first - timedelta(days=29)
    events = [
        (
            cid,
            "Page Viewed",
            datetime.combine(origin + timedelta(days=o), datetime.min.time()) + timedelta(hours=5),
        )
        for cid, offs in offsets.items()
        for o in offs
    ]
    src = warehouse.load(events)
    result = run_analysis("activity", {"from": first.isoformat(), "to": last.isoformat()}, src)
    active = {cid: {origin + timedelta(days=o) for o in offs} for cid, offs in offsets.items()}
    assert [r[:4] for r in rows(result)] == naive_activity(active, first, last)
    # spot checks by hand: offset 62 is day 33 after `first`; c1 (62) and c3 (61) are in its
    # WAU and MAU (offsets 33-62), c2 (63) joins them the next day
    by_day = {r[0]: r for r in rows(result)}
    assert by_day[(first + timedelta(days=33)).isoformat()][1:4] == (1, 2, 2)
    assert by_day[(first + timedelta(days=34)).isoformat()][1:4] == (1, 3, 3)


def test_empty_warehouse_and_range(warehouse: Warehouse) -> None:
    src = warehouse.load([(1, "Page Viewed", day(0))])
    result = run_analysis("activity", {"from": "2027-02-27", "to": "2027-03-01"}, src)
    assert rows(result) == [
        ("2027-02-27", 0, 0, 0, None),
        ("2027-02-28", 0, 0, 0, None),
        ("2027-03-01", 0, 0, 0, None),
    ]


def test_bad_parameters_name_the_field(warehouse: Warehouse) -> None:
    src = warehouse.load([])
    with pytest.raises(AnalyticsError) as err:
        run_analysis("activity", {"from": "2026-01-10", "to": "2026-01-09"}, src)
    assert err.value.field == "to"
    with pytest.raises(AnalyticsError) as err:
        run_analysis("activity", {"from": "2000-01-01", "to": "2026-01-09"}, src)
    assert err.value.field == "from"
    with pytest.raises(AnalyticsError) as err:
        run_analysis("activity", {"to": "2026-01-09", "where": [{"property": "a", "op": "zz"}]}, src)
    assert err.value.field == "where[0].op"
    with pytest.raises(AnalyticsError) as err:
        run_analysis("activity", {"to": "2026-01-09", "events": "x"}, src)
    assert err.value.field == "events"


def test_default_range_is_the_last_30_days() -> None:
    from siyu.analytics.activity.active_users import ActivityParams

    p = ActivityParams.model_validate({"to": "2026-03-31"})
    assert (p.from_, p.to) == (date(2026, 3, 2), date(2026, 3, 31))
    assert ActivityParams.model_validate({"from_": "2026-03-01", "to": "2026-03-02"}).from_ == date(
        2026, 3, 1
    )


# --- stickiness -------------------------------------------------------------------------------------------
def hist(result: Any) -> list[tuple[int, int]]:
    return [(h["intervals"], h["contacts"]) for h in result.to_dict()["histogram"]]


def test_stickiness_days(warehouse: Warehouse, snapshot: Any) -> None:
    src = warehouse.load(
        [
            (1, "Page Viewed", day(0, 9)),  # c1: days 0 (twice, same moment) and 3 → 2 days
            (1, "Page Viewed", day(0, 9)),
            (1, "Page Viewed", day(3, 23.5)),
            (2, "Page Viewed", day(1)),  # c2: days 1, 2, 6 → 3 days
            (2, "Page Viewed", day(2)),
            (2, "Page Viewed", day(6, 23.99)),
            (3, "Page Viewed", day(-1, 23.99)),  # c3: day -1 is outside, day 5 → 1 day
            (3, "Page Viewed", day(5)),
            (4, "Page Viewed", day(7)),  # c4: after the range
            (5, "segment.entered", day(2)),  # system event
        ]
    )
    result = run_analysis("stickiness", {"from": "2026-01-05", "to": "2026-01-11", "interval": "day"}, src)
    assert hist(result) == [(1, 1), (2, 1), (3, 1), (4, 0), (5, 0), (6, 0), (7, 0)]
    payload = result.to_dict()
    assert (payload["total_intervals"], payload["contacts"]) == (7, 3)
    assert payload["histogram"][0]["share"] == pytest.approx(1 / 3)
    assert result.to_pandas()["contacts"].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert len(result.figure().data) == 1
    if src.engine == "duckdb":
        snapshot("stickiness_day", result.sql)


def test_stickiness_weeks_are_whole_weeks_from_monday(warehouse: Warehouse) -> None:
    # from Wednesday 2026-01-07 to Tuesday 2026-01-20: the weeks of Jan 5, 12 and 19
    src = warehouse.load(
        [
            (1, "Page Viewed", datetime(2026, 1, 5, 0, 0)),  # Monday of the first week
            (1, "Page Viewed", datetime(2026, 1, 19, 8)),
            (2, "Page Viewed", datetime(2026, 1, 25, 23, 59, 59)),  # Sunday of the last week
            (3, "Page Viewed", datetime(2026, 1, 26, 0, 0)),  # the Monday after: outside
            (4, "Page Viewed", datetime(2026, 1, 4, 23, 59, 59)),  # the Sunday before: outside
        ]
    )
    result = run_analysis("stickiness", {"from": "2026-01-07", "to": "2026-01-20", "interval": "week"}, src)
    assert hist(result) == [(1, 1), (2, 1), (3, 0)]
    assert result.to_dict()["first_interval"] == "2026-01-05"


def test_stickiness_months(warehouse: Warehouse) -> None:
    src = warehouse.load(
        [
            (1, "Page Viewed", datetime(2026, 1, 31, 23, 59, 59)),  # Jan and Feb → 2
            (1, "Page Viewed", datetime(2026, 2, 1, 0, 0)),
            (2, "Page Viewed", datetime(2026, 2, 28, 12)),  # Feb and Mar → 2
            (2, "Page Viewed", datetime(2026, 3, 1, 0, 0)),
            (3, "Page Viewed", datetime(2026, 3, 31, 23)),  # Mar → 1
        ]
    )
    result = run_analysis("stickiness", {"from": "2026-01-31", "to": "2026-03-01", "interval": "month"}, src)
    assert hist(result) == [(1, 1), (2, 2), (3, 0)]


def test_stickiness_empty(warehouse: Warehouse) -> None:
    src = warehouse.load([])
    result = run_analysis("stickiness", {"from": "2026-01-05", "to": "2026-01-06"}, src)
    assert hist(result) == [(1, 0), (2, 0)]
    assert result.to_dict()["histogram"][0]["share"] is None
