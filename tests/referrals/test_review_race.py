"""Two operators decide the same flagged referrals at the same instant on PostgreSQL (one
approves, one voids, in two threads with their own connections): each referral gets exactly
one decision, one audit entry, and at most one ``Referral Voided`` event."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from tests.referrals.insights_fixtures import T0, Builder, make_campaign

from siyu.context import AppContext
from siyu.referrals import review
from siyu.store.models import AuditEntry, Event, Referral

pytestmark = pytest.mark.postgresql_only


def test_one_decision_per_referral(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        inviter = b.contact()
        ids = [
            b.invite(inviter, b.contact(), T0 + timedelta(minutes=i), status="flagged").id for i in range(40)
        ]
    barrier = threading.Barrier(2)
    wins: dict[str, list[int]] = {"approve": [], "void": []}

    def decide(kind: str) -> None:
        barrier.wait()
        for rid in ids:
            try:
                with ctx.db.session() as s:
                    if kind == "approve":
                        review.approve(s, rid, "ops-a", T0)
                    else:
                        review.void(s, rid, "fraud", "ops-b", T0)
                wins[kind].append(rid)
            except review.ReviewError:
                pass

    threads = [threading.Thread(target=decide, args=(k,)) for k in ("approve", "void")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(wins["approve"] + wins["void"]) == sorted(ids)
    with ctx.db.session() as s:
        rows = {r.id: r.status for r in s.scalars(select(Referral).where(Referral.id.in_(ids)))}
        assert all(rows[i] == "pending" for i in wins["approve"])
        assert all(rows[i] == "voided" for i in wins["void"])
        audits = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.target_type == "referral")
        )
        assert audits == len(ids)
        voided = s.scalar(select(func.count()).select_from(Event).where(Event.event == "Referral Voided"))
        assert voided == len(wins["void"])
