"""Console pages for check-ins, tasks and the points catalogue: forms that save or say what is
wrong (422, in the operator's words), toggles, read-only viewers, and the pages in Chinese in a
real browser (conditions and kinds in words, no raw keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated

from siyu.coupons.templates import TemplateService

PAGES = ("/console/loyalty/checkins", "/console/loyalty/tasks", "/console/loyalty/catalogue")


def _coupon(server: Any) -> None:
    with server.client.ctx.db.session() as s:
        TemplateService(s).create(
            {"key": "tea", "name": "茶饮券", "kind": "fixed", "amount": "10", "valid_days": 30}
        )


def test_forms_save_refuse_and_toggle(server: Any, console_as: Callable[[str], Any]) -> None:
    _coupon(server)
    owner = console_as("owner")
    saved = owner.post_form(
        "/console/loyalty/checkins",
        {"points": "2", "milestone_days": ["7", ""], "milestone_points": ["20", ""]},
    )
    assert saved.status_code == 200 and "/console/loyalty/checkins" in str(saved.url)
    assert server.client.engage.checkin_settings() == {"points": 2, "milestones": {"7": 20}}
    bad = owner.post_form("/console/loyalty/checkins", {"points": "-1"})
    assert bad.status_code == 422 and "whole numbers" in bad.text
    assert server.client.engage.checkin_settings()["points"] == 2  # nothing changed

    task = {"name": "首单", "key": "first-order", "kind": "event", "event": "Order Completed", "count": "1"}
    added = owner.post_form("/console/loyalty/tasks", {**task, "reward_points": "50", "reward_coupon": "tea"})
    assert added.status_code == 200 and "first-order" in added.text
    again = owner.post_form("/console/loyalty/tasks", {**task, "reward_points": "x"})
    assert again.status_code == 422 and "whole number" in again.text
    assert owner.post_form("/console/loyalty/tasks", task).status_code == 422  # the key is taken
    owner.post_form("/console/loyalty/tasks/first-order/active", {"active": "0"})
    assert server.client.engage.tasks()[0]["active"] is False

    item = {"name": "茶饮券", "key": "tea", "kind": "coupon", "points": "300"}
    refused = owner.post_form("/console/loyalty/catalogue", item)  # a coupon item needs its template
    assert refused.status_code == 422 and "coupon template" in refused.text
    ok = owner.post_form("/console/loyalty/catalogue", {**item, "coupon_template": "tea", "stock": "10"})
    assert ok.status_code == 200
    assert server.client.engage.catalogue()[0]["stock"] == 10
    owner.post_form("/console/loyalty/catalogue/tea/active", {"active": "0"})
    assert server.client.engage.catalogue()[0]["active"] is False

    viewer = console_as("viewer")
    for path in PAGES:
        assert viewer.get(path).status_code == 200
    assert viewer.post_form("/console/loyalty/checkins", {"points": "9"}).status_code == 403


def test_pages_read_in_chinese(server: Any, browser: Browser) -> None:
    _coupon(server)
    c = server.client
    c.engage.set_checkin_settings({"points": 1, "milestones": {"7": 20}})
    c.engage.add_task(
        "first-order",
        name="首单有礼",
        condition={"event": "Order Completed"},
        reward_points=50,
        reward_coupon="tea",
    )
    c.engage.add_task("profile", name="完善资料", condition={"profile": ["name", "city"]}, badge="资料达人")
    c.engage.add_item("tea", name="茶饮券", kind="coupon", points=300, coupon_template="tea", stock=5)
    c.engage.add_item("mug", name="马克杯", kind="gift", points=800)
    c.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server.url, "boss")
        for path in PAGES:
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, path
            assert untranslated(page) == [], path
        page.goto(server.url + "/console/loyalty/tasks")
        conditions = page.locator("#tasks td.condition").all_inner_texts()
        assert conditions == ["下单 达到 1 次", "填写：name、city"]
        page.goto(server.url + "/console/loyalty/catalogue")
        kinds = page.locator("#catalogue tbody tr td:nth-child(2)").all_inner_texts()
        assert sorted(kinds) == ["优惠券", "礼品"]
        assert page.locator("#catalogue tr[data-key=mug] td[data-stock]").inner_text() == "不限"
    finally:
        context.close()
