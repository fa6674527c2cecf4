"""In a real browser (Playwright + Debian's Chromium), in zh-CN, as an operator, by clicking
only: open a segment, add a condition (which waits to be filled in rather than erroring), save
the edit as a new version, and export the members to XLSX. The test opens the downloaded file
with openpyxl and checks the Chinese names and masked phones. Screenshots go to
test-artifacts/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = os.environ.get("SIYU_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "a console password"
PEOPLE = [  # name, phone, tags
    ("王小明", "+8613800135678", ["VIP", "新客"]),
    ("李四", "+8613912345678", ["VIP"]),
    ("张三", "+8613700001234", ["新客"]),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which(CHROMIUM) or Path(CHROMIUM).exists(), f"{CHROMIUM} missing: apt-get install chromium"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 800}, locale="zh-CN", accept_downloads=True
    )
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"segment-edit-export-{name}.png"), full_page=True)


def test_operator_edits_a_segment_and_exports_it_to_xlsx(server: Any, page: Page, tmp_path: Path) -> None:
    s = server.client
    for name, phone, tags in PEOPLE:
        s.identify({"phone": phone}, {"name": name})
        for tag in tags:
            s.tags.apply(tag, [phone], create=True)
    s.segments.create({"key": "vip", "name": "VIP 客户", "definition": {"type": "tags", "tags": ["VIP"]}})
    s.users.create("yun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")

    page.goto(f"{server.url}/console/")
    page.fill("input[name=username]", "yun")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/console/$"))

    page.click("header nav >> text=分群")
    page.click("#segments-table >> text=VIP 客户")
    expect(page.locator("#segment-count")).to_have_text("2")
    expect(page.locator("#segment-advanced")).not_to_have_attribute("open", "")  # JSON folded
    shot(page, "1-segment")

    # "+ 条件" adds an empty condition: a hint to fill it in, not an error.
    page.click("#segment-builder >> text=+ 条件")
    expect(page.locator("#segment-incomplete")).to_be_visible()
    expect(page.locator("#segment-error")).to_be_hidden()
    shot(page, "2-new-condition")
    leaf = page.locator("#segment-builder .segb-leaf").nth(1)
    leaf.locator("input").first.fill("新客")
    expect(page.locator("#segment-count")).to_have_text("1")
    page.fill("#segment-name", "VIP 新客")
    page.click("#segment-save")
    expect(page.locator(".flash.ok")).to_contain_text("已保存为第 2 版")
    expect(page.locator("#segment-versions tbody tr")).to_have_count(2)
    expect(page.locator("#segment-title")).to_contain_text("VIP 新客")
    shot(page, "3-saved")
    assert s.segments.get("vip")["version"] == 2

    with page.expect_download() as info:
        page.click("#segment-export-xlsx")
    target = tmp_path / info.value.suggested_filename
    info.value.save_as(target)
    assert target.suffix == ".xlsx"
    shot(page, "4-exported")
    sheet = openpyxl.load_workbook(target).active
    header, *rows = list(sheet.values)
    assert header[1:3] == ("姓名", "手机号")
    assert [(r[1], r[2]) for r in rows] == [("王小明", "138****5678")]
