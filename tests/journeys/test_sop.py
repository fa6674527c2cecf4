"""The typical private-domain SOP, end to end against the provider emulators:

contacts tagged "new customer" get a welcome WeCom private message on day 0, a smart SMS card
with a two-level menu on day 1 at 10:00 (a handset that cannot show cards gets the plain-SMS
fallback with tracked links), a branch on whether they clicked, then on day 3 at 20:00 a
personal WeCom nudge for those who clicked and an SMS coupon reminder for those who did not —
unless they bought, which ends the journey (the goal)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.emulators.aliyun_sms import AliyunSmsEmulator
from tests.emulators.smart_sms import SmartSmsPlatform
from tests.emulators.wecom import WeComEmulator

from siyu.api.app import create_app
from siyu.channels.dispatcher import Dispatcher
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.policy import day_at, zone
from siyu.journeys.service import JourneyService
from siyu.journeys.triggers import TriggerFollower
from siyu.store.models import JourneyEnrolment, OutboxMessage, ShortLink

CHATBOT = "sip:1065051234@botplatform.rcs.chinaunicom.cn"
PHONES = [f"+861380013800{i}" for i in range(6)]
NOT_CAPABLE = PHONES[3]  # an old handset: gets the plain-SMS fallback
NO_SMS_CONSENT = 5
BUYER = 2
CLICKERS = {0, 1, 3}  # 3 clicks the link in its fallback SMS

JOURNEY: dict[str, Any] = {
    "key": "new-customer-sop",
    "name": "新客 SOP",
    "trigger": {"tag_added": "new-customer"},
    "goal": {"event": "Order Completed"},
    "steps": [
        {"id": "welcome", "send": {"channel": "wecom_private", "template": "welcome"}},
        {"id": "day1", "wait_until": {"day": 1, "at": "10:00"}},
        {"id": "card", "send": {"channel": "smart_sms", "template": "day1-card"}},
        {"id": "day3", "wait_until": {"day": 3, "at": "20:00"}},
        {
            "id": "clicked",
            "branch": {"routes": [{"if": {"clicked": "card"}, "next": "nudge"}], "else": "coupon"},
        },
        {"id": "nudge", "send": {"channel": "wecom_private", "template": "nudge"}, "next": "exit"},
        {"id": "coupon", "send": {"channel": "sms", "template": "coupon-sms"}},
    ],
}
TEMPLATES: list[dict[str, Any]] = [
    {
        "key": "welcome",
        "name": "欢迎",
        "channel": "wecom_private",
        "body": {"text": "{{ name }}，欢迎加入会员！"},
    },
    {
        "key": "day1-card",
        "name": "新客券卡片",
        "channel": "smart_sms",
        "body": {
            "card": {
                "title": "{{ name }}，新客礼包",
                "body": "满 99 减 20，点击领取。",
                "buttons": [
                    {
                        "label": "领券",
                        "type": "url",
                        "url": "https://shop.example.cn/coupon?c={{ contact.id }}",
                    },
                    {
                        "label": "更多",
                        "type": "menu",
                        "buttons": [
                            {"label": "门店", "type": "url", "url": "https://shop.example.cn/stores"},
                            {"label": "退订", "type": "reply", "reply": "TD"},
                        ],
                    },
                ],
            },
            "fallback": {
                "text": "{{ name }}新客礼包满99减20",
                "template_code": "SMS_100001",
                "params": {"name": "{{ name }}"},
            },
        },
    },
    {
        "key": "nudge",
        "name": "跟进",
        "channel": "wecom_private",
        "body": {"text": "{{ name }}，券快到期啦，有问题找我～"},
    },
    {
        "key": "coupon-sms",
        "name": "券提醒",
        "channel": "sms",
        "body": {
            "template_code": "SMS_200002",
            "params": {"name": "{{ name }}"},
            "text": "{{ name }}，你的券还没用",
        },
    },
]


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where ``now`` is around noon, so the day-0 welcome never falls in
    quiet hours whenever the test runs."""
    offset = (12 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return "Etc/GMT" + (f"-{offset}" if offset > 0 else f"+{-offset}" if offset < 0 else "")


@pytest.fixture
def world(ctx: AppContext) -> Iterator[dict[str, Any]]:
    wecom = WeComEmulator()
    card = SmartSmsPlatform(CHATBOT, "app-1", "key-1", not_capable={NOT_CAPABLE})
    sms = AliyunSmsEmulator(
        rate_limit=None, templates={"SMS_100001": "${name}新客礼包", "SMS_200002": "${name}，你的券还没用"}
    )
    with wecom.running() as wecom_url, card.running() as card_url, sms.running() as sms_url:
        s = Siyu(ctx)
        s.providers.add(
            "wecom", "wecom", {"corp_id": "wwcorp", "base_url": wecom_url}, {"corp_secret": "s3cret"}
        )
        s.providers.add(
            "card",
            "smart_sms",
            {"chatbot_id": CHATBOT, "app_id": "app-1", "base_url": card_url},
            {"app_key": "key-1"},
        )
        s.providers.add(
            "aliyun",
            "aliyun_sms",
            {"sign_name": "思域商城", "base_url": sms_url},
            {"access_key_id": "LTAI5tEXAMPLE", "access_key_secret": "emulator-secret"},
        )
        yield {"s": s, "wecom": wecom, "card": card, "sms": sms}


def run_phase(ctx: AppContext, at: datetime) -> None:
    """Everything the worker does, at simulated time ``at``."""
    with ctx.db.session() as session:
        TriggerFollower(session).run(now=at)
    while True:
        with ctx.db.session() as session:
            if Engine(session, ctx.keyring, EngineConfig()).run_due(500, now=at).claimed == 0:
                break
    dispatcher = Dispatcher(ctx.db, ctx.keyring)
    try:
        while dispatcher.run_once(now=at).claimed:
            pass
    finally:
        dispatcher.close()


def sent_keys(ctx: AppContext, step: str) -> dict[int, OutboxMessage]:
    with ctx.db.session() as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.step == step)).all()
        return {r.contact_id: r for r in rows}


