"""``member_repurchase`` on hand-made orders, every figure worked out below, on SQLite and
PostgreSQL; the range is the brand's days (Beijing), which the UTC run shows by moving orders
and an enrolment across midnight."""

from __future__ import annotations

from typing import Any

import pytest
from tests.analytics.loyalty.rows import ZONE, bj, contacts, order, run

from siyu.analytics.base import AnalyticsError
from siyu.context import AppContext
from siyu.store.models import LoyaltyMember

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def march(ctx: AppContext) -> list[int]:
    """c1..c3 members since January, c5 enrolled 23:00 Beijing on the range's last day, c4
    enrolled after the range (a non-member in it); c6..c8 never enrolled.

    counted orders (Beijing):   c1: 100 + 200           → 2 orders, 300
                                c2: 300 (+ 50 fully refunded) → 1, 300
                                c3: 80 at 00:30 on 03-01, 120 − 20 refunded at 23:30 on 03-31 → 2, 180
                                c5: 60                   → 1, 60
                                c4: 40 + 60 + 100        → 3, 200
                                c6: 70 (500 just before, 500 just after the range) → 1, 70
                                c7: a free order (0) counts; a USD order does not → 1, 0
                                c8: only a fully refunded order → not a buyer
    members 4 buyers, 2 repeat, 6 orders, ¥840; non-members 3 buyers, 1 repeat, 5 orders, ¥270.
    """
    with ctx.db.session() as s:
        c = contacts(s, 8)
        for i in (0, 1, 2):
            s.add(LoyaltyMember(contact_id=c[i], member_no=f"M{i}", enrolled_at=bj("2026-01-01 10:00")))
        s.add(LoyaltyMember(contact_id=c[3], member_no="M3", enrolled_at=bj("2026-04-05 10:00")))
        s.add(LoyaltyMember(contact_id=c[4], member_no="M4", enrolled_at=bj("2026-03-31 23:00")))
        order(s, c[0], "o1", bj("2026-03-02 12:00"), "100")
        order(s, c[0], "o2", bj("2026-03-10 12:00"), "200")
        order(s, c[1], "o3", bj("2026-03-05 12:00"), "300")
        order(s, c[1], "o4", bj("2026-03-06 12:00"), "50", refunded="50")
        order(s, c[2], "o5", bj("2026-03-01 00:30"), "80")
        order(s, c[2], "o6", bj("2026-03-31 23:30"), "120", refunded="20")
        order(s, c[4], "o7", bj("2026-03-20 12:00"), "60")
        for no, day, amount in (("o8", "03", "40"), ("o9", "04", "60"), ("o10", "05", "100")):
            order(s, c[3], no, bj(f"2026-03-{day} 09:00"), amount)
        order(s, c[5], "o11", bj("2026-02-28 23:30"), "500")
        order(s, c[5], "o12", bj("2026-04-01 00:10"), "500")
        order(s, c[5], "o13", bj("2026-03-15 12:00"), "70")
        order(s, c[6], "o14", bj("2026-03-08 12:00"), "30", currency="USD")
        order(s, c[6], "o15", bj("2026-03-09 12:00"), "0")
        order(s, c[7], "o16", bj("2026-03-11 12:00"), "90", refunded="90")
        s.commit()
        return c


def by_segment(result: Any) -> dict[str, dict[str, Any]]:
    return {r["segment"]: r for r in result.to_dict()["rows"]}


def test_repurchase_and_aov_by_membership_in_the_brands_days(
    ctx: AppContext, march: list[int], snapshot: Any
) -> None:
    result = run(ctx, "member_repurchase", **MARCH, timezone=ZONE)
    rows = by_segment(result)
    assert rows["members"] == {
        "segment": "members",
        "buyers": 4,
        "repeat_buyers": 2,
        "repurchase_rate": 0.5,
        "orders": 6,
        "gmv": 840.0,
        "aov": 140.0,
        "orders_per_buyer": 1.5,
    }
    assert rows["non_members"] == {
        "segment": "non_members",
        "buyers": 3,
        "repeat_buyers": 1,
        "repurchase_rate": round(1 / 3, 6),
        "orders": 5,
        "gmv": 270.0,
        "aov": 54.0,
        "orders_per_buyer": round(5 / 3, 6),
    }
    assert rows["all"]["buyers"] == 7 and rows["all"]["repeat_buyers"] == 3
    assert rows["all"]["gmv"] == 1110.0 and rows["all"]["aov"] == 100.91  # 1110 / 11
    payload = result.to_dict()
    assert payload["difference"] == pytest.approx(0.5 - 1 / 3, abs=1e-6)
    assert (payload["from"], payload["to"], payload["timezone"]) == ("2026-03-01", "2026-03-31", ZONE)
    assert result.frame().column_names[0] == "segment"
    assert "Asia/Shanghai" not in result.to_csv()  # no times in this table
    snapshot(f"member_repurchase_{ctx.db.dialect}", result.sql)
    figure = result.figure(lang="zh")
    assert list(figure.data[0].x) == ["会员", "非会员", "全部"]


def test_the_same_range_in_utc_moves_orders_across_midnight(ctx: AppContext, march: list[int]) -> None:
    """In UTC, c3's 00:30 Beijing order falls on 02-28 (c3 no longer repeats) and c6's 00:10
    Beijing order on 04-01 falls on 03-31 (c6 repeats); c5's enrolment is still in range."""
    rows = by_segment(run(ctx, "member_repurchase", **MARCH, timezone="UTC"))
    assert (rows["members"]["buyers"], rows["members"]["repeat_buyers"]) == (4, 1)
    assert (rows["non_members"]["buyers"], rows["non_members"]["repeat_buyers"]) == (3, 2)
    assert rows["non_members"]["gmv"] == 770.0


def test_no_orders_gives_unknown_rates_not_zero(ctx: AppContext) -> None:
    rows = by_segment(run(ctx, "member_repurchase", **MARCH))
    assert rows["members"]["buyers"] == 0
    assert rows["members"]["repurchase_rate"] is None and rows["all"]["aov"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-31", "to": "2026-03-01"}, ""),
        ({"from": "9999-01-01"}, "from"),
        ({"currency": "rmb"}, "currency"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_bad_parameters_name_the_field(ctx: AppContext, params: dict[str, Any], field: str) -> None:
    with pytest.raises(AnalyticsError) as err:
        run(ctx, "member_repurchase", **params)
    assert err.value.field == field
