"""The event catalogue service: it learns event names and property keys from the data, people
edit the labels (learning never overwrites them), built-in defaults cover common events, and a
timeline event reads as its title and summary (下单 ¥35.04（1件）)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from siyu.client import Siyu
from siyu.console.event_text import describe
from siyu.events.service import EventCatalogue, summary
from siyu.store.models import AuditEntry


def _by_name(client: Siyu) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in client.events.list()}


def test_learn_adds_names_volumes_and_property_keys_from_the_data(brand: Siyu) -> None:
    first = brand.events.learn()
    assert first == {"events": 3, "added": 3, "new_properties": 4}
    rows = _by_name(brand)
    assert {n: r["volume"] for n, r in rows.items()} == {"Order Completed": 3, "领券": 2, "Page Viewed": 1}
    assert list(rows) == ["Order Completed", "领券", "Page Viewed"]  # busiest first
    assert set(rows["Order Completed"]["properties"]) == {"amount", "items"}
    assert rows["领券"]["properties"]["coupon"]["zh"] == "优惠券"  # a common key's built-in label
    assert rows["领券"]["display_zh"] is None  # a brand's own name has no default
    assert rows["Page Viewed"]["last_seen_at"].startswith("2026-03-01T02:06")
    again = brand.events.learn()
    assert again == {"events": 3, "added": 0, "new_properties": 0}


def test_learning_again_keeps_what_people_wrote(brand: Siyu) -> None:
    brand.events.learn()
    brand.events.update("领券", {"display_zh": "领取优惠券", "properties": {"coupon": {"zh": "券码"}}})
    brand.batch(
        [
            {
                "type": "track",
                "event": "领券",
                "userId": "u3",
                "messageId": "u3-coupon",
                "properties": {"coupon": "X", "channel": "sms"},
            }
        ]
    )
    brand.feed_warehouse()
    assert brand.events.learn() == {"events": 3, "added": 0, "new_properties": 1}
    row = brand.events.get("领券")
    assert row["display_zh"] == "领取优惠券" and row["volume"] == 3
    assert row["properties"]["coupon"]["zh"] == "券码"
    assert row["properties"]["channel"] == {"zh": "渠道", "en": "Channel", "kind": "channel"}


def test_edit_is_audited_and_an_empty_field_brings_the_default_back(brand: Siyu) -> None:
    edited = brand.events.update(
        "Order Completed",
        {
            "display_zh": "成交",
            "summary_zh": "[{amount}]",
            "properties": {"amount": {"zh": "实付", "kind": "money"}},
        },
        actor="user:ops",
    )
    assert edited["display_zh"] == "成交" and edited["display_en"] == "Ordered"  # the rest stays default
    assert edited["properties"]["amount"]["zh"] == "实付"
    with brand.ctx.db.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "event_definition.updated")).one()
    assert (entry.actor, entry.target_type, entry.target_id) == ("user:ops", "event", "Order Completed")
    assert entry.details == {"fields": ["display_zh", "properties", "summary_zh"]}
    cleared = brand.events.update("Order Completed", {"display_zh": ""})
    assert cleared["display_zh"] == "下单" and cleared["summary_zh"] == "[{amount}]"


def test_defaults_cover_common_events_before_any_data(ctx: Any) -> None:
    client = Siyu(ctx)
    assert client.events.list() == []
    known = client.events.get("Order Completed")
    assert (known["display_zh"], known["display_en"], known["volume"]) == ("下单", "Ordered", 0)
    assert client.events.get("tag.added")["display_zh"] == "添加标签"
    with pytest.raises(LookupError, match="no event 'Bought'"):
        client.events.get("Bought")
    titles = client.events.titles(["Order Completed", "Bought", "stage.changed"], "zh")
    assert titles == {"Order Completed": "下单", "Bought": "Bought", "stage.changed": "阶段变化"}
    assert client.events.titles(["Order Completed"], "en") == {"Order Completed": "Ordered"}
    # a brand may label an event before it arrives
    made = client.events.update("Bought", {"display_zh": "购买"})
    assert made["display_zh"] == "购买" and client.events.titles(["Bought"], "zh") == {"Bought": "购买"}


def test_bad_edits_are_refused_with_the_field(ctx: Any) -> None:
    client = Siyu(ctx)
    with pytest.raises(ValidationError) as bad:
        client.events.update("Order Completed", {"summary_zh": "{amount"})
    assert bad.value.errors()[0]["loc"] == ("summary_zh",)
    with pytest.raises(ValidationError) as kind:
        client.events.update("Order Completed", {"properties": {"amount": {"kind": "euro"}}})
    assert kind.value.errors()[0]["loc"] == ("properties", "amount", "kind")
    with pytest.raises(ValidationError, match="display"):
        client.events.update("Order Completed", {"display": "x"})
    with pytest.raises(ValueError, match="1 to 200 characters"):
        client.events.update("x" * 201, {"display_zh": "长"})
    assert client.events.list() == []  # nothing half-written


def test_choices_offer_learned_and_unlearned_names_with_titles(brand: Siyu) -> None:
    before = brand.events.choices("zh")  # not learned yet: names come from the data
    assert {e["name"]: e["title"] for e in before["events"]} == {
        "Order Completed": "下单",
        "领券": "领券",
        "Page Viewed": "浏览页面",
    }
    assert before["properties"] == []
    brand.events.learn()
    after = brand.events.choices("zh")
    assert [e["name"] for e in after["events"]] == ["Order Completed", "领券", "Page Viewed"]
    assert {p["key"]: p["title"] for p in after["properties"]} == {
        "amount": "金额",
        "coupon": "优惠券",
        "items": "件数",
        "path": "页面路径",
    }
    assert {p["key"]: p["title"] for p in brand.events.choices("en")["properties"]}["amount"] == "Amount"


def test_a_timeline_event_reads_as_title_and_summary(ctx: Any) -> None:
    with Siyu(ctx).ctx.db.session() as s:
        labels = EventCatalogue(s).labels(["Order Completed", "stage.changed", "领券"])
    order = describe(labels["Order Completed"], {"amount": 35.04, "items": 1}, "zh")
    assert f"{order['title']} {order['summary']}" == "下单 ¥35.04（1件）"
    assert str(describe(labels["Order Completed"], {"amount": 35.04}, "zh")["summary"]) == "¥35.04"
    english = describe(labels["Order Completed"], {"amount": 35.04, "items": 2}, "en")
    assert f"{english['title']} {english['summary']}" == "Ordered ¥35.04 (2 items)"
    stage = describe(labels["stage.changed"], {"from": "acquisition", "to": "conversion"}, "zh")
    assert str(stage["summary"]) == "获客 → 转化"
    # a brand's own value is data, marked so; an unlabelled event lists its known properties
    own = describe(labels["领券"], {"coupon": "SPRING"}, "zh")
    assert own["title"] == "领券"
    assert str(own["summary"]) == '优惠券 <span class="data" translate="no">SPRING</span>'
    plain = summary(labels["领券"], {"coupon": "X", "secret": "y"}, "zh", lambda kind, v: f"<{v}>")
    assert plain == "优惠券 <X>"
