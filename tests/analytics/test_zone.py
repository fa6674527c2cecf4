"""Days in the brand's time zone (PostHog's project time zone) on DuckDB and PostgreSQL: an order
at 2026-03-02 00:30 Beijing time is 16:30 UTC on 03-01 in the warehouse, and counts on 03-02
in activity, lifecycle, stickiness, the funnel, retention, paths, the CSV and the dashboard.
The same data in UTC counts it on 03-01, so each assertion fails if the zone is ignored."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from tests.analytics.conftest import Warehouse

from siyu.analytics.base import AnalyticsError, run_analysis
from siyu.analytics.dashboard import dashboard
from siyu.analytics.zone import Zone
from siyu.context import AppContext

BJ = "Asia/Shanghai"
LATE = datetime(2026, 3, 1, 16, 30)  # 2026-03-02 00:30 in Beijing
V, O = "View Product", "Order Completed"  # noqa: E741


def events() -> list[tuple[Any, ...]]:
    return [
        # c1 views at 00:10 and orders at 00:30 Beijing time on 03-02 (still 03-01 in UTC)
        (1, V, datetime(2026, 3, 1, 16, 10)),
        (1, O, LATE, {"amount": 35.04}),
        # c2 views at 09:00 Beijing on 03-01 and comes back at 00:30 Beijing on 03-02
        (2, V, datetime(2026, 3, 1, 1, 0)),
        (2, V, LATE),
    ]


def run(kind: str, params: dict[str, Any], src: Any, zone: str | None = BJ) -> Any:
    return run_analysis(kind, {**params, "timezone": zone}, src, use_cache=False)


def dau(result: Any) -> dict[str, int]:
    return {d["day"]: d["dau"] for d in result.to_dict()["days"]}


def test_activity_counts_local_days(warehouse: Warehouse) -> None:
    src = warehouse.load(events())
    days = {"from": "2026-03-01", "to": "2026-03-02"}
    local = run("activity", days, src)
    assert local.to_dict()["timezone"] == BJ
    assert dau(local) == {"2026-03-01": 1, "2026-03-02": 2}
    assert dau(run("activity", days, src, "UTC")) == {"2026-03-01": 2, "2026-03-02": 0}
    orders = run("activity", {**days, "event": O}, src)
    assert dau(orders) == {"2026-03-01": 0, "2026-03-02": 1}


def test_dst_zone_uses_the_engines_time_zone_database(warehouse: Warehouse) -> None:
    """Europe/Berlin switches to summer time at 01:00 UTC on 2026-03-29: 22:30 UTC is 23:30 on
    03-28 but 00:30 on 03-30 (a constant +1 h would put the second on 03-29)."""
    src = warehouse.load([(1, V, datetime(2026, 3, 28, 22, 30)), (2, V, datetime(2026, 3, 29, 22, 30))])
    days = {"from": "2026-03-28", "to": "2026-03-30"}
    assert Zone.over("Europe/Berlin", date(2026, 3, 28), date(2026, 3, 30)).fixed_offset is None
    assert Zone.over(BJ, date(2026, 3, 28), date(2026, 3, 30)).fixed_offset == 8 * 3600
    berlin = {"2026-03-28": 1, "2026-03-29": 0, "2026-03-30": 1}
    assert dau(run("activity", days, src, "Europe/Berlin")) == berlin
    assert dau(run("activity", days, src, "UTC")) == {"2026-03-28": 1, "2026-03-29": 1, "2026-03-30": 0}


def test_funnel_range_is_local_days(warehouse: Warehouse) -> None:
    src = warehouse.load(events())
    steps = [{"event": V}, {"event": O}]
    on_the_2nd = {"steps": steps, "from": "2026-03-02", "to": "2026-03-02"}
    assert [s["count"] for s in run("funnel", on_the_2nd, src).to_dict()["steps"]] == [2, 1]
    assert [s["count"] for s in run("funnel", on_the_2nd, src, "UTC").to_dict()["steps"]] == [0, 0]


def test_retention_and_lifecycle_cohorts_are_local_days(warehouse: Warehouse) -> None:
    src = warehouse.load(events())
    params = {"start_event": V, "period": "day", "from": "2026-03-01", "to": "2026-03-02"}
    cohorts = [
        (c["start"], c["size"], c["values"]) for c in run("retention", params, src).to_dict()["cohorts"]
    ]
    # c2 starts on 03-01 and returns on 03-02; c1 starts on 03-02
    assert cohorts == [("2026-03-01", 1, [1, 1]), ("2026-03-02", 1, [1])]
    utc = run("retention", params, src, "UTC").to_dict()["cohorts"]
    assert [(c["start"], c["size"]) for c in utc] == [("2026-03-01", 2), ("2026-03-02", 0)]
    life = run("lifecycle", {"period": "day", "from": "2026-03-02", "to": "2026-03-02"}, src)
    assert [(r["period"], r["new"], r["returning"]) for r in life.to_dict()["periods"]] == [
        ("2026-03-02", 1, 1)
    ]


def test_csv_days_are_local_with_the_zone_in_the_header(warehouse: Warehouse) -> None:
    src = warehouse.load(events())
    csv = run("activity", {"from": "2026-03-02", "to": "2026-03-02", "event": O}, src).to_csv()
    header, row = csv.splitlines()
    assert header.split(",")[0] == '"day (Asia/Shanghai)"'
    assert row.split(",")[:2] == ["2026-03-02", "1"]


def test_a_bad_zone_names_the_field(warehouse: Warehouse) -> None:
    src = warehouse.load(events())
    with pytest.raises(AnalyticsError) as exc:
        run("activity", {"from": "2026-03-01", "to": "2026-03-02"}, src, "Asia/Atlantis")
    assert exc.value.field == "timezone" and "Asia/Atlantis" in exc.value.message
    with pytest.raises(AnalyticsError) as exc:
        run("activity", {}, src, "UTC'; DROP TABLE events; --")
    assert exc.value.field == "timezone"


def test_dashboard_today_is_the_brands(warehouse: Warehouse, ctx: AppContext) -> None:
    src = warehouse.load(events())
    with ctx.db.session() as session:
        local = dashboard(session, src, today=date(2026, 3, 2), days=7, timezone=BJ)
        assert local.timezone == BJ
        assert local.dau == 2  # both were active on 03-02 in Beijing
        assert [(r["day"], r["orders"]) for r in local.orders_by_day] == [(date(2026, 3, 2), 1)]
        assert local.revenue == pytest.approx(35.04)
        assert local.new_today == 1  # c1 first seen at 00:10 on 03-02
        utc = dashboard(session, src, today=date(2026, 3, 2), days=7, timezone="UTC")
        assert utc.dau == 0 and [r["day"] for r in utc.orders_by_day] == [date(2026, 3, 1)]
        assert utc.new_today == 0


def test_attribution_days_are_local(warehouse: Warehouse) -> None:
    src = warehouse.load(events(), touches=[(1, 7, datetime(2026, 3, 1, 12, 0))])
    params = {"model": "last_touch", "from": "2026-03-02", "to": "2026-03-02"}
    local = run("attribution", params, src).to_dict()
    utc = run("attribution", params, src, "UTC").to_dict()
    # the order at 00:30 Beijing on 03-02 (16:30 UTC on 03-01) is in the local day only
    assert sum(r["conversions"] for r in local) == 1
    assert sum(r["conversions"] for r in utc) == 0


def test_roi_acquisition_days_are_local(warehouse: Warehouse, ctx: AppContext) -> None:
    src = warehouse.load(events())
    params = {"from": "2026-03-02", "to": "2026-03-02"}
    with ctx.db.session() as session:
        local = run_analysis("roi", {**params, "timezone": BJ}, src, session).to_dict()
        utc = run_analysis("roi", {**params, "timezone": "UTC"}, src, session).to_dict()
    # c1 first seen at 00:10 Beijing on 03-02 and ordered ¥35.04 at 00:30
    assert (local["total"]["acquired"], local["total"]["revenue"]) == (1, pytest.approx(35.04))
    assert (utc["total"]["acquired"], utc["total"]["revenue"]) == (0, 0)
