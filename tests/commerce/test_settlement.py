"""Orders settle coupons and points: a booked order redeems its coupon and earns its member
points; a refund claws the points back and applies the coupon's refund rule."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.coupons.service import CouponService
from siyu.coupons.templates import TemplateService
from siyu.loyalty.service import LoyaltyService
from tests.commerce.conftest import order_call, refund_call, rows

NOW = datetime.now(UTC)


def setup(s: Siyu, ctx: AppContext) -> tuple[int, str]:
    s.identify({"phone": "13800138000"})
    cid = rows(ctx, "SELECT id FROM contacts")[0][0]
    with ctx.db.session() as session:
        LoyaltyService(session).enrol(cid)
        TemplateService(session).create(
            {
                "key": "t20",
                "name": "满100减20",
                "kind": "threshold",
                "amount": "20",
                "min_order": "100",
                "valid_days": 30,
            }
        )
        coupon = CouponService(session).issue("t20", cid, issued_by="test", external_id="c1")
        assert coupon is not None
        return cid, coupon.code


def test_order_redeems_coupon_and_earns_points_refund_reverses(s: Siyu, ctx: AppContext) -> None:
    cid, code = setup(s, ctx)
    at = NOW.isoformat()
    s.batch([order_call("O1", 280, coupon=code, discount=20, source="youzan", timestamp=at)])
    assert rows(ctx, "SELECT status, order_no FROM coupons WHERE code = :c", c=code) == [("redeemed", "O1")]
    earned = rows(
        ctx, "SELECT points, status FROM points_entries WHERE kind = 'award' AND contact_id = :c", c=cid
    )
    assert earned == [(280, "pending")]  # ¥1 = 1 point, pending through the refund window
    # the same single-use coupon on another order: the order is booked, the refusal is shown
    s.batch([order_call("O2", 150, coupon=code, source="youzan", timestamp=at)])
    assert [no for (no,) in rows(ctx, "SELECT order_no FROM orders ORDER BY order_no")] == ["O1", "O2"]
    problems = s.orders.problems()["problems"]
    assert [(p["order_id"], p["code"]) for p in problems] == [("O2", "coupon_refused")]
    assert "already_redeemed" in problems[0]["message"]
    # a partial refund keeps the coupon used and claws back points in proportion
    s.batch([refund_call("O1", source="youzan", refund_id="r1", amount=70)])
    assert rows(ctx, "SELECT status FROM coupons WHERE code = :c", c=code) == [("redeemed",)]
    clawed = rows(
        ctx, "SELECT sum(points) FROM points_entries WHERE kind = 'clawback' AND contact_id = :c", c=cid
    )
    assert clawed == [(-70,)]
    # the full refund gives the coupon back (the template's rule: restore) and takes every point
    s.batch([refund_call("O1", source="youzan", refund_id="r2")])
    assert rows(ctx, "SELECT status FROM coupons WHERE code = :c", c=code) == [("issued",)]
    clawed = rows(
        ctx, "SELECT sum(points) FROM points_entries WHERE kind = 'clawback' AND contact_id = :c", c=cid
    )
    assert clawed == [(-280,)]


def test_non_member_books_orders_without_points(s: Siyu, ctx: AppContext) -> None:
    s.batch([order_call("N1", 99, phone="13800138055")])
    assert rows(ctx, "SELECT count(*) FROM orders") == [(1,)]
    assert rows(ctx, "SELECT count(*) FROM points_entries") == [(0,)]
