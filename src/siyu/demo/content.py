"""The demo brand's operating set-up, so every console page has something on first run: tags,
three saved segments, a template on every channel, and three running SOPs — 新客欢迎 (day 0, day
1 at 10:00, day 3 at 20:00), 沉睡唤醒 and 生日关怀.

:func:`load` creates only what is missing, so loading the demo again (``siyu demo`` twice, or
``siyu serve --demo`` after ``siyu demo``) changes nothing and fails on nothing. It refuses a
data directory that holds another brand's contacts: the demo never mixes with real customers.

The journeys are started but send through no provider until one is added (``siyu providers
add``): a demo must not message real phones. Their messages wait in the outbox, failing with
"no provider", which the journey pages show.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu.content.service import ContentService
from siyu.context import AppContext
from siyu.journeys.service import JourneyService
from siyu.segments.service import SegmentService
from siyu.store.models import Contact
from siyu.tags.service import TagService
from siyu.warehouse.store import Warehouse

NEW_TAG = "新客"
COUPON_URL = "https://shop.example.cn/coupon?u={{ contact.id }}"
SEGMENTS: tuple[dict[str, Any], ...] = (
    {
        "key": "recent-buyers",
        "name": "近30天下单",
        "definition": {
            "type": "event",
            "event": "Order Completed",
            "count": {"op": "gte", "value": 1},
            "within": {"days": 30},
        },
    },
    {
        "key": "high-value",
        "name": "高价值会员",
        "tag": "vip",
        "definition": {"type": "event", "event": "Order Completed", "count": {"op": "gte", "value": 3}},
    },
    {
        "key": "dormant",
        "name": "沉睡客户",
        "tag": "沉睡",
        "definition": {
            "type": "and",
            "conditions": [
                {"type": "event", "event": "Order Completed", "count": {"op": "gte", "value": 1}},
                {
                    "type": "event",
                    "event": "Order Completed",
                    "count": {"op": "eq", "value": 0},
                    "within": {"days": 30},
                },
            ],
        },
    },
)
_NAME = "{{ name | default('茶友', true) }}"
TEMPLATES: tuple[dict[str, Any], ...] = (
    {
        "key": "welcome-wecom",
        "name": "新客欢迎语",
        "channel": "wecom_private",
        "scenario": "welcome",
        "body": {"text": _NAME + "，欢迎加入茶友会！首单立减 5 元，点单小程序里直接用。"},
    },
    {
        "key": "welcome-card",
        "name": "次日新品卡片",
        "channel": "smart_sms",
        "scenario": "welcome",
        "body": {
            "card": {
                "title": _NAME + "，本周新茶上市",
                "body": "凭此卡到店或小程序下单，第二杯半价。",
                "buttons": [
                    {"label": "去点单", "type": "url", "url": COUPON_URL},
                    {
                        "label": "更多",
                        "type": "menu",
                        "buttons": [
                            {"label": "联系客服", "type": "call", "phone": "+864008001234"},
                            {"label": "退订", "type": "reply", "reply": "TD"},
                        ],
                    },
                ],
            },
            "fallback": {"text": _NAME + "，本周新茶上市，第二杯半价。"},
        },
    },
    {
        "key": "coupon-sms",
        "name": "优惠券到期提醒",
        "channel": "sms",
        "scenario": "welcome",
        "body": {
            "template_code": "SMS_DEMO_0001",
            "params": {"name": _NAME},
            "text": "【茶友会】" + _NAME + "，你的 5 元新客券今晚到期，别错过。回 TD 退订",
        },
    },
    {
        "key": "winback-sms",
        "name": "沉睡唤醒短信",
        "channel": "sms",
        "scenario": "winback",
        "body": {
            "template_code": "SMS_DEMO_0002",
            "params": {"name": _NAME},
            "text": "【茶友会】" + _NAME + "，好久不见！送你一张 8 折券，7 天内有效。回 TD 退订",
        },
    },
    {
        "key": "winback-email",
        "name": "沉睡唤醒邮件",
        "channel": "email",
        "scenario": "winback",
        "body": {
            "subject": _NAME + "，我们想你了",
            "html": "<p>"
            + _NAME
            + "，好久不见。</p><p>新品已上架，<a href='"
            + COUPON_URL
            + "'>领一张 8 折券</a>。</p>",
        },
    },
    {
        "key": "birthday-wecom",
        "name": "生日祝福",
        "channel": "wecom_private",
        "scenario": "birthday",
        "body": {"text": _NAME + "，生日快乐！送你一杯生日特饮，本月内到店出示即可。"},
    },
    {
        "key": "group-new-arrivals",
        "name": "社群新品预告",
        "channel": "wecom_group",
        "scenario": "community",
        "body": {"text": "各位茶友，周五新品上市，群内前 50 位下单送小料。"},
    },
    {
        "key": "moment-weekly",
        "name": "朋友圈每周推荐",
        "channel": "wecom_moment",
        "scenario": "community",
        "body": {"text": "本周推荐：桂花乌龙，清香回甘。"},
    },
    {
        "key": "wecom-greeting",
        "name": "加好友欢迎语",
        "channel": "wecom_welcome",
        "scenario": "welcome",
        "body": {"text": "你好，我是你的专属茶友顾问，有任何问题随时找我。"},
    },
    {
        "key": "crm-order-sync",
        "name": "订单同步到 CRM",
        "channel": "webhook",
        "scenario": "system",
        "transactional": True,
        "body": {"event": "demo.customer", "data": {"contact": "{{ contact.id }}"}},
    },
)
JOURNEYS: tuple[dict[str, Any], ...] = (
    {
        "key": "new-customer-welcome",
        "name": "新客欢迎",
        "trigger": {"tag_added": NEW_TAG},
        "goal": {"event": "Order Completed"},
        "steps": [
            {"id": "welcome", "send": {"channel": "wecom_private", "template": "welcome-wecom"}},
            {"id": "day1", "wait_until": {"day": 1, "at": "10:00"}},
            {"id": "card", "send": {"channel": "smart_sms", "template": "welcome-card"}},
            {"id": "day3", "wait_until": {"day": 3, "at": "20:00"}},
            {"id": "coupon", "send": {"channel": "sms", "template": "coupon-sms"}},
        ],
    },
    {
        "key": "dormant-winback",
        "name": "沉睡唤醒",
        "trigger": {"segment_entered": "dormant"},
        "goal": {"event": "Order Completed"},
        "steps": [
            {"id": "sms", "send": {"channel": "sms", "template": "winback-sms"}},
            {"id": "wait", "wait": "3d"},
            {"id": "email", "send": {"channel": "email", "template": "winback-email"}},
        ],
    },
    {
        "key": "birthday-care",
        "name": "生日关怀",
        "trigger": {"date": {"attribute": "birthday", "at": "10:00"}},
        "entry": {"reentry": True, "cooldown": "300d"},
        "purpose": "service",
        "steps": [{"id": "greet", "send": {"channel": "wecom_private", "template": "birthday-wecom"}}],
    },
)


def load(ctx: AppContext, now: datetime | None = None, actor: str = "demo") -> dict[str, int]:
    """Create what is missing of the demo's tags, segments, templates and journeys, and start
    the journeys; how many of each were created (0s on a second run)."""
    now = now or datetime.now(UTC)
    made = {"tags": 0, "segments": 0, "templates": 0, "journeys": 0}
    wh = Warehouse(ctx.settings.resolved_warehouse_path, wait_s=ctx.settings.warehouse_wait_s)
    try:
        with ctx.db.session() as s:
            wh.feed(ctx.db, ctx.settings.warehouse_batch_size)
            tags = TagService(s)
            if tags.repo.tag(NEW_TAG) is None:
                since = now - timedelta(days=7)
                newest = s.scalars(
                    select(Contact.id).where(Contact.merged_into_id.is_(None), Contact.created_at >= since)
                ).all()
                tags.apply(NEW_TAG, newest, source="import", actor=actor, create=True, at=now)
                made["tags"] += 1
            segments = SegmentService(s, wh)
            for spec in SEGMENTS:
                if segments.repo.get(spec["key"]) is None:
                    if spec.get("tag") and tags.repo.tag(spec["tag"]) is None:
                        tags.tag(spec["tag"], create=True)
                        made["tags"] += 1
                    segments.create(spec, actor=actor)
                    made["segments"] += 1
            content = ContentService(s)
            for spec in TEMPLATES:
                if content.template(spec["key"]) is None:
                    content.create_template(spec, actor=actor)
                    made["templates"] += 1
            journeys = JourneyService(s)
            for spec in JOURNEYS:
                if journeys.repo.by_key(spec["key"]) is None:
                    journeys.create(spec, actor=actor)
                    made["journeys"] += 1
                if journeys.get(spec["key"]).status == "draft":
                    journeys.start(spec["key"], actor=actor, now=now)
            s.commit()
        wh.feed(ctx.db, ctx.settings.warehouse_batch_size)
    finally:
        wh.close()
    return made


__all__ = ["JOURNEYS", "SEGMENTS", "TEMPLATES", "load"]
