"""Fixtures of the privacy tests: ``person`` builds one person holding every kind of data the
system keeps (identifiers on two contacts that merged, traits, tags and their history, consent,
a touch, events, a journey enrolment with its step log, an SMS in the outbox with a tracked
short link, stage and its history, RFM, a segment membership, a churn score, a dead letter),
and a second person, the control, who must come through every erasure untouched.

Everything goes in through the public Python API and services, except the rows of capabilities
whose computation is not under test here (RFM, scores, segment membership):
those are written as the rows their services write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pytest

from siyu.client import Siyu
from siyu.content.service import ContentService
from siyu.context import AppContext
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.service import JourneyService
from siyu.privacy.repository import family
from siyu.store.models import (
    ContactRfm,
    ContactScore,
    Segment,
    SegmentMember,
)

#: Monday 4 May 2026, 10:00 in Shanghai: outside the default quiet hours.
T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)

PHONE = "13800138000"
PHONE_E164 = "+8613800138000"
EMAIL = "zhang.sanfeng@example.com"
UNIONID = "oU-zsf-unionid-77"
NAME = "张三丰测"
CITY = "武当山测试城"
NICK = "太极宗师测"
NOTE = "订单备注三丰测"
#: What must not survive an erasure anywhere (clear forms the person's data can take).
SECRETS = (PHONE, PHONE_E164, EMAIL, UNIONID, NAME, CITY, NICK, NOTE)

CONTROL_PHONE = "13912345678"
CONTROL_NAME = "李四对照"


@dataclass
class Person:
    ctx: AppContext
    survivor: int
    absorbed: int
    control: int
    family: list[int] = field(default_factory=list)


def sms_template(ctx: AppContext, key: str = "hello") -> None:
    with ctx.db.session() as s:
        ContentService(s).create_template(
            {
                "key": key,
                "name": key,
                "channel": "sms",
                "body": {
                    "template_code": "SMS_1",
                    "params": {"name": "{{ name }}"},
                    "text": 'Hi {{ name }} {{ "https://shop.example.com/sale" | track }}',
                },
            }
        )


def sms_journey(ctx: AppContext, key: str, contacts: list[int], purpose: str = "marketing") -> None:
    """A started list journey with one SMS step, the contacts enrolled at T0 and the step run."""
    doc = {
        "key": key,
        "name": key,
        "trigger": {"list": True},
        "purpose": purpose,
        "steps": [{"id": "hi", "send": {"channel": "sms", "template": "hello"}}],
    }
    with ctx.db.session() as s:
        JourneyService(s).create(doc)
        JourneyService(s).start(key, now=T0)
    with ctx.db.session() as s:
        JourneyService(s).enrol(key, contacts, label="test", now=T0)
    with ctx.db.session() as s:
        Engine(s, ctx.keyring, EngineConfig(marketing_consent_default=True, caps=[])).run_due(1000, now=T0)


def build_person(ctx: AppContext) -> Person:
    client = Siyu(ctx)
    client.create_channel("wecom-main", "wecom")
    client.create_entry_code("wecom-main", "spring-poster")
    client.identify(
        {"phone": PHONE, "email": EMAIL}, {"name": NAME, "city": CITY}, context={"state": "spring-poster"}
    )
    client.identify({"wechat_unionid": UNIONID}, {"nickname": NICK})
    client.identify({"phone": CONTROL_PHONE}, {"name": CONTROL_NAME})
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        survivor = profiles.resolve(ctx.parser.parse("phone", PHONE))
        absorbed = profiles.resolve(ctx.parser.parse("wechat_unionid", UNIONID))
        control = profiles.resolve(ctx.parser.parse("phone", CONTROL_PHONE))
    assert survivor and absorbed and control and absorbed != survivor
    client.identify({"wechat_unionid": UNIONID, "phone": PHONE})  # merges the two
    client.track("Order Completed", {"phone": PHONE}, {"amount": 128, "note": NOTE})
    client.track("Order Completed", {"phone": CONTROL_PHONE}, {"amount": 64})
    client.set_consent(PHONE, "marketing", True, channel="sms")
    client.tags.apply("vip", [f"id:{survivor}", f"id:{control}"], create=True)
    client.stages.set(f"id:{survivor}", "retention")
    with ctx.db.session() as s:
        seg = Segment(key="buyers", name="buyers", kind="static", definition={})
        s.add(seg)
        s.flush()
        for cid in (survivor, control):
            s.add(SegmentMember(segment_id=seg.id, contact_id=cid))
            s.add(
                ContactRfm(
                    contact_id=cid,
                    recency_days=3.0,
                    frequency=2,
                    monetary=128.0,
                    r=5,
                    f=4,
                    m=3,
                    segment="champions",
                )
            )
            s.add(ContactScore(contact_id=cid, churn_risk=0.2, model="test"))
    sms_template(ctx)
    sms_journey(ctx, "welcome", [survivor, control])
    dead = ctx.settings.dead_letter_dir
    dead.mkdir(parents=True, exist_ok=True)
    (dead / "import-1-contacts.rejected.jsonl").write_bytes(
        orjson.dumps({"line": 2, "error": "email: not an email", "raw": f"138 0013 8000,{NAME},bad@"})
        + b"\n"
        + orjson.dumps({"line": 3, "error": "phone: not a phone", "raw": f"{CONTROL_NAME},12"})
        + b"\n"
    )
    with ctx.db.session() as s:
        fam = family(s, survivor)
    return Person(ctx, survivor, absorbed, control, fam)


@pytest.fixture
def person(ctx: AppContext) -> Person:
    return build_person(ctx)
