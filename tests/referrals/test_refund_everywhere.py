"""The must-show refund, end to end through the ingest path: a friend brought by a 老带新 code
and bound to a promoter orders, the referral is approved and rewarded, the promoter and their
binder earn commission; a full refund of that order voids the referral and reverses its reward,
and reverses the commission at both levels."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from tests.distribution.conftest import chain, order_call, phone, refund_call, visit_call
from tests.referrals.conftest import at

from siyu.client import Siyu
from siyu.store.models import Coupon


def test_a_refund_voids_the_referral_reward_and_reverses_commission_at_both_levels(
    client: Siyu, campaign: Callable[..., str]
) -> None:
    s = client
    s.distribution.set_settings(
        {"enabled": True, "mode": "appointed", "level1_rate": "0.10", "level2_rate": "0.05", "freeze_days": 7}
    )
    _a, b, c = chain(s)  # promoter C bound to B: C earns level 1, B level 2
    key = campaign(rewards=[{"invites": 1, "coupon": "ref-a", "value": "20"}])
    s.identify({"phone": phone(50)}, timestamp=at(-1))
    code = s.referrals.code(key, f"phone:{phone(50)}")["code"]

    # the friend (phone 60) arrives through the inviter's code and the promoter's link, then orders
    s.track("Page Viewed", {"phone": phone(60)}, {"referral_code": code}, at(0))
    s.batch([visit_call(60, c, at(0)), order_call("O1", "300.00", 60, at(1))])
    s.referrals.run(now=at(2))
    s.referrals.run(now=at(9))  # after the 7-day hold
    (referral,) = s.referrals.list(key)
    assert referral["status"] == "approved"
    assert [w["status"] for w in s.referrals.rewards(key)] == ["paid"]
    assert s.distribution.balances(c)["earned"] == "30.00" and s.distribution.balances(b)["earned"] == "15.00"

    # the whole order is refunded
    refund = refund_call("O1", 60)
    refund["timestamp"] = at(20).isoformat()
    assert s.batch([refund]).rejected == []
    s.referrals.run(now=at(21))
    (referral,) = s.referrals.list(key)
    assert (referral["status"], referral["void_reason"]) == ("voided", "refund")
    assert [w["status"] for w in s.referrals.rewards(key)] == ["reversed"]
    with s.ctx.db.session() as session:
        assert [x.status for x in session.scalars(select(Coupon))] == ["voided"]  # the unused reward coupon
    for promoter, earned in ((c, "30.00"), (b, "15.00")):
        balance = s.distribution.balances(promoter)
        assert (balance["earned"], balance["reversed"], balance["pending"]) == (earned, earned, "0.00")
    assert s.distribution.verify() == {"ok": True, "promoters": []}
