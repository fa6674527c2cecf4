"""The classic reminder SOP on the loyalty ledger: a journey triggered by ``Points Expiring``
(recorded by the loyalty notice job N days ahead) sends the member an SMS, once per award."""

from __future__ import annotations

from datetime import timedelta

from siyu.loyalty.jobs import notify_batch
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import update_programme
from siyu.loyalty.service import LoyaltyService

from .conftest import T0, at

SMS = {"id": "remind", "send": {"channel": "sms", "template": "hello"}}


def test_points_expiring_triggers_the_reminder_sms(jk) -> None:
    jk.template()
    jk.journey([SMS], trigger={"event": {"name": "Points Expiring"}})
    member, later, outsider = jk.contact(), jk.contact(), jk.contact()
    for cid in (member, later, outsider):
        jk.consent(cid, True)
    with jk.ctx.db.session() as s:
        update_programme(s, {"expiry_notice_days": 30})
        for cid in (member, later):
            LoyaltyService(s, now=T0).enrol(cid)
        Ledger(s, now=T0).award(member, 80, source="manual", reason="x", expires_at=T0 + timedelta(days=20))
        Ledger(s, now=T0).award(later, 80, source="manual", reason="x", expires_at=T0 + timedelta(days=90))
    with jk.ctx.db.session() as s:
        assert notify_batch(s, T0) == 1
    jk.follow(at(seconds=10))
    [enrolment] = jk.enrolments()
    assert enrolment["contact"] == member
    assert enrolment["data"]["trigger"] == {
        "points": 80,
        "expires_at": (T0 + timedelta(days=20)).isoformat(),
        "days": 20,
    }
    jk.run_until_idle(at(seconds=10))
    assert [r["contact"] for r in jk.outbox()] == [member]
    with jk.ctx.db.session() as s:  # announced once: a second run records nothing new
        assert notify_batch(s, at(days=1)) == 0
    jk.follow(at(days=1, seconds=10))
    assert len(jk.enrolments()) == 1
