"""The console in a real browser: Playwright drives Debian's Chromium (/usr/bin/chromium,
installed by .ci/run) against a real server. One operator's afternoon: sign in, import a CSV of
contacts, find one by phone, tag it, build a segment and see its count, look at a funnel, and
switch the language. Screenshots of each step go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "a console password"
CSV = """phone,email,name,city
13800000001,li.na@example.com,李娜,上海
13800000002,wang.wei@example.com,王伟,北京
13800000003,,张敏,杭州
not-a-phone,bad-email,坏行,?
"""


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def shot(page: Page, name: str, request: pytest.FixtureRequest) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test_id = re.sub(r"[^\w.-]+", "_", request.node.name)
    page.screenshot(path=str(ARTIFACTS / f"{test_id}-{name}.png"), full_page=True)


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/console/")
    expect(page).to_have_url(re.compile(r"/console/login"))
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/$"))


def test_an_operators_afternoon(
    server: Any, page: Page, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    base = server.url
    server.client.users.create("yun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")

    sign_in(page, base, "yun")
    expect(page.locator("header nav")).to_contain_text("客户")  # Chinese first: the user's language
    shot(page, "1-dashboard", request)

    # Import a CSV of contacts; the bad row is reported, the good ones kept.
    csv_file = tmp_path / "新客户.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page.goto(f"{base}/console/imports")
    page.set_input_files("#import-form input[name=file]", str(csv_file))
    page.click("#import-preview")  # first the mapping preview, which writes nothing
    expect(page.locator("#import-columns")).to_be_visible()
    shot(page, "2-import-preview", request)
    page.click("#import-confirm")
    expect(page.locator('#import-job[data-status="done"]')).to_be_attached(timeout=60_000)
    expect(page.locator("#import-accepted")).to_have_text("3")
    expect(page.locator("#import-rejected")).to_have_text("1")
    shot(page, "2-import", request)

    # Find a contact by phone and open the profile: the phone is masked.
    page.goto(f"{base}/console/contacts")
    page.fill("#contact-search", "13800000002")
    page.press("#contact-search", "Enter")
    expect(page.locator("#contacts-table")).to_contain_text("王伟")
    page.locator("#contacts-table a.contact-link").first.click()
    expect(page).to_have_url(re.compile(r"/console/contacts/\d+"))
    expect(page.locator("body")).to_contain_text("138****0002")
    assert "13800000002" not in page.content()

    # Tag it.
    page.fill("#tag-form input[name=tag]", "VIP")
    page.click("#tag-form [type=submit]")
    expect(page.locator("#contact-tags")).to_contain_text("VIP")
    shot(page, "3-profile-tagged", request)

    # Build a segment and see its live count.
    page.goto(f"{base}/console/segments/new")
    page.fill("#segment-key", "vip")
    page.fill("#segment-name", "VIP 客户")
    page.click("#segment-advanced summary")  # the JSON is folded under 高级
    page.fill("#segment-definition", '{"type": "tags", "match": "any", "tags": ["VIP"]}')
    expect(page.locator("#segment-count")).to_have_text("1", timeout=30_000)
    shot(page, "4-segment", request)
    page.click("#segment-save")
    expect(page.locator("body")).to_contain_text("VIP 客户")

    # A funnel chart over events of the imported contacts.
    now = datetime.now(UTC)
    calls = []
    for i, phone in enumerate(["13800000001", "13800000002", "13800000003"]):
        at = now - timedelta(days=2, hours=i)
        calls.append(
            {
                "type": "track",
                "event": "Product Viewed",
                "identifiers": {"phone": phone},
                "timestamp": at.isoformat(),
                "messageId": f"view-{i}",
            }
        )
        if i < 2:
            calls.append(
                {
                    "type": "track",
                    "event": "Order Completed",
                    "identifiers": {"phone": phone},
                    "timestamp": (at + timedelta(hours=1)).isoformat(),
                    "messageId": f"order-{i}",
                    "properties": {"revenue": 99},
                }
            )
    assert server.client.batch(calls).rejected == []
    page.goto(f"{base}/console/analytics/funnel")
    page.fill("#analysis-form [name=steps]", "Product Viewed\nOrder Completed")
    page.click("#run-analysis")
    expect(page.locator("#analysis-chart .js-plotly-plot")).to_be_visible(timeout=60_000)
    expect(page.locator("#analysis-table")).to_contain_text("3")
    expect(page.locator("#analysis-table")).to_contain_text("2")
    expect(page.locator("#export-csv")).to_be_visible()
    shot(page, "5-funnel", request)

    # Switch to English and back.
    page.click("#lang-switch")
    expect(page.locator("header nav")).to_contain_text("Contacts")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot(page, "6-english", request)
    page.click("#lang-switch")
    expect(page.locator("header nav")).to_contain_text("客户")
