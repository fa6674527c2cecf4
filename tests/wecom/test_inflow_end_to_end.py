"""Issue 16's "Must show" steps 1–5 and 7 against the emulator: a customer adds staff through
the contact way ``spring-poster``; the encrypted ``add_external_contact`` arrives; the contact
has external_userid and unionid and its first touch is the code; the welcome goes out through
send_welcome_msg with the event's WelcomeCode within 20 s; the code's tag is applied locally and
through mark_tag; the day-1 SOP message is queued; the customer joins a group through a live code,
pushed encrypted like every callback, and at 480 members the group is swapped out;
``del_follow_user`` marks the churn. (Step 6, the pyramid against an independent ranking after 30
simulated days of group messages, is ``tests/community/test_pyramid.py``.)"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from tests.cli.conftest import Cli, cli_env
from tests.emulators.wecom_groups import world
from tests.wecom.conftest import Inflow

from siyu.community.join_ways import JoinWayService
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.policy import day_at, zone
from siyu.journeys.triggers import TriggerFollower
from siyu.sources.service import SourcesService
from siyu.store.models import (
    ContactFollow,
    EntryCode,
    Event,
    GroupMember,
    JourneyEnrolment,
    OutboxMessage,
    WeComCallback,
    utcnow,
)

STATE = "spring-poster"
TAG = "渠道/春季海报"
JOURNEY: dict[str, Any] = {
    "key": "spring-sop",
    "name": "春季海报 SOP",
    "trigger": {
        "event": {"name": "Contact Added", "where": [{"property": "state", "op": "eq", "value": STATE}]}
    },
    "steps": [
        {"id": "day1", "wait_until": {"day": 1, "at": "10:00"}},
        {"id": "day1-message", "send": {"channel": "wecom_private", "template": "spring-day1"}},
    ],
}


def setup_code(inflow: Inflow) -> None:
    s = inflow.client
    with s.ctx.db.session() as session:
        channel = SourcesService(session).ensure_channel("wecom-poster", "wecom", "春季海报")
        session.add(
            EntryCode(
                channel_id=channel.id,
                state=STATE,
                name="春季海报",
                kind="contact_way",
                provider_key="wecom",
                staff=["zhangsan"],
                tags=[TAG],
                welcome_template="spring-welcome",
                config_id="cfg-spring",
                qr_code="https://wework.qpic.cn/wwpic/spring.png",
            )
        )
        session.commit()
    s.content.create_template(
        {
            "key": "spring-welcome",
            "name": "春季欢迎语",
            "channel": "wecom_private",
            "body": {"text": "{{ name }}，欢迎！春季海报专享券已放入账户。"},
        }
    )
    s.content.create_template(
        {
            "key": "spring-day1",
            "name": "次日跟进",
            "channel": "wecom_private",
            "body": {"text": "{{ name }}，券用了吗？"},
        }
    )
    s.journeys.create(JOURNEY)
    s.journeys.start(JOURNEY["key"])


def wait_done(inflow: Inflow, n: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with inflow.client.ctx.db.session() as s:
            statuses = list(s.scalars(select(WeComCallback.status)))
        if len(statuses) >= n and "pending" not in statuses:
            assert set(statuses) == {"done"}, statuses
            return
        time.sleep(0.05)
    raise AssertionError(f"callbacks not processed within {timeout} s")


def test_spring_poster_end_to_end(inflow: Inflow) -> None:
    s, emu, ctx = inflow.client, inflow.emu, inflow.client.ctx
    setup_code(inflow)

    # 1–2: the customer scans the contact way; WeCom pushes the encrypted add_external_contact
    event = emu.customer_adds("zhangsan", "wmSPRING1", state=STATE, unionid="oUNION-spring-1", name="小林")
    assert emu.deliveries[-1].acknowledged
    assert emu.deliveries[-1].attempts[0][2] < 5  # answered within WeCom's 5 s, first try
    wait_done(inflow, 1)

    # 3: the contact, its identifiers and first touch, through the CLI contract
    cli = Cli(cli_env(ctx.settings))
    shown = cli.json("contacts", "show", "wecom_external_userid:wmSPRING1")
    kinds = {i["type"] for i in shown["identifiers"]}
    assert {"wecom_external_userid", "wechat_unionid"} <= kinds
    assert shown["first_touch"]["state"] == STATE and shown["first_channel"] == "wecom-poster"
    assert TAG in {t["key"] if isinstance(t, dict) else t for t in shown["tags"]}
    assert shown["wecom_follows"][0]["staff"] == "zhangsan" and shown["wecom_follows"][0]["state"] == STATE
    assert s.contact("wechat_unionid:oUNION-spring-1")["id"] == shown["id"]

    # the welcome: through send_welcome_msg with that WelcomeCode, personalised, once, in 20 s
    assert [w["welcome_code"] for w in emu.welcomes_sent] == [event["WelcomeCode"]]
    assert emu.welcomes_sent[0]["text"].startswith("小林，欢迎")
    issued, sent = emu.welcome_times[event["WelcomeCode"]]
    assert sent is not None and sent - issued < 20

    # 4: the tag on WeCom too (a corp tag created for it, then mark_tag)
    group = next(g for g in emu.tag_groups.values() if g["group_name"] == "渠道")
    tag_id = next(tid for tid, name in group["tags"].items() if name == "春季海报")
    assert emu.contact_tags[("zhangsan", "wmSPRING1")] == {tag_id}
    with ctx.db.session() as session:
        added = session.scalars(select(Event).where(Event.event == "Contact Added")).one()
        assert added.properties["welcome"] == "sent" and added.properties["state"] == STATE
        assert added.properties["staff"] == "zhangsan"

    # the day-1 SOP message is queued at 10:00 on day 1 (the contact's zone = the brand's)
    s.set_consent("wecom_external_userid:wmSPRING1", "marketing", True, channel="wecom")
    with ctx.db.session() as session:  # (on PostgreSQL the follower reads up to 5 s before now)
        TriggerFollower(session).run(now=utcnow() + timedelta(seconds=10))
    with ctx.db.session() as session:
        enrolment = session.scalars(select(JourneyEnrolment)).one()
        assert enrolment.contact_id == shown["id"]
        day1 = day_at(enrolment.entered_at, 1, "10:00", zone(ctx.timezone(session)))
    for at in (day1 - timedelta(minutes=1), day1):
        with ctx.db.session() as session:
            Engine(session, ctx.keyring, EngineConfig()).run_due(100, now=at)
        with ctx.db.session() as session:
            queued = session.scalars(select(OutboxMessage).where(OutboxMessage.step == "day1-message")).all()
            assert len(queued) == (1 if at == day1 else 0)
    assert queued[0].contact_id == shown["id"]

    # 5: a group live code; the customer scans it and joins; at 480 members the group is swapped
    groups = world(emu)
    first = groups.create_group("zhangsan", "春季福利群1", push=False)
    second = groups.create_group("zhangsan", "春季福利群2", push=False)
    with ctx.db.session() as session:
        svc = JoinWayService(session, ctx)
        code = svc.describe(
            svc.create("wecom", "春季群活码", "spring-group", [first, second], room_base_name="春季福利群")
        )
        session.commit()
    assert groups.scan(code["config_id"], "wmSPRING1", unionid="oUNION-spring-1") == first
    pushed = groups.take_pushed()
    assert [e["Event"] for e in pushed] == ["change_external_chat"]
    for e in pushed:
        assert emu.push(e).acknowledged  # encrypted and signed, through the receiver
    wait_done(inflow, 2)
    with ctx.db.session() as session:
        member = session.scalars(select(GroupMember).where(GroupMember.member_id == "wmSPRING1")).one()
        assert member.contact_id == shown["id"] and member.state == "spring-group"
        joined = session.scalars(select(Event).where(Event.event == "Group Joined")).one()
        assert joined.contact_id == shown["id"] and joined.properties["chat_id"] == first
    groups.fill(first, 476)  # with the owner and our customer: 478 members
    groups.join(first, "wmLATE1")  # 479: not yet full
    for e in groups.take_pushed():
        emu.push(e)
    wait_done(inflow, 3)
    with ctx.db.session() as session:
        assert JoinWayService(session, ctx).swap_full() == []
        session.commit()
    groups.join(first, "wmLATE2")  # 480
    for e in groups.take_pushed():
        emu.push(e)
    wait_done(inflow, 4)
    with ctx.db.session() as session:
        swapped = JoinWayService(session, ctx).swap_full()
        session.commit()
    assert swapped == [{"state": "spring-group", "removed": [first], "added": []}]
    assert groups.join_ways[code["config_id"]]["chat_id_list"] == [second]

    # 7: the customer deletes the staff member: 流失, its own event, on the follow
    emu.customer_deletes_staff("zhangsan", "wmSPRING1")
    wait_done(inflow, 5)
    with ctx.db.session() as session:
        follow = session.scalars(select(ContactFollow)).one()
        assert follow.deleted_by == "customer" and follow.deleted_at is not None
        lost = session.scalars(select(Event).where(Event.event == "Contact Lost")).one()
        assert lost.contact_id == shown["id"] and lost.properties["state"] == STATE
    assert s.contact("wecom_external_userid:wmSPRING1")["wecom_follows"][0]["deleted_by"] == "customer"
    stats = s.stats()
    assert stats["wecom_lost"] == 1 and stats["wecom_customers"] == 0
