"""The review queue: approve returns a flagged referral to its path, void ends it with a reason;
each decision is audited, and a second decision on the same referral is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.referrals.insights_fixtures import T0, Builder, make_campaign

from siyu.context import AppContext
from siyu.referrals import review
from siyu.store.models import AuditEntry, Event, Referral


def test_approve_and_void(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        inviter = b.contact()
        done = b.invite(inviter, b.contact(), T0, status="flagged", qualified_at=T0 + timedelta(hours=2))
        waiting = b.invite(inviter, b.contact(), T0, status="flagged")
        bad = b.invite(inviter, b.contact(), T0, status="flagged")
        bad.fraud_score, bad.fraud_reasons = 90, [{"code": "shared_device", "detail": "device"}]
        ok = b.invite(inviter, b.contact(), T0, status="qualified")
        s.flush()
        total, page = review.flagged(s)
        assert total == 3 and page[0][0].id == bad.id and page[0][1] == "spring"
        ids = (done.id, waiting.id, bad.id, ok.id)
    with ctx.db.session() as s:
        assert review.approve(s, ids[0], "ops-li", T0).status == "qualified"
        assert review.approve(s, ids[1], "ops-li", T0).status == "pending"
        voided = review.void(s, ids[2], "self_referral", "ops-li", T0 + timedelta(days=1), note="same phone")
        assert (voided.status, voided.void_reason, voided.reviewed_by) == (
            "voided",
            "self_referral",
            "ops-li",
        )
    with ctx.db.session() as s:
        with pytest.raises(review.ReviewError, match="status"):
            review.approve(s, ids[2], "ops-wang", T0)
        with pytest.raises(review.ReviewError, match="status"):
            review.void(s, ids[3], "fraud", "ops-wang", T0)
        with pytest.raises(review.ReviewError, match="reason"):
            review.void(s, ids[0], "because", "ops-wang", T0)
        with pytest.raises(review.ReviewNotFound):
            review.approve(s, 999999, "ops-wang", T0)
    with ctx.db.session() as s:
        actions = [
            (a.action, a.target_id) for a in s.scalars(select(AuditEntry).where(AuditEntry.actor == "ops-li"))
        ]
        assert sorted(actions) == sorted(
            [
                ("referral.approved", str(ids[0])),
                ("referral.approved", str(ids[1])),
                ("referral.voided", str(ids[2])),
            ]
        )
        events = list(s.scalars(select(Event).where(Event.event == "Referral Voided")))
        assert len(events) == 1 and events[0].properties["reason"] == "self_referral"
        assert s.get(Referral, ids[3]).status == "qualified"  # type: ignore[union-attr]
        assert review.flagged(s)[0] == 0