def test_new_customer_sop(ctx: AppContext, world: dict[str, Any]) -> None:
    s: Siyu = world["s"]
    real = datetime.now(UTC)
    tz = noon_zone(real)
    ids = []
    for i, phone in enumerate(PHONES):
        s.identify(
            {"phone": phone, "wecom_external_userid": f"wmEXT{i}"},
            {"name": f"顾客{i}", "timezone": tz, "wecom_owner": "zhangsan"},
        )
        world["wecom"].add_customer("zhangsan", f"wmEXT{i}")
        ids.append(s.contact(phone)["id"])
        s.set_consent(phone, "marketing", True, channel="wecom")
        if i != NO_SMS_CONSENT:
            s.set_consent(phone, "marketing", True, channel="sms")
    with ctx.db.session() as session:
        from siyu.content.service import ContentService

        for t in TEMPLATES:
            ContentService(session).create_template(t)
        JourneyService(session).create(JOURNEY)
        JourneyService(session).start(JOURNEY["key"], now=real - timedelta(minutes=1))
    s.tags.apply("new-customer", PHONES, create=True)

    # day 0: everyone enters and gets the welcome on WeCom
    t0 = real + timedelta(seconds=10)
    run_phase(ctx, t0)
    welcome = sent_keys(ctx, "welcome")
    assert set(welcome) == set(ids) and {r.status for r in welcome.values()} == {"sent"}
    assert world["wecom"].sent_by_external_userid() == {f"wmEXT{i}": 1 for i in range(6)}

    # day 1 10:00 local: the card (one handset gets the SMS fallback; one contact has no SMS consent)
    with ctx.db.session() as session:
        entered = session.scalars(select(JourneyEnrolment.entered_at)).first()
    assert entered is not None
    t1 = day_at(entered, 1, "10:00", zone(tz))
    assert t1.astimezone(zone(tz)).hour == 10
    run_phase(ctx, t1 - timedelta(minutes=1))
    assert sent_keys(ctx, "card") == {}  # not yet
    run_phase(ctx, t1)
    cards = sent_keys(ctx, "card")
    assert set(cards) == set(ids) - {ids[NO_SMS_CONSENT]}
    assert {r.status for r in cards.values()} == {"sent"}
    assert cards[ids[3]].channel == "sms"  # the fallback, under the same idempotency key
    on_platform = world["card"].sends
    assert sorted(on_platform.values()) == [1, 1, 1, 1]
    assert world["sms"].sent_by_key() == {cards[ids[3]].key: 1}
    fallback_text = world["sms"].records[0]
    assert fallback_text  # the fallback SMS went out through Aliyun

    # clicks on the tracked links (3 clicks the link inside its fallback SMS); 2 buys on day 2
    http = TestClient(create_app(s))
    with ctx.db.session() as session:
        links = {
            r.contact_id: r.code
            for r in session.scalars(
                select(ShortLink).where(ShortLink.step == "card", ShortLink.url.like("%coupon%"))
            )
        }
    for i in CLICKERS:
        resp = http.get(f"/l/{links[ids[i]]}", follow_redirects=False)
        assert resp.status_code == 302 and "coupon" in resp.headers["location"]
    s.track("Order Completed", {"phone": PHONES[BUYER]}, {"order_id": "o-1", "amount": 99})

    # day 3 20:00: clickers get a personal nudge, the others an SMS reminder; the buyer is done
    t3 = day_at(entered, 3, "20:00", zone(tz))
    run_phase(ctx, t3)
    nudges = sent_keys(ctx, "nudge")
    coupons = sent_keys(ctx, "coupon")
    assert set(nudges) == {ids[i] for i in CLICKERS}
    assert set(coupons) == {ids[4]}  # 5 has no SMS consent, 2 bought
    assert world["sms"].sent_by_key()[coupons[ids[4]].key] == 1
    assert world["wecom"].sent_by_external_userid() == {f"wmEXT{i}": 1 + (i in CLICKERS) for i in range(6)}

    report = s.journeys.stats(JOURNEY["key"])
    steps = {st["id"]: st for st in report["steps"]}
    assert steps["welcome"]["entered"] == 6 and steps["welcome"]["sent"] == 6
    assert steps["card"]["sent"] == 5 and steps["card"]["skipped_consent"] == 1
    assert steps["card"]["clicked"] == 3
    assert steps["clicked"]["routes"] == {"route:0": 3, "route:else": 2}
    assert steps["coupon"]["sent"] == 1 and steps["coupon"]["skipped_consent"] == 1
    assert report["converted"] == 1 and report["completed"] == 5 and report["active"] == 0

    # running everything again sends nothing more
    before = (
        dict(world["wecom"].sent_by_external_userid()),
        dict(world["sms"].sent_by_key()),
        dict(on_platform),
    )
    run_phase(ctx, t3 + timedelta(hours=1))
    assert before == (
        dict(world["wecom"].sent_by_external_userid()),
        dict(world["sms"].sent_by_key()),
        dict(on_platform),
    )


