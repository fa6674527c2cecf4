"""Distribution (分销) in a real browser, in Chinese: an admin turns distribution on through
the settings form (a rate sum over 100% is refused naming the field, what was typed kept),
approves a promoter's application on the promoter list, and reads the commission ledger and
the promoter's dashboard after an order and a partial refund — every page without an English
word or a code (tests/console/zh_checker.py)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated
from tests.distribution.conftest import at, order_call, phone, refund_call, visit_call


def test_admin_sets_up_distribution_and_approves_a_promoter(server: Any, zh_page: Page) -> None:
    s = server.client
    s.users.create("ling", PASSWORD, "admin", name="运营小玲", language="zh", actor="test")
    s.identify({"phone": phone(1)}, traits={"name": "王小推"})
    code = s.distribution.apply(phone(1))["code"]
    page, base, problems = zh_page, server.url, {}
    sign_in(page, base, "ling")

    page.goto(f"{base}/console/distribution/settings")
    page.check("#ds-enabled")
    page.fill("#ds-level1_rate", "70")
    page.fill("#ds-level2_rate", "40")
    page.click("#dist-settings-save")
    expect(page.locator(".flash.err")).to_contain_text("二级佣金比例：一级与二级佣金比例之和不能超过 100%")
    expect(page.locator("#ds-level2_rate")).to_have_value("40")
    problems["settings"] = untranslated(page)
    page.fill("#ds-level1_rate", "10")
    page.fill("#ds-level2_rate", "5")
    page.click("#dist-settings-save")
    expect(page.locator(".flash.ok")).to_contain_text("分销设置已保存")
    assert s.distribution.settings()["enabled"] is True

    page.goto(f"{base}/console/distribution")
    row = page.locator(f"tr[data-code='{code}']")
    expect(row.locator(".dist-status")).to_have_text("待审核")
    expect(row).to_contain_text("王小推")
    problems["promoters"] = untranslated(page)
    row.locator(".dist-approve").click()
    expect(page.locator(".flash.ok")).to_contain_text("已通过审核")
    expect(page.locator(f"tr[data-code='{code}'] .dist-status")).to_have_text("已通过")

    s.batch([visit_call(10, code, at(-1)), order_call("B1", "200.00", 10), refund_call("B1", 10, "50", "r1")])
    page.click("#distribution-tabs >> text=佣金明细")
    expect(page.locator("#dist-entries-table")).to_contain_text("订单佣金")
    expect(page.locator("#dist-entries-table")).to_contain_text("-¥5.00")
    problems["commissions"] = untranslated(page)
    page.goto(f"{base}/console/distribution/promoters/{code}")
    expect(page.locator("#dist-b-earned")).to_have_text("¥20.00")
    expect(page.locator("#dist-b-reversed")).to_have_text("¥5.00")
    expect(page.locator("#dist-sales")).to_contain_text("直接客户 1 位")
    problems["dashboard"] = untranslated(page)
    assert not any(problems.values()), problems
