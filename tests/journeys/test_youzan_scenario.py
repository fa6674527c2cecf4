"""The 有赞 scenario of issue 17, end to end on one member, with the clock passed explicitly:

1. a member orders ¥300 (an ``Order Completed`` event through ingest);
2. the points stay pending for 7 days, then become active;
3. with them the member crosses a tier and gets the tier's upgrade coupon;
4. the member redeems that coupon on the next order, which is then refunded: its points are
   clawed back and the coupon's refund rule (``restore``) gives the coupon back;
5. at the end of the tier's period the member no longer qualifies and drops one tier;
6. 30 days before the first points expire, the reminder SOP (a journey on ``Points Expiring``)
   sends an SMS naming the points.

Expected figures are worked out by hand from the programme below (1 point per ¥, nothing else)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu.commerce.consumer import OrderConsumer
from siyu.coupons.templates import TemplateService
from siyu.ingest.messages import MessageValidator
from siyu.ingest.service import IngestService, ingest_in_transaction, validate_all
from siyu.loyalty.jobs import run_jobs
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier
from siyu.loyalty.verify import verify
from siyu.store.models import Coupon, LoyaltyMember, LoyaltyTier, Order, PointsEntry, TierChange

#: Monday 7 December 2026, 10:00 in Beijing.
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _order(jk: Any, uid: str, at: datetime, event: str = "Order Completed", **props: Any) -> None:
    """One order event through the ingest path (validate, resolve, store, book), received at
    ``at``: the order consumer books it with ``at`` as its clock."""
    ctx = jk.ctx
    validator = MessageValidator.from_settings(ctx.parser, ctx.settings)
    call = {
        "type": "track",
        "event": event,
        "identifiers": {"customer_no": uid},
        "properties": {"source": "youzan", **props},
        "timestamp": at.isoformat(),
    }
    valid, rejected = validate_all(validator, [call], received_at=at)
    assert rejected == []
    consumer = OrderConsumer(ctx.timezone, now=lambda: at)
    result = ingest_in_transaction(
        ctx.db, lambda s: IngestService(s, ctx.profiles(s), consumers=[consumer]), valid, [], None, at
    )
    assert result.accepted == 1


def _tier(jk: Any, cid: int) -> str | None:
    with jk.ctx.db.session() as s:
        tier_id = s.scalar(select(LoyaltyMember.tier_id).where(LoyaltyMember.contact_id == cid))
        return s.scalar(select(LoyaltyTier.key).where(LoyaltyTier.id == tier_id)) if tier_id else None


def _balance(jk: Any, cid: int, at: datetime) -> dict[str, int]:
    with jk.ctx.db.session() as s:
        b = Ledger(s, now=at).balance(cid)
        return {"active": b.active, "pending": b.pending, "spent": b.spent, "expired": b.expired}


def test_the_youzan_scenario_end_to_end(jk) -> None:
    with jk.ctx.db.session() as s:
        update_programme(
            s,
            {
                "earn_per_yuan": 1,
                "pending_days": 7,
                "default_validity": "18M",
                "expiry_notice_days": 30,
                "tier_basis": "points",
                "tier_window_days": 365,
                "tier_period_days": 365,
                "downgrade_policy": "one_down",
            },
        )
        TemplateService(s, now=T0).create(
            {
                "key": "silver_gift",
                "name": "银卡升级礼 ¥20",
                "kind": "fixed",
                "amount": 20,
                "min_order": 100,
                "valid_days": 30,
                "refund_rule": "restore",
            }
        )
        add_tier(s, "base", {"name": "普通会员", "rank": 0, "threshold": 0})
        add_tier(s, "silver", {"name": "银卡", "rank": 1, "threshold": 300, "upgrade_coupon": "silver_gift"})
    jk.template(
        "points_reminder",
        body={
            "template_code": "SMS_9",
            "params": {"p": "{{ points_expiring }}"},
            "text": "{{ points_expiring }}",
        },
    )
    jk.journey(
        [jk.sms_step("remind", template="points_reminder", transactional=True)],
        trigger={"event": {"name": "Points Expiring"}},
        started_at=T0 - DAY,
    )
    cid = jk.contact("m1")
    with jk.ctx.db.session() as s:
        LoyaltyService(s, now=T0).enrol(cid, source="youzan")
    assert _tier(jk, cid) == "base"

    # 1–2. ¥300: 300 points, pending through the 7-day refund window, then active
    _order(jk, "m1", T0, order_id="Y1", total=300)
    assert _balance(jk, cid, T0 + DAY) == {"active": 0, "pending": 300, "spent": 0, "expired": 0}
    assert _tier(jk, cid) == "base"  # points still refundable do not lift a tier
    run_jobs(jk.ctx.db, T0 + 7 * DAY + timedelta(minutes=1))
    assert _balance(jk, cid, T0 + 8 * DAY) == {"active": 300, "pending": 0, "spent": 0, "expired": 0}

    # 3. the member is silver and holds the upgrade coupon
    assert _tier(jk, cid) == "silver"
    with jk.ctx.db.session() as s:
        [coupon] = s.scalars(select(Coupon).where(Coupon.contact_id == cid)).all()
        code, status = coupon.code, coupon.status
    assert status == "issued"

    # 4. the coupon pays ¥20 of the next order, which is refunded in full
    second = T0 + 9 * DAY
    _order(jk, "m1", second, order_id="Y2", total=180, discount=20, coupon=code)
    with jk.ctx.db.session() as s:
        assert s.scalar(select(Coupon.status).where(Coupon.code == code)) == "redeemed"
    assert _balance(jk, cid, second)["pending"] == 180
    _order(jk, "m1", second + DAY, event="Order Refunded", order_id="Y2", refund_id="R1")
    with jk.ctx.db.session() as s:
        order = s.scalar(select(Order).where(Order.order_no == "Y2"))
        assert order is not None and order.status == "refunded"
        assert s.scalar(select(Coupon.status).where(Coupon.code == code)) == "issued"  # restored
    assert _balance(jk, cid, second + 2 * DAY) == {"active": 300, "pending": 0, "spent": 0, "expired": 0}

    # 5. a year after reaching silver, nothing earned in the window: one tier down
    with jk.ctx.db.session() as s:
        review_at = s.scalar(select(LoyaltyMember.tier_review_at).where(LoyaltyMember.contact_id == cid))
    assert review_at is not None
    run_jobs(jk.ctx.db, review_at + timedelta(minutes=1))
    assert _tier(jk, cid) == "base"
    with jk.ctx.db.session() as s:
        kinds = s.scalars(
            select(TierChange.kind).where(TierChange.contact_id == cid).order_by(TierChange.id)
        ).all()
    assert kinds[-2:] == ["upgrade", "downgrade"]

    # 6. 18 months after the points became usable they expire; 30 days before, the SOP sends
    with jk.ctx.db.session() as s:
        expires = s.scalar(
            select(PointsEntry.expires_at).where(PointsEntry.contact_id == cid, PointsEntry.kind == "award")
        )
    assert expires is not None and timedelta(days=547) < expires - (T0 + 7 * DAY) < timedelta(days=549)
    notice = expires - timedelta(days=30) + timedelta(minutes=1)
    run_jobs(jk.ctx.db, notice)
    jk.follow(notice + timedelta(seconds=10))
    jk.run_until_idle(notice + timedelta(seconds=10))
    [sms] = jk.outbox()
    assert sms["contact"] == cid
    assert sms["content"]["text"] == "300"
    with jk.ctx.db.session() as s:
        assert verify(s)["ok"] is True
