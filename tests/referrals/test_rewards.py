"""Rewards: budget and caps withhold with a reason; points to members (double-sided: the
invitee too), clawed back on a void; paying twice for the same approval pays once."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from tests.referrals.conftest import at
from tests.referrals.test_lifecycle import invite, order, refund

from siyu.client import Siyu
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.service import LoyaltyService
from siyu.referrals.rewards import pay_for
from siyu.store.models import Referral, ReferralCampaign


def approve_all(client: Siyu, who: list[str]) -> None:
    for i, w in enumerate(who):
        order(client, w, f"O-{w}-{i}", at(1))
    client.referrals.run(now=at(2))
    client.referrals.run(now=at(9))


def test_budget_withholds(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign(rewards=[{"invites": 1, "coupon": "ref-a", "value": "20"}], budget="30")
    invite(client, key, "A", ["A1"])
    invite(client, key, "B", ["B1"])
    approve_all(client, ["A1", "B1"])
    got = sorted((w["status"], w["reason"]) for w in client.referrals.rewards(key))
    assert got == [("paid", None), ("withheld", "budget")]
    assert client.referrals.campaign(key)["spent"] == "20.00"


def test_caps_withhold(client: Siyu, campaign: Callable[..., str]) -> None:
    rewards = [{"invites": n, "gift": f"礼品{n}"} for n in (1, 2, 3)]
    key = campaign(rewards=rewards, caps={"per_inviter_total": 2})
    invite(client, key, "A", ["B1", "B2", "B3"])
    approve_all(client, ["B1", "B2", "B3"])
    got = [(w["milestone"], w["status"], w["reason"]) for w in client.referrals.rewards(key)]
    assert got == [(1, "paid", None), (2, "paid", None), (3, "withheld", "cap_total")]
    key2 = campaign("monthly", rewards=rewards, caps={"per_inviter_month": 1})
    invite(client, key2, "M", ["M1", "M2"])
    approve_all(client, ["M1", "M2"])
    got = [(w["milestone"], w["status"], w["reason"]) for w in client.referrals.rewards(key2)]
    assert got == [(1, "paid", None), (2, "withheld", "cap_month")]


def test_points_double_sided_and_clawback(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign(rewards=[{"invites": 1, "side": "both", "points": 100}])
    invite(client, key, "A", ["B1"])
    ids = {w: client.contact(f"customer_no:{w}")["id"] for w in ("A", "B1")}
    with client.ctx.db.session() as s:
        LoyaltyService(s, now=at(0)).enrol(ids["A"])
        LoyaltyService(s, now=at(0)).enrol(ids["B1"])
    approve_all(client, ["B1"])
    got = sorted((w["side"], w["status"]) for w in client.referrals.rewards(key))
    assert got == [("invitee", "paid"), ("inviter", "paid")]
    with client.ctx.db.session() as s:
        assert Ledger(s, now=at(10)).balance(ids["A"]).active == 100
        assert Ledger(s, now=at(10)).balance(ids["B1"]).active == 100
    refund(client, "B1", "O-B1-0", at(12))
    client.referrals.run(now=at(13))
    assert {w["status"] for w in client.referrals.rewards(key)} == {"reversed"}
    with client.ctx.db.session() as s:
        assert Ledger(s, now=at(14)).balance(ids["A"]).active == 0


def test_points_for_non_members_are_withheld(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign(rewards=[{"invites": 1, "points": 50}])
    invite(client, key, "A", ["B1"])
    approve_all(client, ["B1"])
    assert [(w["status"], w["reason"]) for w in client.referrals.rewards(key)] == [("withheld", "not_member")]


def test_paying_the_same_approval_twice_pays_once(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign(rewards=[{"invites": 1, "coupon": "ref-a", "value": "5"}])
    invite(client, key, "A", ["B1"])
    approve_all(client, ["B1"])
    with client.ctx.db.session() as s:
        c = s.scalars(select(ReferralCampaign)).one()
        r = s.scalars(select(Referral)).one()
        assert pay_for(s, c, r, at(10)) == []
    assert len(client.referrals.rewards(key)) == 1
    assert client.referrals.campaign(key)["spent"] == "5.00"
