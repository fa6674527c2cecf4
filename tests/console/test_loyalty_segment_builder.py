"""The segment builder's loyalty conditions in Chinese: tiers by their names, words for the
balance and coupon states, and a live count from the warehouse."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from playwright.sync_api import Browser
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated

from siyu.store.changes import note_changed
from siyu.store.models import Contact, CouponTemplate, LoyaltyMember, LoyaltyTier


def test_loyalty_conditions_read_in_chinese(server: Any, browser: Browser) -> None:
    with server.client.ctx.db.session() as s:
        silver = LoyaltyTier(key="silver", name="银卡", name_en="Silver", rank=1, threshold=Decimal(100))
        gold = LoyaltyTier(key="gold", name="金卡", name_en="Gold", rank=2, threshold=Decimal(1000))
        s.add_all(
            [silver, gold, CouponTemplate(key="welcome", name="新人券", kind="fixed", amount=Decimal(5))]
        )
        s.flush()
        ids = []
        for n, tier in enumerate([gold, gold, silver]):
            c = Contact()
            s.add(c)
            s.flush()
            s.add(LoyaltyMember(contact_id=c.id, member_no=f"M{n}", tier_id=tier.id))
            ids.append(c.id)
        note_changed(s, ids)
    server.client.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server.url, "boss")
        page.goto(server.url + "/console/segments/new")
        page.click("#segment-advanced summary")
        page.fill("#segment-definition", '{"type": "tier", "tiers": ["gold"]}')
        page.dispatch_event("#segment-definition", "input")
        page.wait_for_function(
            "document.getElementById('segment-count').dataset.state === 'done' && "
            "document.getElementById('segment-count').textContent === '2'"
        )
        assert page.locator(".segb-leaf[data-type=tier] label").all_inner_texts() == ["银卡", "金卡"]
        page.fill("#segment-definition", '{"type": "tier", "at_least": "silver"}')
        page.dispatch_event("#segment-definition", "input")
        page.wait_for_function(
            "document.getElementById('segment-count').dataset.state === 'done' && "
            "document.getElementById('segment-count').textContent === '3'"
        )
        assert untranslated(page) == []
        page.fill("#segment-definition", '{"type": "coupons", "state": "unused", "templates": ["welcome"]}')
        page.dispatch_event("#segment-definition", "input")
        page.wait_for_function("document.getElementById('segment-count').dataset.state === 'done'")
        assert page.locator("#segb-coupons option[value=welcome]").count() == 1
        leaf = page.locator(".segb-leaf[data-type=coupons] select").nth(1)  # after the type
        assert leaf.evaluate("s => s.options[s.selectedIndex].text") == "未使用（可用）"
        page.fill("#segment-definition", '{"type": "points_expiring", "within_days": 30}')
        page.dispatch_event("#segment-definition", "input")
        page.wait_for_function("document.getElementById('segment-count').dataset.state === 'done'")
        assert untranslated(page) == []
    finally:
        context.close()
