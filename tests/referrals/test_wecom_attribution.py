"""Attribution through WeCom callbacks (the emulator): a customer adds staff through an
inviter's own contact way (任务宝), joins a group through an inviter's live code (群裂变), and
deletes the staff within 24 hours (voided, ``deleted_staff``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from tests.emulators.wecom_groups import world
from tests.referrals.conftest import WeCom

from siyu.store.models import ContactFollow, ReferralParticipant, utcnow


def live_campaign(wecom: WeCom, campaign: Callable[..., str], kind: str, **fields) -> str:
    return campaign(key=f"{kind}-c", kind=kind, **({"starts_at": None, "hold_days": 0} | fields))


def test_task_add_through_the_inviters_contact_way(wecom: WeCom, campaign: Callable[..., str]) -> None:
    s, emu = wecom.client, wecom.emu
    key = live_campaign(wecom, campaign, "task")
    s.identify({"customer_no": "A"})
    got = s.referrals.code(key, "customer_no:A")
    assert got["config_id"] and got["state"] in {w["state"] for w in _ways(emu)}
    events = [
        emu.customer_adds("zhangsan", f"wmB{i}", state=got["state"], welcome=False, push=False)
        for i in range(3)
    ]
    events.append(emu.customer_adds("zhangsan", "wmX", state="some-other-code", welcome=False, push=False))
    assert wecom.deliver(events) == {"done": 4}
    rows = s.referrals.list(key)
    assert [(r["status"], r["via"]) for r in rows] == [("qualified", "wecom_add")] * 3
    assert {r["inviter_id"] for r in rows} == {s.contact("customer_no:A")["id"]}
    # the second one deletes the staff member at once: voided
    wecom.deliver([emu.customer_deletes_staff("zhangsan", "wmB1", push=False)])
    by_status = sorted((r["status"], r["void_reason"]) for r in s.referrals.list(key))
    assert by_status == [("qualified", None), ("qualified", None), ("voided", "deleted_staff")]
    s.referrals.run()
    assert sorted(r["status"] for r in s.referrals.list(key)) == ["approved", "approved", "voided"]
    wecom.deliver([emu.customer_adds("zhangsan", "wmB0", state=got["state"], welcome=False, push=False)])
    assert len(s.referrals.list(key)) == 3  # the same invitee again: first code wins


def _ways(emu) -> list[dict]:
    from tests.emulators.wecom_ways import ways

    return list(ways(emu).contact_ways.values())


def test_group_join_through_the_inviters_live_code(wecom: WeCom, campaign: Callable[..., str]) -> None:
    s, emu = wecom.client, wecom.emu
    groups = world(emu)
    chat = groups.create_group("zhangsan", "裂变群", push=False)
    key = live_campaign(wecom, campaign, "group", target={"chat_ids": [chat]})
    s.identify({"customer_no": "A"})
    got = s.referrals.code(key, "customer_no:A")
    with s.ctx.db.session() as session:
        p = session.query(ReferralParticipant).one()
        assert p.config_id in groups.join_ways
    for i in range(2):
        assert groups.scan(got["config_id"], f"wmG{i}", unionid=f"oU-G{i}") == chat
    assert wecom.deliver(groups.take_pushed(), workers=1)["done"] == 2
    rows = s.referrals.list(key)
    assert [(r["status"], r["via"]) for r in rows] == [("qualified", "group_join")] * 2


def test_a_friend_who_came_by_code_qualifies_on_the_add(wecom: WeCom, campaign: Callable[..., str]) -> None:
    s, emu = wecom.client, wecom.emu
    key = live_campaign(wecom, campaign, "task")
    s.identify({"customer_no": "A"})
    code = s.referrals.code(key, "customer_no:A")["code"]
    s.track(
        "Page Viewed",
        {"wecom_external_userid": "wmC1"},
        {"referral_code": code},
        utcnow() - timedelta(minutes=5),
    )
    s.referrals.run()
    assert [r["status"] for r in s.referrals.list(key)] == ["pending"]  # not a WeCom friend yet
    wecom.deliver([emu.customer_adds("zhangsan", "wmC1", state="poster", welcome=False, push=False)])
    s.referrals.run(now=utcnow() + timedelta(minutes=1))
    assert [(r["status"], r["via"]) for r in s.referrals.list(key)] == [("approved", "referral_code")]


def test_a_lost_delete_callback_is_caught_by_the_job(wecom: WeCom, campaign: Callable[..., str]) -> None:
    s, emu = wecom.client, wecom.emu
    key = live_campaign(wecom, campaign, "task", hold_days=3)
    s.identify({"customer_no": "A"})
    state = s.referrals.code(key, "customer_no:A")["state"]
    wecom.deliver([emu.customer_adds("zhangsan", "wmL1", state=state, welcome=False, push=False)])
    with s.ctx.db.session() as session:  # the customers handler ran; the referral one never saw it
        follow = session.scalars(select(ContactFollow)).one()
        follow.deleted_at, follow.deleted_by = follow.added_at + timedelta(hours=3), "customer"
    assert s.referrals.run(now=utcnow() + timedelta(days=4))["deletes"] == 1
    (row,) = s.referrals.list(key)
    assert (row["status"], row["void_reason"]) == ("voided", "deleted_staff")
