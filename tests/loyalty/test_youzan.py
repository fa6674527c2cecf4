"""The 有赞 scenario end to end, on a fixed clock through the real order, coupon and loyalty
services: a member orders ¥300; the points stay pending 7 days, then become active; with them
the member crosses a tier (points still refundable do not count) and gets its upgrade coupon;
redeems it on the next order, which is refunded (points clawed back, the coupon's refund rule
applied); drops one tier at period end; and 30 days before the points expire the ``Points
Expiring`` event a reminder SOP triggers on is there."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from siyu.commerce.schemas import OrderIn, RefundIn
from siyu.commerce.service import OrderService
from siyu.context import AppContext
from siyu.coupons.service import CouponService
from siyu.coupons.templates import TemplateService
from siyu.loyalty.jobs import run_jobs
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier
from siyu.loyalty.verify import verify
from siyu.store.models import Coupon, Event, LoyaltyMember, LoyaltyTier

from .helpers import at, new_contact


def tier(s, cid: int) -> str:
    return s.get(LoyaltyTier, s.get(LoyaltyMember, cid).tier_id).key


def test_youzan_member_journey(ctx: AppContext) -> None:
    cid = new_contact(ctx, "+8613800138099")
    with ctx.db.session() as s:
        update_programme(s, {"pending_days": 7, "tier_window_days": 180, "tier_period_days": 365})
        TemplateService(s, now=at(0)).create(
            {"key": "gold_gift", "name": "金卡礼券", "kind": "fixed", "amount": "20", "valid_days": 60}
        )
        add_tier(s, "base", {"name": "普通会员", "threshold": 0})
        add_tier(s, "silver", {"name": "银卡", "threshold": 100})
        add_tier(
            s, "gold", {"name": "金卡", "threshold": 300, "multiplier": 2, "upgrade_coupon": "gold_gift"}
        )
        LoyaltyService(s, now=at(0)).enrol(cid, source="youzan")
        # 1. a ¥300 order: points pending through the refund window, which do not lift a tier
        OrderService(s, now=at(0)).book([OrderIn("youzan", "YZ1", cid, Decimal(300), at(0))])
        bal = Ledger(s, now=at(0)).balance(cid)
        assert (bal.active, bal.pending) == (0, 300)
        assert tier(s, cid) == "base" and CouponService(s, now=at(0)).held(cid) == []
    # 2. seven days later the points are active; 3. with them, gold and its coupon
    assert run_jobs(ctx.db, at(6))["release"] == 0
    assert run_jobs(ctx.db, at(7))["release"] == 1
    with ctx.db.session() as s:
        assert tier(s, cid) == "gold"
        (coupon,) = CouponService(s, now=at(7)).held(cid)
        code = coupon.code
    with ctx.db.session() as s:
        bal = Ledger(s, now=at(7)).balance(cid)
        assert (bal.active, bal.pending) == (300, 0)
        # 4. the coupon on the next order (gold earns double), then the order is refunded
        OrderService(s, now=at(10)).book(
            [OrderIn("youzan", "YZ2", cid, Decimal(180), at(10), discount=Decimal(20), coupon=code)]
        )
        assert s.scalar(select(Coupon.status).where(Coupon.code == code)) == "redeemed"
        assert Ledger(s, now=at(10)).balance(cid).pending == 360
        OrderService(s, now=at(12)).refund([RefundIn("youzan", "YZ2", "R1", at(12))])
        bal = Ledger(s, now=at(12)).balance(cid)
        assert (bal.active, bal.pending, bal.negative) == (300, 0, 0)
        assert s.scalar(select(Coupon.status).where(Coupon.code == code)) == "issued"  # rule: restore
    # 5. a year after reaching gold, nothing earned in the last 180 days: one tier down
    run_jobs(ctx.db, at(371))
    with ctx.db.session() as s:
        assert tier(s, cid) == "gold"  # the period runs from day 7
    run_jobs(ctx.db, at(372))
    with ctx.db.session() as s:
        assert tier(s, cid) == "silver"
        down = s.scalar(select(Event.properties).where(Event.event == "Tier Downgraded"))
        assert down == {"from": "gold", "to": "silver"}
        expires = Ledger(s, now=at(372)).balance(cid).next_expiry
        assert expires is not None
    # 6. thirty days before the points expire (end of next year, Beijing): the reminder's event
    run_jobs(ctx.db, expires - timedelta(days=30, hours=1))
    with ctx.db.session() as s:
        assert s.scalar(select(Event.id).where(Event.event == "Points Expiring")) is None
    run_jobs(ctx.db, expires - timedelta(days=30))
    with ctx.db.session() as s:
        notice = s.scalar(select(Event.properties).where(Event.event == "Points Expiring"))
        assert notice == {"points": 300, "expires_at": expires.isoformat(), "days": 30}
        assert expires.isoformat() == "2027-12-31T15:59:59.999999+00:00"
        assert verify(s)["ok"]
