"""Console pages of orders and subscriptions: the list with filters, one order and its refund
form, the report with its CSV, the problems page, the profile's 订单 card, and subscriptions;
the zh pages read in Chinese with data on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser
from tests.commerce.conftest import order_call, refund_call
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated

CHARTS_DRAWN = "[...document.querySelectorAll('[data-figure]')].every(e => e.querySelector('.main-svg'))"


def seed(server: Any) -> int:
    c = server.client
    c.batch(
        [
            order_call("T1", 300, source="taobao", staff="li", timestamp="2026-06-01T02:00:00Z"),
            order_call("T2", 80, source="youzan", timestamp="2026-06-02T02:00:00Z"),
            order_call("BAD", "abc"),
            refund_call("NOPE", amount=1),
        ]
    )
    c.orders.subscriptions.create_plan("milk", "每周鲜奶", "49.9", 7)
    c.orders.subscriptions.subscribe("13800138000", "milk")
    return int(c.orders.summary("13800138000")["contact_id"])


def test_orders_pages_and_actions(console_as: Callable[[str], Any], server: Any) -> None:
    cid = seed(server)
    owner = console_as("owner")
    listed = owner.get("/console/orders")
    assert listed.status_code == 200 and 'data-order="taobao/T1"' in listed.text and "¥300.00" in listed.text
    only = owner.get("/console/orders", params={"source": "youzan"})
    assert 'data-order="youzan/T2"' in only.text and "taobao/T1" not in only.text
    assert owner.get("/console/orders", params={"since": "not a day"}).status_code == 422
    detail = owner.get("/console/orders/taobao/T1")
    assert detail.status_code == 200 and 'id="refund-form"' in detail.text
    r = owner.post_form(
        "/console/orders/taobao/T1/refund", {"amount": "100", "reason": "破损"}, follow_redirects=True
    )
    assert r.status_code == 200 and "Refund recorded" in r.text and "¥100.00" in r.text
    too_much = owner.post_form("/console/orders/taobao/T1/refund", {"amount": "999"})
    assert too_much.status_code == 422 and "left" in too_much.text
    assert owner.get("/console/orders/taobao/NOPE").status_code == 404
    report = owner.get("/console/orders/report", params={"since": "2026-06-01", "until": "2026-06-30"})
    assert report.status_code == 200 and "¥380.00" in report.text and "data-figure" in report.text
    csv = owner.get("/console/orders/report.csv", params={"since": "2026-06-01", "until": "2026-06-30"})
    assert csv.status_code == 200 and "total,,2,380.00,280.00" in csv.text
    problems = owner.get("/console/orders/problems")
    assert 'data-code="not_a_number"' in problems.text and 'data-code="order_not_found"' in problems.text
    profile = owner.get(f"/console/contacts/{cid}")
    assert 'id="contact-orders"' in profile.text and 'id="orders-count">2<' in profile.text
    subs = owner.get("/console/subscriptions")
    assert subs.status_code == 200 and "每周鲜奶" in subs.text
    sid = subs.text.split('data-sub="', 1)[1].split('"', 1)[0]
    r = owner.post_form(f"/console/subscriptions/{sid}/pause", follow_redirects=True)
    assert r.status_code == 200 and f"/console/subscriptions/{sid}/resume" in r.text
    r = owner.post_form(f"/console/subscriptions/{sid}/cancel", {"reason": "不喝了"}, follow_redirects=True)
    assert "不喝了" in r.text
    assert owner.post_form(f"/console/subscriptions/{sid}/explode").status_code == 404
    plan = {"name": "月度茶包", "price": "-1", "interval_days": "30"}
    assert owner.post_form("/console/subscriptions/plans", plan).status_code == 422
    r = owner.post_form("/console/subscriptions/plans", {**plan, "price": "99"}, follow_redirects=True)
    assert r.status_code == 200 and "月度茶包" in r.text
    viewer = console_as("viewer")
    assert viewer.get("/console/orders").status_code == 200
    assert viewer.post_form("/console/orders/taobao/T1/refund", {"amount": "1"}).status_code == 403


def test_orders_pages_read_in_chinese(server: Any, browser: Browser) -> None:
    seed(server)
    server.client.orders.refund("taobao", "T1", amount=50, reason="破损")
    server.client.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server.url, "boss")
        for path in (
            "/console/orders",
            "/console/orders/taobao/T1",
            "/console/orders/report?since=2026-06-01&until=2026-06-30",
            "/console/orders/problems",
            "/console/subscriptions",
        ):
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, path
            page.wait_for_function(CHARTS_DRAWN)
            assert untranslated(page) == [], path
        # a refused refund says, in Chinese, which field and what is wrong
        page.goto(server.url + "/console/orders/taobao/T1")
        page.fill("#refund-form input[name=amount]", "9999")
        page.click("#refund-form button")
        assert "退款金额：退款金额超过订单剩余金额" in page.inner_text("main")
        assert untranslated(page) == []
    finally:
        context.close()
