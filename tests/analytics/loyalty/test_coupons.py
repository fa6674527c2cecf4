"""``coupons``: per template, the funnel issued → attempted → redeemed, the discount, the
redeeming orders' GMV, and incremental GMV and ROI against the holdout, over March in Beijing;
a template without a holdout says so."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from tests.analytics.loyalty.rows import ZONE, bj, contacts, order, run, utc

from siyu.analytics.base import AnalyticsError
from siyu.context import AppContext
from siyu.store.models import Coupon, CouponHoldout, CouponRedemption, CouponTemplate

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def campaign(ctx: AppContext) -> None:
    """new50 (¥50 off, with a holdout):
      K1 c1 03-02 redeemed on o1 (250), discount 50    K2 c2 03-02 issued, one failed attempt
      K3 c3 03-03 issued, never tried                  K4 c4 03-03 redeemed on o4 (150, 50 refunded)
      K5 c1 23:00 Beijing 02-28 (before March)         K6 an unassigned code
      holdout: c5, c6, c7 on 03-02, c8 in April, and c1 (also issued: counts as issued)
    March orders: c1 250 + 50, c2 100, c4 150 − 50, c5 60, c6 90 fully refunded + 30; c7 500 in April.
    → issued 4, attempted 3, redeemed 2, discount 100, redeemed GMV 250 + 100 = 350;
      GMV per issued contact (300 + 100 + 0 + 100) / 4 = 125, per held-out (60 + 30 + 0) / 3 = 30;
      incremental (125 − 30) × 4 = 380; ROI (380 − 100) / 100 = 2.8.
    vip20 (no holdout): K7 c9 redeemed on o9 (80), discount 20; K8 c10 expired.
    old: K9 issued in January only."""
    with ctx.db.session() as s:
        c = contacts(s, 10)
        new50 = CouponTemplate(key="new50", name="新客50元券", kind="fixed", amount=Decimal(50))
        vip20 = CouponTemplate(key="vip20", name="会员20元券", kind="fixed", amount=Decimal(20))
        old = CouponTemplate(key="old", name="旧券", kind="fixed", amount=Decimal(5))
        s.add_all([new50, vip20, old])
        s.flush()

        def coupon(
            template: CouponTemplate,
            code: str,
            contact: int | None,
            at: datetime | None,
            status: str = "issued",
            order_no: str | None = None,
            discount: str | None = None,
        ) -> Coupon:
            row = Coupon(
                template_id=template.id,
                code=code,
                contact_id=contact,
                status=status,
                issued_at=at,
                order_source="mini_program" if order_no else None,
                order_no=order_no,
                discount=Decimal(discount) if discount else None,
                redeemed_at=at if order_no else None,
            )
            s.add(row)
            s.flush()
            return row

        k1 = coupon(new50, "K1", c[0], bj("2026-03-02 10:00"), "redeemed", "o1", "50")
        k2 = coupon(new50, "K2", c[1], bj("2026-03-02 10:00"))
        coupon(new50, "K3", c[2], bj("2026-03-03 10:00"))
        k4 = coupon(new50, "K4", c[3], bj("2026-03-03 10:00"), "redeemed", "o4", "50")
        coupon(new50, "K5", c[0], bj("2026-02-28 23:00"))
        coupon(new50, "K6", None, None, "unassigned")
        k7 = coupon(vip20, "K7", c[8], bj("2026-03-10 10:00"), "redeemed", "o9", "20")
        coupon(vip20, "K8", c[9], bj("2026-03-11 10:00"), "expired")
        coupon(old, "K9", c[0], utc("2026-01-01 00:00"))
        for k, status, reason in (
            (k1, "succeeded", None),
            (k2, "failed", "min_order"),
            (k4, "succeeded", None),
        ):
            s.add(
                CouponRedemption(
                    coupon_id=k.id,
                    template_id=k.template_id,
                    contact_id=k.contact_id,
                    code=k.code,
                    order_no=k.order_no or "o-try",
                    status=status,
                    reason=reason,
                )
            )
        s.add(CouponRedemption(coupon_id=k7.id, code="K7", order_no="o9", status="succeeded"))
        for i, at in (
            (4, "2026-03-02"),
            (5, "2026-03-02"),
            (6, "2026-03-02"),
            (7, "2026-04-05"),
            (0, "2026-03-02"),
        ):
            s.add(CouponHoldout(template_id=new50.id, contact_id=c[i], at=bj(f"{at} 09:00")))
        order(s, c[0], "o1", bj("2026-03-05 12:00"), "250")
        order(s, c[0], "o1b", bj("2026-03-20 12:00"), "50")
        order(s, c[1], "o2", bj("2026-03-06 12:00"), "100")
        order(s, c[3], "o4", bj("2026-03-07 12:00"), "150", refunded="50")
        order(s, c[4], "o5", bj("2026-03-10 12:00"), "60")
        order(s, c[5], "o6", bj("2026-03-12 12:00"), "90", refunded="90")
        order(s, c[5], "o6b", bj("2026-03-13 12:00"), "30")
        order(s, c[6], "o7", bj("2026-04-02 12:00"), "500")
        order(s, c[8], "o9", bj("2026-03-10 12:00"), "80")
        s.commit()


def test_funnel_discount_incremental_gmv_and_roi(ctx: AppContext, campaign: None, snapshot: Any) -> None:
    result = run(ctx, "coupons", **MARCH, timezone=ZONE)
    rows = {r["template"]: r for r in result.to_dict()["rows"]}
    assert sorted(rows) == ["new50", "vip20"]  # old: nothing in March
    assert rows["new50"] == {
        "template": "new50",
        "template_name": "新客50元券",
        "issued": 4,
        "attempted": 3,
        "redeemed": 2,
        "redemption_rate": 0.5,
        "discount": 100.0,
        "redeemed_gmv": 350.0,
        "issued_contacts": 4,
        "holdout_contacts": 3,
        "gmv_per_issued": 125.0,
        "gmv_per_holdout": 30.0,
        "incremental_gmv": 380.0,
        "roi": 2.8,
        "note": None,
    }
    vip = rows["vip20"]
    assert (vip["issued"], vip["attempted"], vip["redeemed"], vip["discount"], vip["redeemed_gmv"]) == (
        2,
        1,
        1,
        20.0,
        80.0,
    )
    assert vip["holdout_contacts"] == 0 and vip["note"] == "no_holdout"
    assert vip["incremental_gmv"] is None and vip["roi"] is None  # said, not pretended
    snapshot(f"coupons_{ctx.db.dialect}", result.sql)
    zh = result.figure(lang="zh")
    assert [t.name for t in zh.data] == ["发放", "尝试核销", "核销"]
    assert list(zh.data[2].y) == [2, 1]


def test_one_template_and_all_time(ctx: AppContext, campaign: None) -> None:
    one = run(ctx, "coupons", template="vip20", **MARCH, timezone=ZONE).to_dict()["rows"]
    assert [r["template"] for r in one] == ["vip20"]
    every = {r["template"]: r for r in run(ctx, "coupons", timezone=ZONE).to_dict()["rows"]}
    # all time: K5 and K9 are issued too, c8 is held out, c7's April order counts
    assert (every["new50"]["issued"], every["new50"]["holdout_contacts"], every["old"]["issued"]) == (5, 4, 1)
    assert every["new50"]["gmv_per_holdout"] == 590 / 4
    quiet = run(ctx, "coupons", template="old", **MARCH).to_dict()["rows"]
    assert quiet[0]["issued"] == 0 and quiet[0]["redemption_rate"] is None


def test_an_unknown_template_is_named(ctx: AppContext, campaign: None) -> None:
    with pytest.raises(AnalyticsError) as err:
        run(ctx, "coupons", template="nope")
    assert err.value.field == "template" and "nope" in err.value.message


def test_a_holdout_without_any_discount_yet_has_no_roi(ctx: AppContext) -> None:
    """Issued and held out, nothing redeemed: incremental GMV is known, ROI (÷ discount 0) is not."""
    with ctx.db.session() as s:
        c = contacts(s, 3)
        t = CouponTemplate(key="quiet", name="安静券 🎫", kind="percent", amount=Decimal(10))
        s.add(t)
        s.flush()
        s.add(
            Coupon(
                template_id=t.id,
                code="Q1",
                contact_id=c[0],
                status="issued",
                issued_at=bj("2026-03-02 10:00"),
            )
        )
        s.add(CouponHoldout(template_id=t.id, contact_id=c[1], at=bj("2026-03-02 10:00")))
        order(s, c[0], "q1", bj("2026-03-05 10:00"), "40")
        order(s, c[1], "q2", bj("2026-03-05 10:00"), "10")
        s.commit()
    row = run(ctx, "coupons", **MARCH, timezone=ZONE).to_dict()["rows"][0]
    assert row["template_name"] == "安静券 🎫"
    assert (row["incremental_gmv"], row["roi"], row["note"]) == (30.0, None, "no_discount")
