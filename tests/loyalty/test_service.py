"""Membership, earning on orders (tier multiplier, pending window), clawing back on refunds and
immediate upgrades."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from siyu.consent.service import ConsentService
from siyu.context import AppContext
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import LoyaltyError, update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier
from siyu.loyalty.verify import verify
from siyu.store.models import Event, OrderRefund, TierChange

from .helpers import add_order, at, new_contact


@pytest.fixture
def cid(ctx: AppContext) -> int:
    return new_contact(ctx, "+8613800138011")


def test_enrol_numbers_records_consent_and_gives_signup_points(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"signup_points": 88, "member_no_prefix": "VIP"})
        add_tier(s, "silver", {"name": "银卡", "threshold": 0})
        member = LoyaltyService(s, now=at(0)).enrol(cid, source="store")
        assert member.member_no == f"VIP{cid:08d}"
        assert LoyaltyService(s, now=at(1)).enrol(cid).member_no == member.member_no
        assert ConsentService(s).ledger(cid)[-1].purpose == "service"
        assert Ledger(s, now=at(0)).balance(cid).active == 88
        names = set(s.scalars(select(Event.event).where(Event.contact_id == cid)))
        assert {"Member Enrolled", "Points Earned"} <= names
        assert s.scalar(select(TierChange.kind).where(TierChange.contact_id == cid)) == "enrol"


def test_enrol_without_consent_is_refused(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s, pytest.raises(LoyaltyError) as err:
        LoyaltyService(s, now=at(0)).enrol(cid, consent=False)
    assert err.value.code == "consent_required"


def test_orders_earn_pending_with_multiplier_and_refunds_claw_back(ctx: AppContext, cid: int) -> None:
    outsider = new_contact(ctx, "+8613800138012")
    with ctx.db.session() as s:
        add_tier(s, "base", {"name": "普通", "threshold": 0, "multiplier": "1.5"})
        add_tier(s, "gold", {"name": "金卡", "threshold": 1000, "multiplier": 2})
        svc = LoyaltyService(s, now=at(0))
        svc.enrol(cid)
        o1 = add_order(s, cid, "A1", "300.99", at(0))
        o2 = add_order(s, outsider, "B1", "500", at(0))
        svc.on_orders([o1, o2])
        svc.on_orders([o1])  # a repeat earns nothing more
        bal = Ledger(s, now=at(0)).balance(cid)
        assert (bal.active, bal.pending) == (0, 451)  # floor(300.99 × 1.5)
        assert Ledger(s, now=at(0)).balance(outsider).pending == 0
        refund = OrderRefund(
            order_id=o1.id,
            contact_id=cid,
            refund_no="R1",
            amount=Decimal("100.33"),
            refunded_at=at(1),
            lines=[],
        )
        s.add(refund)
        s.flush()
        LoyaltyService(s, now=at(1)).on_refunds([(o1, refund)])
        LoyaltyService(s, now=at(1)).on_refunds([(o1, refund)])
        assert Ledger(s, now=at(1)).balance(cid).pending == 451 - 150
        full = OrderRefund(
            order_id=o1.id,
            contact_id=cid,
            refund_no="R2",
            amount=Decimal("200.66"),
            refunded_at=at(2),
            lines=[],
        )
        s.add(full)
        s.flush()
        LoyaltyService(s, now=at(2)).on_refunds([(o1, full)])
        bal = Ledger(s, now=at(8)).balance(cid)
        assert (bal.active, bal.pending, bal.negative) == (0, 0, 0)


def test_upgrade_is_immediate_on_order(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"pending_days": 0})
        base = add_tier(s, "base", {"name": "普通", "threshold": 0})
        gold = add_tier(s, "gold", {"name": "金卡", "threshold": 300})
        svc = LoyaltyService(s, now=at(0))
        member = svc.enrol(cid)
        assert member.tier_id == base.id
        svc.on_orders([add_order(s, cid, "A1", "300", at(0))])
        assert member.tier_id == gold.id
        assert s.scalar(select(Event.properties).where(Event.event == "Tier Upgraded")) is not None


def test_tier_ladder_is_validated(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        add_tier(s, "base", {"name": "普通", "threshold": 0})
        add_tier(s, "gold", {"name": "金卡", "threshold": 300})
        with pytest.raises(LoyaltyError) as err:
            add_tier(s, "silver", {"name": "银卡", "threshold": 100})
        assert err.value.field == "threshold"
        with pytest.raises(LoyaltyError):
            add_tier(s, "plat", {"name": "白金", "threshold": 500, "rank": 1})


def test_merge_keeps_the_survivors_card_and_moves_the_points(ctx: AppContext, cid: int) -> None:
    other = new_contact(ctx, "+8613800138013")
    with ctx.db.session() as s:
        svc = LoyaltyService(s, now=at(0))
        survivor_card = svc.enrol(cid).member_no
        svc.enrol(other)
        Ledger(s, now=at(0)).award(cid, 30, source="manual", reason="a")
        Ledger(s, now=at(0)).award(other, 50, source="manual", reason="b")
        Ledger(s, now=at(0)).spend(other, 20, reason="c")
        ctx.profiles(s).merge(cid, other, "same person")
        s.flush()
        s.expire_all()
        assert svc.member(cid).member_no == survivor_card and svc.member(other) is None
        bal = Ledger(s, now=at(1)).balance(cid)
        assert (bal.active, bal.spent) == (60, 20)
        assert verify(s)["ok"]


def test_spend_basis_counts_money_net_of_refunds(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"tier_basis": "spend", "tier_window_days": 30})
        add_tier(s, "base", {"name": "普通", "threshold": 0})
        gold = add_tier(s, "gold", {"name": "金卡", "threshold": 500})
        svc = LoyaltyService(s, now=at(0))
        member = svc.enrol(cid)
        old = add_order(s, cid, "OLD", "900", at(-40))  # outside the window
        small = add_order(s, cid, "S1", "400", at(0))
        svc.on_orders([old, small])
        assert member.tier_id != gold.id
        small.refunded = Decimal(100)  # ¥300 net: another ¥199 is not enough, ¥200 is
        svc.on_orders([add_order(s, cid, "S2", "199", at(0))])
        assert member.tier_id != gold.id
        svc.on_orders([add_order(s, cid, "S3", "1", at(0))])
        assert member.tier_id == gold.id


def test_points_figure_counts_released_points_net_of_clawbacks_once(ctx: AppContext, cid: int) -> None:
    from siyu.loyalty.tiers import qualifying

    with ctx.db.session() as s:
        ledger = Ledger(s, now=at(0))
        ledger.award(cid, 300, source="manual", reason="active")
        voided = add_order(s, cid, "V1", "100", at(0))
        ledger.award(cid, 100, source="order", reason="o", order_id=voided.id, pending_until=at(7))
        kept = add_order(s, cid, "K1", "50", at(0))
        ledger.award(cid, 50, source="order", reason="o", order_id=kept.id, pending_until=at(7))
        assert qualifying(s, [cid], at(1))[cid] == 300  # pending points do not count yet
        ledger.clawback(cid, 100, reason="refund", external_id="r-v", order_id=voided.id)  # voids it
        ledger.clawback(cid, 20, reason="refund", external_id="r-k", order_id=kept.id)  # reduces it
        assert qualifying(s, [cid], at(1))[cid] == 300
        assert (
            qualifying(s, [cid], at(8))[cid] == 330
        )  # released: 300 + 50 − 20; the voided 100 never counted
