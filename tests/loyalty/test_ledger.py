"""The points ledger: awards (idempotent, pending, expiring), spends earliest-expiry first,
clawbacks from the order's own award, negative balances, and balances at a moment."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from siyu.context import AppContext
from siyu.loyalty.ledger import InsufficientPoints, Ledger, balances
from siyu.loyalty.programme import LoyaltyError, update_programme
from siyu.store.models import PointsDraw, PointsEntry

from .helpers import at, new_contact


@pytest.fixture
def cid(ctx: AppContext) -> int:
    return new_contact(ctx, "+8613800138001")


def test_award_is_idempotent_by_external_id(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        first = Ledger(s, now=at(0)).award(cid, 100, source="manual", reason="gift", external_id="x-1")
        again = Ledger(s, now=at(1)).award(cid, 999, source="manual", reason="gift", external_id="x-1")
        assert again.id == first.id
        assert Ledger(s, now=at(1)).balance(cid).active == 100
        assert s.scalar(select(PointsEntry.id).where(PointsEntry.points == 999)) is None


def test_spend_draws_earliest_expiry_first_and_never_pending_or_expired(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        ledger = Ledger(s, now=at(0))
        late = ledger.award(cid, 50, source="manual", reason="late", expires_at=at(100))
        early = ledger.award(cid, 30, source="manual", reason="early", expires_at=at(10))
        gone = ledger.award(cid, 40, source="manual", reason="gone", expires_at=at(2))
        ledger.award(cid, 70, source="order", reason="pending", pending_until=at(20))
        later = Ledger(s, now=at(5))
        bal = later.balance(cid)
        assert (bal.active, bal.pending, bal.expired) == (80, 70, 40)
        with pytest.raises(InsufficientPoints) as err:
            later.spend(cid, 81, reason="too much")
        assert err.value.code == "insufficient_points"
        spend = later.spend(cid, 40, reason="coupon", external_id="s-1")
        draws = dict(
            s.execute(
                select(PointsDraw.award_id, PointsDraw.points).where(PointsDraw.entry_id == spend.id)
            ).all()
        )
        assert draws == {early.id: 30, late.id: 10}
        assert gone.id not in draws
        assert later.spend(cid, 40, reason="coupon", external_id="s-1").id == spend.id
        bal = later.balance(cid)
        assert (bal.active, bal.pending, bal.spent, bal.expired) == (40, 70, 40, 40)


def test_clawback_voids_pending_award_then_goes_negative_when_allowed(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"allow_negative": True})
        ledger = Ledger(s, now=at(0))
        ledger.award(cid, 20, source="manual", reason="gift")
        own = ledger.award(cid, 100, source="order", reason="o", pending_until=at(7))
        claw = ledger.clawback(cid, 150, reason="refund", external_id="r-1")
        assert claw is not None and claw.points == -150
        # without an order id the pending award is untouched; 20 active taken, 130 owed
        assert ledger.balance(cid).negative == 130
        assert s.get(PointsEntry, own.id).status == "pending"
        released = Ledger(s, now=at(8))
        released.settle(cid)
        bal = released.balance(cid)
        assert (bal.active, bal.negative) == (0, 30)


def test_clawback_without_negative_records_the_shortfall(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        ledger = Ledger(s, now=at(0))
        award = ledger.award(cid, 100, source="order", reason="o", pending_until=at(7))
        s.flush()
        claw = ledger.clawback(cid, 100, reason="refund", external_id="r-1", order_id=None)
        assert claw is not None and claw.points == 0 and claw.shortfall == 100
        award.order_id = None
        bal = ledger.balance(cid)
        assert (bal.pending, bal.negative) == (100, 0)


@pytest.mark.parametrize("points", [0, -5, 10**12, True, 1.5])
def test_bad_points_are_refused(ctx: AppContext, cid: int, points: object) -> None:
    with ctx.db.session() as s, pytest.raises(LoyaltyError) as err:
        Ledger(s, now=at(0)).award(cid, points, source="manual", reason="x")  # type: ignore[arg-type]
    assert err.value.code == "invalid_points"


def test_bulk_balances_match_single(ctx: AppContext, cid: int) -> None:
    other = new_contact(ctx, "+8613800138002")
    with ctx.db.session() as s:
        ledger = Ledger(s, now=at(0))
        ledger.award(cid, 10, source="manual", reason="a", expires_at=at(3))
        ledger.award(other, 5, source="manual", reason="b")
        got = balances(s, [cid, other, 999_999], now=at(1))
        assert got[cid].active == 10 and got[cid].next_expiry == at(3) and got[cid].next_expiry_points == 10
        assert got[other].active == 5 and got[999_999].active == 0
