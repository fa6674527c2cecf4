"""The ledger's jobs: pending points released after the refund window, ``Points Expiring`` once
per award N days ahead (days on the brand's calendar), expiry with ``Points Expired``, and the
period-end tier review under both downgrade policies."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from siyu.context import AppContext
from siyu.loyalty.jobs import notify_batch, release_batch, review_batch, run_jobs
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier
from siyu.loyalty.verify import verify
from siyu.store.models import Event, LoyaltyMember, LoyaltyTier, PointsEntry, TierChange

from .helpers import at, new_contact


@pytest.fixture
def cid(ctx: AppContext) -> int:
    return new_contact(ctx, "+8613800138021")


def events(s, name: str) -> list[dict]:
    return [p for (p,) in s.execute(select(Event.properties).where(Event.event == name).order_by(Event.id))]


def test_release_notify_expire(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"expiry_notice_days": 30})
        Ledger(s, now=at(0)).award(
            cid, 70, source="order", reason="o", pending_until=at(7), expires_at=at(100)
        )
        assert release_batch(s, at(6.9)) == 0
        assert release_batch(s, at(7)) == 1
        assert s.scalar(select(PointsEntry.status).where(PointsEntry.kind == "award")) == "active"
        assert notify_batch(s, at(69.9)) == 0  # expires in more than 30 days
        assert notify_batch(s, at(70)) == 1
        assert notify_batch(s, at(71)) == 0  # each award announced once
        (notice,) = events(s, "Points Expiring")
        assert notice["points"] == 70 and notice["days"] == 30
        assert notice["expires_at"] == at(100).isoformat()
    done = run_jobs(ctx.db, at(100))
    assert done["expire"] == 1
    with ctx.db.session() as s:
        (gone,) = events(s, "Points Expired")
        assert gone["points"] == 70
        bal = Ledger(s, now=at(100)).balance(cid)
        assert (bal.active, bal.expired) == (0, 70)
        assert verify(s)["ok"]
    assert run_jobs(ctx.db, at(101))["expire"] == 0


def test_notice_days_count_on_the_brand_calendar(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"expiry_notice_days": 3})
        # 2026-03-01 02:00 UTC is 10:00 in Beijing; expiry 2026-03-03 17:00 UTC is the 4th in Beijing
        Ledger(s, now=at(0)).award(
            cid, 5, source="manual", reason="x", expires_at=at(2) + timedelta(hours=15)
        )
        notify_batch(s, at(0), tz="Asia/Shanghai")
        assert events(s, "Points Expiring")[0]["days"] == 3


def _ladder(ctx: AppContext, cid: int, policy: str) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"tier_window_days": 20, "tier_period_days": 30, "downgrade_policy": policy})
        add_tier(s, "base", {"name": "普通", "threshold": 0})
        add_tier(s, "silver", {"name": "银卡", "threshold": 100})
        add_tier(s, "gold", {"name": "金卡", "threshold": 300})
        LoyaltyService(s, now=at(0)).enrol(cid)
        Ledger(s, now=at(0)).award(cid, 300, source="manual", reason="x")


def tier_of(s, cid: int) -> str:
    member = s.get(LoyaltyMember, cid)
    return s.get(LoyaltyTier, member.tier_id).key


@pytest.mark.parametrize(("policy", "after"), [("one_down", "silver"), ("reevaluate", "base")])
def test_period_end_downgrade_policy(ctx: AppContext, cid: int, policy: str, after: str) -> None:
    _ladder(ctx, cid, policy)
    with ctx.db.session() as s:
        assert tier_of(s, cid) == "gold"
        assert review_batch(s, at(29)) == 0  # not the end of the period yet
        assert review_batch(s, at(30)) == 1
        assert tier_of(s, cid) == after
        assert events(s, "Tier Downgraded") == [{"from": "gold", "to": after}]
        kinds = list(
            s.scalars(select(TierChange.kind).where(TierChange.contact_id == cid).order_by(TierChange.id))
        )
        assert kinds == ["enrol", "upgrade", "downgrade"]
        assert s.get(LoyaltyMember, cid).tier_review_at == at(60)


def test_member_who_still_qualifies_keeps_the_tier(ctx: AppContext, cid: int) -> None:
    _ladder(ctx, cid, "one_down")
    with ctx.db.session() as s:
        Ledger(s, now=at(25)).award(cid, 300, source="manual", reason="again")
        assert review_batch(s, at(30)) == 1
        assert tier_of(s, cid) == "gold"
        assert s.get(LoyaltyMember, cid).tier_review_at == at(60)
        assert events(s, "Tier Downgraded") == []
