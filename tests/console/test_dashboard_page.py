"""The dashboard (概览) on a small hand-made brand: every number is counted by hand from the
calls below (channels, orders, today's sends, stages), and an empty brand renders cleanly.

Days are the brand's (Asia/Shanghai, the default): today's events sit at 00:00 Beijing time,
which is 16:00 UTC of the day before, so a dashboard counting UTC days would miss them."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from siyu.store.models import OutboxMessage

BEIJING = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(BEIJING).date()


def at(days_ago: int, hour: int = 10) -> str:
    """A Beijing time ``days_ago`` days before today; today's events sit at midnight (never in
    the future whenever the test runs)."""
    day = TODAY - timedelta(days=days_ago)
    return datetime.combine(day, time(0 if days_ago == 0 else hour), tzinfo=BEIJING).isoformat()


def call(user: str, event: str, days_ago: int, state: str | None = None, **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": user,
        "messageId": f"{user}-{event}-{days_ago}-{sorted(props.items())}",
        "timestamp": at(days_ago),
        "properties": props,
    }
    if state:
        out["context"] = {"state": state}
    return out


def value(html: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}" data-value="([^"]*)"', html)
    assert m, f"#{element_id} not on the page"
    return m.group(1)


def rows(html: str, table_id: str, key: str, val: str) -> dict[str, int]:
    m = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert m, f"#{table_id} not on the page"
    return {k: int(v) for k, v in re.findall(rf'<tr data-{key}="([^"]+)" data-{val}="(\d+)"', m.group(1))}


def outbox(contact_id: int, n: int, channel: str, status: str, sent_at: datetime | None) -> OutboxMessage:
    return OutboxMessage(
        key=f"test:{contact_id}:{n}",
        contact_id=contact_id,
        channel=channel,
        content={"text": "hi"},
        status=status,
        sent_at=sent_at,
        local_day=TODAY.isoformat(),
        local_week="2026-W01",
    )


@pytest.fixture
def brand(server) -> dict[str, int]:
    """u0–u2 came through WeCom yesterday, u3 through a store 3 days ago, u4 (no channel) 40
    days ago, u5 (no channel) today. Orders: u0 twice (100.5 yesterday, 50 two days ago), u3
    once (30), u1 once without a numeric amount, u4 once 40 days ago (999)."""
    s = server.client
    s.create_channel("wecom-main", "wecom", "企微主号")
    s.create_channel("store", "store", "门店")
    s.create_entry_code("wecom-main", "qr-w")
    s.create_entry_code("store", "qr-s")
    calls = [call(f"u{n}", "Signed Up", 1, "qr-w") for n in range(3)]
    calls += [call("u3", "Signed Up", 3, "qr-s"), call("u4", "Signed Up", 40), call("u5", "Page Viewed", 0)]
    calls += [
        call("u0", "Order Completed", 1, amount=100.5),
        call("u0", "Order Completed", 2, amount=50),
        call("u3", "Order Completed", 1, amount="30"),
        call("u1", "Order Completed", 1, amount="n/a"),
        call("u4", "Order Completed", 40, amount=999),
    ]
    result = s.batch(calls)
    assert result.accepted == len(calls) and result.contacts_created == 6
    ids = {f"u{n}": s.contact(f"customer_no:u{n}")["id"] for n in range(6)}
    s.stages.set("customer_no:u0", "conversion")
    s.stages.set("customer_no:u3", "conversion")
    s.stages.set("customer_no:u1", "retention")
    now = datetime.now(BEIJING)
    midnight = datetime.combine(TODAY, time(), tzinfo=BEIJING)
    with s.ctx.db.session() as session:
        session.add_all(
            [
                outbox(ids["u0"], 1, "sms", "sent", midnight),
                outbox(ids["u1"], 2, "sms", "delivered", midnight),
                outbox(ids["u2"], 3, "wecom", "sent", midnight),
                outbox(ids["u3"], 4, "sms", "sent", midnight - timedelta(seconds=1)),  # yesterday
                outbox(ids["u4"], 5, "sms", "failed", None),
                outbox(ids["u5"], 6, "wecom", "pending", None),
            ]
        )
        session.commit()
    assert now.date() == TODAY, "the test crossed midnight (Beijing time); run it again"
    return ids


def test_dashboard_numbers_are_exact(server, brand, console_as) -> None:
    page = console_as("viewer").get("/console/")
    assert page.status_code == 200
    html = page.text
    assert value(html, "contacts-total") == "6"
    assert rows(html, "pool-table", "channel", "contacts") == {
        "wecom-main": 3,
        "store": 1,
        "(unattributed)": 2,
    }
    assert "企微主号" in html and "门店" in html
    # last 30 days: everyone but u4 is new; u5 today
    assert value(html, "new-contacts") == "5"
    assert value(html, "new-today") == "1"
    # active today: u5; in 7 and 30 days: u0–u3 and u5 (u4 only 40 days ago)
    assert (value(html, "dau"), value(html, "wau"), value(html, "mau")) == ("1", "5", "5")
    # orders in 30 days: u0 ×2, u3, u1 (no numeric amount: an order worth 0)
    assert value(html, "orders-total") == "4"
    assert value(html, "customers-total") == "3"
    assert float(value(html, "revenue-total")) == pytest.approx(180.5)
    assert "¥180.50" in html
    # sends today: two SMS (sent, delivered) and one WeCom; one still pending
    assert rows(html, "sends-table", "channel", "sent") == {"sms": 2, "wecom": 1}
    assert value(html, "sent-today") == "3"
    assert value(html, "pending") == "1"
    stages = rows(html, "stages-table", "stage", "contacts")
    assert stages["conversion"] == 2 and stages["retention"] == 1
    assert sum(stages.values()) == 3
    for chart in ("growth-chart", "pool-chart", "activity-chart", "orders-chart", "stages-chart"):
        assert f'id="{chart}" data-figure=' in html
    assert '<script src="/console/static/vendor/plotly.min.js">' in html


def test_dashboard_range_of_90_days_counts_older_orders(server, brand, console_as) -> None:
    html = console_as("analyst").get("/console/?days=90").text
    assert value(html, "new-contacts") == "6"
    assert value(html, "orders-total") == "5"
    assert value(html, "customers-total") == "4"
    assert float(value(html, "revenue-total")) == pytest.approx(1179.5)
    assert value(html, "mau") == "5"  # MAU stays "trailing 30 days"
    assert "¥1,179.50" in html
    # an unknown range falls back to 30 days rather than failing
    assert value(console_as("viewer").get("/console/?days=13").text, "orders-total") == "4"


def test_empty_brand_renders(server, console_as) -> None:
    browser = console_as("viewer")
    for lang in ("en", "zh"):
        browser.cookies.set("siyu_lang", lang)
        page = browser.get("/console/")
        assert page.status_code == 200
        html = page.text
        for tile in ("contacts-total", "new-contacts", "dau", "orders-total", "sent-today"):
            assert value(html, tile) == "0"
        assert float(value(html, "revenue-total")) == 0
        assert "data-figure=" not in html  # no empty charts, notes instead
        note = "No contacts yet" if lang == "en" else "还没有客户"
        assert note in html