def test_a_wecom_tags_step_mirrors_tags_to_wecom(ctx: AppContext, world: dict[str, Any]) -> None:
    """Tag sync goes through the outbox (exactly once, retried) and marks the corp tag on the
    customer as its staff member sees it; quiet hours and caps do not apply to it."""
    s: Siyu = world["s"]
    wecom: WeComEmulator = world["wecom"]
    vip = wecom.add_corp_tag("会员", "VIP")
    s.identify({"phone": PHONES[0], "wecom_external_userid": "wmEXT0"}, {"wecom_owner": "zhangsan"})
    wecom.add_customer("zhangsan", "wmEXT0")
    cid = s.contact(PHONES[0])["id"]
    night = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: quiet hours
    with ctx.db.session() as session:
        spec = {
            "key": "mirror",
            "name": "mirror",
            "trigger": {"list": True},
            "caps": [{"channel": "any", "per": "day", "max": 0}],
            "steps": [{"id": "sync", "wecom_tags": {"add": [vip]}}],
        }
        JourneyService(session).create(spec)
        JourneyService(session).start("mirror", now=night)
        assert JourneyService(session).enrol("mirror", [cid], now=night) == 1
    run_phase(ctx, night)
    assert wecom.contact_tags[("zhangsan", "wmEXT0")] == {vip}
    [row] = sent_keys(ctx, "sync").values()
    assert (row.channel, row.status) == ("wecom_tag", "sent")
