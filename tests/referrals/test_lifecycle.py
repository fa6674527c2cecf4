"""The lifecycle job on 老带新: pending → qualified on the first order within the window →
approved after the hold, milestone rewards paid exactly once; a full refund voids (before or
after approval, reversing what was paid); a pending referral past the window expires."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from tests.referrals.conftest import T0, at

from siyu.client import Siyu
from siyu.store.models import Coupon, Event


def invite(client: Siyu, key: str, inviter: str, invitees: list[str], when=T0) -> None:
    client.identify({"customer_no": inviter}, timestamp=when - timedelta(days=1))
    code = client.referrals.code(key, f"customer_no:{inviter}")["code"]
    for who in invitees:
        client.track("Page Viewed", {"customer_no": who}, {"referral_code": code}, when)


def order(client: Siyu, who: str, order_id: str, when) -> None:
    result = client.track("Order Completed", {"customer_no": who}, {"order_id": order_id, "total": 99}, when)
    assert result.accepted == 1


def refund(client: Siyu, who: str, order_id: str, when) -> None:
    client.track("Order Refunded", {"customer_no": who}, {"order_id": order_id}, when)


def statuses(client: Siyu, key: str) -> list[str]:
    return sorted(r["status"] for r in client.referrals.list(key))


def test_qualify_approve_and_milestone_paid_once(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign()
    invite(client, key, "A", ["B1", "B2", "B3"])
    for i, who in enumerate(["B1", "B2", "B3"]):
        order(client, who, f"O{i}", at(1))
    assert client.referrals.run(now=at(2))["qualify"] == 3
    assert statuses(client, key) == ["qualified"] * 3
    assert client.referrals.run(now=at(7.5))["approve"] == 0  # still in the 7-day hold
    assert client.referrals.run(now=at(8.5))["approve"] == 3
    assert statuses(client, key) == ["approved"] * 3
    for _ in range(2):  # a second run (a retry) pays nothing again
        client.referrals.run(now=at(9))
    rewards = client.referrals.rewards(key)
    assert [(w["milestone"], w["side"], w["kind"], w["status"]) for w in rewards] == [
        (3, "inviter", "coupon", "paid")
    ]
    a = client.contact("customer_no:A")["id"]
    with client.ctx.db.session() as s:
        assert [c.contact_id for c in s.scalars(select(Coupon))] == [a]
        names = [e.event for e in s.scalars(select(Event).where(Event.event.like("Referral%")))]
        assert names.count("Referral Qualified") == 3 and names.count("Referral Approved") == 3
        assert names.count("Referral Reward Paid") == 1
    campaign_now = client.referrals.campaign(key)
    assert campaign_now["spent"] == "20.00" and campaign_now["counts"]["approved"] == 3


def test_order_before_invite_or_after_window_does_not_qualify(
    client: Siyu, campaign: Callable[..., str]
) -> None:
    key = campaign()
    order(client, "B1", "OLD", at(-3))
    invite(client, key, "A", ["B1", "B2"])
    order(client, "B2", "LATE", at(15))  # window_days 14
    client.referrals.run(now=at(16))
    assert statuses(client, key) == ["voided", "voided"]
    assert {r["void_reason"] for r in client.referrals.list(key)} == {"expired"}


def test_refund_in_the_hold_voids_before_payment(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign(rewards=[{"invites": 1, "coupon": "ref-a", "value": "20"}])
    invite(client, key, "A", ["B1"])
    order(client, "B1", "O1", at(1))
    client.referrals.run(now=at(2))
    refund(client, "B1", "O1", at(3))
    client.referrals.run(now=at(10))
    (row,) = client.referrals.list(key)
    assert row["status"] == "voided" and row["void_reason"] == "refund"
    assert client.referrals.rewards(key) == []


def test_refund_after_approval_reverses_the_reward(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign(rewards=[{"invites": 1, "coupon": "ref-a", "value": "20"}])
    invite(client, key, "A", ["B1"])
    order(client, "B1", "O1", at(1))
    client.referrals.run(now=at(2))
    client.referrals.run(now=at(9))
    assert [w["status"] for w in client.referrals.rewards(key)] == ["paid"]
    refund(client, "B1", "O1", at(20))
    client.referrals.run(now=at(21))
    (row,) = client.referrals.list(key)
    assert row["status"] == "voided" and row["void_reason"] == "refund"
    assert [w["status"] for w in client.referrals.rewards(key)] == ["reversed"]
    with client.ctx.db.session() as s:
        assert [c.status for c in s.scalars(select(Coupon))] == ["voided"]
    assert client.referrals.campaign(key)["spent"] == "0.00"


def test_a_first_run_that_meets_the_order_and_its_refund_voids_without_paying(
    client: Siyu, campaign: Callable[..., str]
) -> None:
    key = campaign(rewards=[{"invites": 1, "coupon": "ref-a", "value": "20"}])
    invite(client, key, "A", ["B1"])
    order(client, "B1", "O1", at(1))
    refund(client, "B1", "O1", at(2))
    client.referrals.run(now=at(10))  # the job's first run, already past the hold
    (row,) = client.referrals.list(key)
    assert (row["status"], row["void_reason"]) == ("voided", "refund")
    assert client.referrals.rewards(key) == []
