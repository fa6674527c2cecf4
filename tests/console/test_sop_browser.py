"""The timeline SOP editor in a real browser, in zh-CN, as a user with the operator role and
entirely by clicking: build "tag 新客 → day 0 welcome on WeCom, day 1 10:00 smart SMS, day 3
20:00 coupon reminder to those who have not ordered, exit on order", start it, then (through
the Python client) tag three contacts and run the trigger follower and the engine at chosen
instants, and see the contacts at their steps and in the step's waiting list, masked.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from siyu.content.service import ContentService
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.schemas import QuietHours
from siyu.journeys.triggers import TriggerFollower

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "a console password"
BEIJING = ZoneInfo("Asia/Shanghai")
TEMPLATES: list[dict[str, Any]] = [
    {"key": "welcome", "name": "欢迎语", "channel": "wecom_private", "body": {"text": "{{ name }}，欢迎！"}},
    {
        "key": "day1-card",
        "name": "新客券卡片",
        "channel": "smart_sms",
        "body": {
            "card": {
                "title": "{{ name }}，新客礼包",
                "body": "满 99 减 20",
                "buttons": [{"label": "领券", "type": "url", "url": "https://shop.example.cn/c"}],
            },
            "fallback": {"text": "新客礼包", "template_code": "SMS_1", "params": {}},
        },
    },
    {
        "key": "coupon",
        "name": "券提醒",
        "channel": "sms",
        "body": {"template_code": "SMS_2", "params": {"name": "{{ name }}"}, "text": "{{ name }}，券还没用"},
    },
]
PEOPLE = [("+8613800000011", "王小明"), ("+8613800000012", "李娜"), ("+8613800000013", "张伟")]


def shot(page: Page, name: str, request: pytest.FixtureRequest) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_id = re.sub(r"[^\w.-]+", "_", request.node.name)
    page.screenshot(path=str(ARTIFACTS / f"{test_id}-{name}.png"), full_page=True)


def run_at(server: Any, now: datetime) -> None:
    """The worker's journey phases at a chosen instant (quiet hours off, so the outcome does
    not depend on the hour the test runs)."""
    ctx = server.client.ctx
    config = EngineConfig(marketing_consent_default=True, caps=[], quiet_hours=QuietHours(enabled=False))
    with ctx.db.session() as s:
        TriggerFollower(s).run(now=now)
    for _ in range(5):
        with ctx.db.session() as s:
            if Engine(s, ctx.keyring, config).run_due(now=now).claimed == 0:
                break


def test_an_operator_builds_starts_and_watches_the_new_customer_sop(
    server: Any, zh_page: Page, request: pytest.FixtureRequest
) -> None:
    page, base, client = zh_page, server.url, server.client
    client.users.create("yun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")
    with client.ctx.db.session() as s:
        for t in TEMPLATES:
            ContentService(s).create_template({**t, "variants": {}})
    client.tags.create("新客")
    ids = []
    for n, (phone, name) in enumerate(PEOPLE, 1):
        assert client.identify({"customer_no": f"c{n}", "phone": phone}, {"name": name}).rejected == []
        ids.append(client.contact(f"customer_no:c{n}")["id"])
    client.track("Order Completed", {"customer_no": "someone-else"}, {"total": 35})  # for the picker

    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", "yun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/$"))

    page.goto(f"{base}/console/journeys")
    page.click("#sop-new")
    page.fill("#sop-name", "新客 SOP")
    page.fill("#sop-key", "new-customer-sop")
    page.select_option("#sop-audience", "tag")
    page.select_option("#sop-audience-value", "新客")
    rows = page.locator("#sop-rows tr")
    page.select_option("#sop-rows tr:nth-child(1) .sop-channel", "wecom_private")
    page.select_option("#sop-rows tr:nth-child(1) .sop-template", "welcome")
    page.click("#sop-add-row")
    row2 = rows.nth(1)
    row2.locator(".sop-day").fill("1")
    row2.locator(".sop-at").fill("10:00")
    row2.locator(".sop-channel").select_option("smart_sms")
    row2.locator(".sop-template").select_option("day1-card")
    page.click("#sop-add-row")
    row3 = rows.nth(2)
    row3.locator(".sop-day").fill("3")
    row3.locator(".sop-at").fill("20:00")
    row3.locator(".sop-channel").select_option("sms")
    row3.locator(".sop-template").select_option("coupon")
    # a mistake first: the server's check shows its Chinese message next to the row
    row3.locator(".sop-day").fill("0")
    page.click("#sop-save")
    expect(row3.locator('.sop-err[data-field="day"]')).to_contain_text("按时间先后")
    shot(page, "1-inline-error", request)
    row3.locator(".sop-day").fill("3")
    row3.locator(".sop-unless").select_option("Order Completed")
    page.select_option("#sop-exit-event", "Order Completed")
    shot(page, "2-timeline", request)
    page.click("#sop-save-start")
    expect(page).to_have_url(re.compile(r"/console/journeys/new-customer-sop\?done=saved"))
    expect(page.locator("#journey-status")).to_have_attribute("data-status", "active")
    shot(page, "3-started", request)

    # three contacts get the tag; the worker runs just after, then on day 1 at 10:05 Beijing time
    client.tags.apply("新客", ids)
    entered = datetime.now(UTC)
    run_at(server, entered + timedelta(seconds=10))
    page.reload()
    expect(page.locator('#journey-steps tr[data-step="wait-2"] [data-m="waiting"]')).to_have_text("3")
    expect(page.locator('#journey-steps tr[data-step="send-1"] [data-m="entered"]')).to_have_text("3")
    day1 = datetime.combine(entered.astimezone(BEIJING).date() + timedelta(days=1), datetime.min.time())
    run_at(server, day1.replace(hour=10, minute=5, tzinfo=BEIJING).astimezone(UTC))
    page.reload()
    expect(page.locator('#journey-steps tr[data-step="wait-3"] [data-m="waiting"]')).to_have_text("3")
    expect(page.locator('#journey-steps tr[data-step="send-2"] [data-m="queued"]')).to_have_text("3")
    shot(page, "4-at-their-steps", request)

    page.locator('#journey-steps tr[data-step="wait-3"] a.waiting-link').click()
    expect(page.locator("#waiting-total")).to_have_attribute("data-total", "3")
    table = page.locator("#waiting-table")
    for masked in ("王*明", "李*", "张*", "138****0011"):
        expect(table).to_contain_text(masked)
    assert "王小明" not in page.content() and "13800000011" not in page.content()
    shot(page, "5-who-is-waiting", request)
