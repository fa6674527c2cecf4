"""The must-show fraud cases, each in the same population as an honest seeded campaign: the
fraud is flagged with the right reason (strict mode) and no honest referral is."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.referrals.insights_fixtures import T0, Builder, honest_population, make_campaign

from siyu.context import AppContext
from siyu.referrals.fraud import Thresholds, label, rescore_campaign, score_referrals
from siyu.store.models import ContactFollow, Order, Referral

NOW = T0 + timedelta(days=20)


def codes(ref: Referral) -> set[str]:
    return {r["code"] for r in ref.fraud_reasons}


def test_must_show_cases_flagged_and_no_honest_referral_flagged(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        honest = honest_population(b, seeds=120)
        # 1. self-referral through a shared device: the invitee's phone is the inviter's
        cheat = b.contact(device="dev-cheat")
        self_ref = b.invite(
            cheat, b.contact(created=T0), T0 + timedelta(hours=1), device="dev-cheat", ip="1.1.1.1"
        )
        # 2. a ring of 5 accounts inviting each other (the fifth invites the first)
        ring = [b.contact(created=T0 + timedelta(hours=i)) for i in range(5)]
        ring_refs = [
            b.invite(ring[i], ring[(i + 1) % 5], T0 + timedelta(days=2, hours=i), device=f"r{i}")
            for i in range(5)
        ]
        # 3. a burst of 50 invites in 2 minutes, from new devices (accounts made minutes before)
        farmer = b.contact()
        start = T0 + timedelta(days=3)
        burst = [
            b.invite(
                farmer,
                b.contact(created=start - timedelta(minutes=10)),
                start + timedelta(seconds=2 * i),
                device=f"farm-{i}",
                ip=f"172.16.0.{i}",
            )
            for i in range(50)
        ]
        # 4. invitees who delete the staff within 24 h of adding (del_follow_user)
        quitter_inviter = b.contact()
        quitters = []
        for i in range(3):
            invitee = b.contact(created=T0 - timedelta(days=90))
            at = T0 + timedelta(days=4, hours=i * 3)
            quitters.append(b.invite(quitter_inviter, invitee, at, device=f"q{i}", ip=f"9.9.9.{i}"))
            s.add(
                ContactFollow(
                    contact_id=invitee,
                    provider_key="wecom",
                    staff_userid="zhangsan",
                    external_userid=f"wmq{i}",
                    added_at=at,
                    deleted_at=at + timedelta(hours=5),
                    deleted_by="customer",
                )
            )
        stats = rescore_campaign(s, b.campaign, NOW)
        honest_ids = [r.id for r in honest]
        cases = {
            "shared_device": [self_ref.id],
            "ring_cycle": [r.id for r in ring_refs],
            "velocity_burst": [r.id for r in burst],
            "burst_new_accounts": [r.id for r in burst],
            "deleted_staff": [r.id for r in quitters],
        }
    with ctx.db.session() as s:
        rows = {r.id: r for r in s.scalars(select(Referral))}
        for code, ids in cases.items():
            for rid in ids:
                assert rows[rid].status == "flagged", (code, rows[rid].fraud_reasons)
                assert code in codes(rows[rid]), (code, rows[rid].fraud_reasons)
                assert rows[rid].fraud_score >= 60
        assert all(rows[i].status == "qualified" for i in honest_ids)
        assert all(rows[i].fraud_score == 0 and rows[i].fraud_reasons == [] for i in honest_ids)
        assert stats["flagged"] == 1 + 5 + 50 + 3
        assert len(honest_ids) == 1436  # the seeded population the docs quote


def test_loose_mode_marks_without_flagging(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s, mode="loose"))
        a = b.contact(device="shared")
        ref = b.invite(a, b.contact(), T0, device="shared")
        score_referrals(s, b.campaign, [ref], NOW)
        assert ref.status == "pending"
        assert ref.fraud_score == 90 and codes(ref) == {"shared_device"}


def test_incremental_scoring_sees_the_ring_closed_by_the_new_edge(ctx: AppContext) -> None:
    """The attribution-time pass: the fifth edge closes the ring through edges of other campaigns."""
    with ctx.db.session() as s:
        other = Builder(s, make_campaign(s, key="winter"))
        ring = [other.contact() for _ in range(5)]
        for i in range(4):
            other.invite(ring[i], ring[i + 1], T0 + timedelta(hours=i))
        b = Builder(s, make_campaign(s))
        closing = b.invite(ring[4], ring[0], T0 + timedelta(days=1))
        honest = b.invite(b.contact(), b.contact(), T0 + timedelta(days=1))
        score_referrals(s, b.campaign, [closing, honest], NOW)
        assert closing.status == "flagged" and "ring_cycle" in codes(closing)
        assert honest.status == "pending" and honest.fraud_score == 0


def test_self_referral_payer_and_ip_and_reuse(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        me = b.contact()
        same = b.invite(me, me, T0)
        inviter, friend = b.contact(), b.contact()
        for cid, no in ((inviter, "o1"), (friend, "o2")):
            s.add(
                Order(
                    contact_id=cid,
                    source="shop",
                    order_no=no,
                    total=10,
                    ordered_at=T0,
                    properties={"payer": "wx-pay-1"},
                )
            )
        payer = b.invite(inviter, friend, T0 + timedelta(hours=1))
        hub = b.contact()
        reused = [
            b.invite(hub, b.contact(), T0 + timedelta(hours=5 * i), device="one-phone") for i in range(3)
        ]
        # the same IP as the inviter's own edge: only a mark (households share IPs)
        parent = b.contact()
        child = b.contact()
        b.invite(parent, child, T0, ip="8.8.8.8")
        ip_ref = b.invite(child, b.contact(), T0 + timedelta(hours=2), ip="8.8.8.8")
        score_referrals(s, b.campaign, [same, payer, *reused, ip_ref], NOW)
        assert codes(same) == {"self_referral"} and same.fraud_score == 100
        assert "shared_payer" in codes(payer) and payer.status == "flagged"
        assert all("device_reuse" in codes(r) for r in reused)
        assert codes(ip_ref) == {"shared_ip"} and ip_ref.status == "pending"


def test_no_activity_marks_after_the_quiet_days(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        ref = b.invite(b.contact(), b.contact(), T0, status="qualified", qualified_at=T0 + timedelta(hours=1))
        score_referrals(s, b.campaign, [ref], T0 + timedelta(days=3))
        assert ref.fraud_score == 0
        score_referrals(s, b.campaign, [ref], T0 + timedelta(days=9))
        assert codes(ref) == {"no_activity"} and ref.status == "qualified"


def test_reviewed_referral_is_rescored_but_not_flagged_again(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        b = Builder(s, make_campaign(s))
        a = b.contact(device="d")
        ref = b.invite(a, b.contact(), T0, device="d")
        ref.reviewed_by = "ops"
        rescore_campaign(s, b.campaign, NOW)
        s.refresh(ref)
        assert ref.status == "pending" and ref.fraud_score == 90


def test_thresholds_from_settings_ignore_bad_values() -> None:
    th = Thresholds.of(
        {"fraud": {"burst_count": "20", "burst_minutes": "x", "ip_reuse": -1}, "void_on_delete_hours": 48}
    )
    assert (th.burst_count, th.burst_minutes, th.ip_reuse, th.delete_hours) == (20, 5, 10, 48)


@pytest.mark.parametrize("lang,text", [("zh", "与邀请人使用同一设备"), ("en", "Same device as the inviter")])
def test_reason_labels(lang: str, text: str) -> None:
    assert label("shared_device", lang) == text
    assert label("unknown_code", lang) == "unknown_code"
