"""The four loyalty analyses run in a real browser, in Chinese, over the demo brand (which has a
programme, members, a ledger and a coupon campaign): each result page draws its chart, shows its
table and headline figures, and has no English word or code outside the allow-list
(tests/console/zh_checker.py) — the crawl of tests/console/test_zh_pages.py only sees the pages
before they run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Browser, expect
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.test_zh_pages import CHARTS_DRAWN
from tests.console.zh_checker import untranslated

from siyu.demo.generator import DemoConfig, generate

PAGES = (
    ("member_repurchase", "", "会员"),
    ("points_liability", "", "积分沉淀率"),
    ("tiers", "&table=migration", "银卡"),
    ("coupons", "", "春季回购券"),
)


def test_loyalty_analyses_read_in_chinese_with_their_charts(server: Any, browser: Browser) -> None:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    generate(server.client.ctx, DemoConfig(contacts=600, days=60, seed=5, end=end))
    server.client.users.create("yun", PASSWORD, "viewer", name="运营小云", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, server.url, "yun")
        problems = {}
        for kind, extra, word in PAGES:
            page.goto(f"{server.url}/console/analytics/{kind}?run=1{extra}")
            page.wait_for_function(CHARTS_DRAWN)
            expect(page.locator("#analysis-chart .main-svg").first).to_be_visible()
            expect(page.locator("#analysis-table tbody tr").first).to_be_visible()
            expect(page.locator("#analysis-result")).to_contain_text(word)
            found = untranslated(page)
            if found:
                problems[kind] = found
        assert not problems, problems
    finally:
        context.close()
