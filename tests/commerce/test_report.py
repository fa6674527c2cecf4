"""The orders report on hand-computed data: GMV, net, AOV and repurchase rate, by channel and by
staff, over days in the brand's time zone."""

from __future__ import annotations

from datetime import date

import pytest

from siyu.client import Siyu
from siyu.commerce.report import report_rows
from siyu.commerce.schemas import CommerceError
from tests.commerce.conftest import order_call

A, B, C = "13800138001", "13800138002", "13800138003"


@pytest.fixture
def data(s: Siyu) -> None:
    s.batch(
        [
            # 2026-05-31 23:30 in Beijing: outside a June report
            order_call("x0", 1000, phone=A, source="taobao", staff="li", timestamp="2026-05-31T15:30:00Z"),
            # 2026-06-01 00:30 in Beijing (still May 31 in UTC): inside
            order_call("a1", 100, phone=A, source="taobao", staff="li", timestamp="2026-05-31T16:30:00Z"),
            order_call("a2", 50, phone=A, source="store", staff="wang", timestamp="2026-06-10T02:00:00Z"),
            order_call("b1", 200, phone=B, source="taobao", staff="li", timestamp="2026-06-11T02:00:00Z"),
            order_call("b2", 80, phone=B, source="taobao", staff="li", timestamp="2026-06-12T02:00:00Z"),
            order_call("c1", 30, phone=C, source="store", timestamp="2026-06-30T15:59:00Z"),
            # 2026-07-01 00:00 in Beijing: outside
            order_call("c2", 999, phone=C, source="store", timestamp="2026-06-30T16:00:00Z"),
        ]
    )
    s.orders.refund("taobao", "b2", refund_id="all")  # b2 no longer counts as a purchase
    s.orders.refund("taobao", "b1", amount=50, refund_id="part")


def test_figures(s: Siyu, data: None) -> None:
    out = s.orders.report(date(2026, 6, 1), date(2026, 6, 30))
    # orders a1 a2 b1 b2 c1; b2 refunded in full. GMV 460, refunds 130, net 330, 4 orders
    # customers A (2 orders), B (1 counted), C (1): one repeat customer of three
    assert out["total"] == {
        "orders": 4,
        "gmv": "460.00",
        "net": "330.00",
        "aov": "82.50",
        "customers": 3,
        "repeat_customers": 1,
        "repurchase_rate": 0.3333,
    }
    channels = {
        r["source"]: (r["orders"], r["gmv"], r["net"], r["repeat_customers"]) for r in out["by_channel"]
    }
    assert channels == {"taobao": (2, "380.00", "250.00", 0), "store": (2, "80.00", "80.00", 0)}
    assert [r["source"] for r in out["by_channel"]] == ["taobao", "store"]  # by GMV
    assert {r["source"]: r["channel_name"] for r in out["by_channel"]} == {"taobao": "淘宝", "store": "门店"}
    staff = {r["staff"]: (r["orders"], r["net"], r["customers"]) for r in out["by_staff"]}
    assert staff == {"li": (2, "250.00", 2), "wang": (1, "50.00", 1), None: (1, "30.00", 1)}
    csv = report_rows(out)
    assert csv[0][:4] == ["group", "key", "orders", "gmv"] and csv[1][:4] == ["total", "", 4, "460.00"]
    assert len(csv) == 1 + 1 + 2 + 3


def test_empty_range_and_bad_range(s: Siyu, data: None) -> None:
    out = s.orders.report(date(2020, 1, 1), date(2020, 1, 2))
    assert out["total"]["orders"] == 0 and out["total"]["aov"] is None and out["by_channel"] == []
    with pytest.raises(CommerceError) as exc:
        s.orders.report(date(2026, 6, 2), date(2026, 6, 1))
    assert exc.value.field == "until"
