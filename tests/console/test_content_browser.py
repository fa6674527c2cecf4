"""The content editor in a real browser, in Chinese, as an operator, by clicking only: upload an
image material, write a WeCom message with it attached (a variable from the picker), design a
smart SMS card with a two-level menu and its fallback SMS (the live part counter), and preview
both for a contact. Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.console.test_browser import PASSWORD, page, shot, sign_in  # noqa: F401 (fixture)
from tests.content.images import png

from siyu.content.service import ContentService
from siyu.content.sms import count_sms


def test_operator_writes_a_wecom_message_and_a_smart_sms_card(
    server: Any,
    page: Page,  # noqa: F811 (the fixture imported above)
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    base = server.url
    server.client.users.create("xiaoyun", PASSWORD, "operator", name="运营小云", language="zh", actor="test")
    assert (
        server.client.identify({"phone": "+8613900000001"}, {"name": "李娜", "city": "上海"}).rejected == []
    )
    sign_in(page, base, "xiaoyun")

    # An image material, uploaded.
    image = tmp_path / "新茶海报.png"
    image.write_bytes(png(40, 30))
    page.goto(f"{base}/console/content")
    page.select_option("#material-kind", "image")
    page.fill("#material-key", "tea-poster")
    page.set_input_files("#material-upload", str(image))
    expect(page.locator("#material-upload-status")).to_contain_text("图片已上传")
    page.click("#material-save")
    expect(page.locator("#material-saved")).to_be_visible()
    expect(page.locator('tr[data-material="tea-poster"] img.ct-thumb')).to_be_visible()
    shot(page, "1-material", request)

    # A WeCom private message: text with a variable from the picker, the image attached.
    page.click("#content-new summary")
    page.click('#content-new a[data-channel="wecom_private"]')
    expect(page.locator("#editor-title")).to_have_text("新建企业微信私聊模板")
    page.fill("#f-name", "新客欢迎")
    page.fill("#f-key", "welcome-day0")
    page.click("#f-text")
    page.locator("#variables-picker .ct-var", has_text="称呼").click()
    page.locator("#f-text").press("End")
    page.locator("#f-text").type("，欢迎加入茶小铺！")
    expect(page.locator("#f-text")).to_have_value("{{ name }}，欢迎加入茶小铺！")
    page.check('input[name=attachments][value="tea-poster"]')
    page.select_option("#f-stage", "acquisition")
    page.fill("#f-scenario", "welcome")
    page.fill("#f-tags", "新客")
    shot(page, "2-wecom-editor", request)
    page.click("#template-save")
    expect(page.locator("#template-saved")).to_be_visible()
    page.fill("#preview-contact", "13900000001")
    page.click("#preview-submit")
    expect(page.locator("#preview-text")).to_have_text("李娜，欢迎加入茶小铺！")
    expect(page.locator("#preview-attachments img")).to_be_visible()
    shot(page, "3-wecom-preview", request)

    # A smart SMS card: two buttons on the card, the second a sub-menu of two.
    page.goto(f"{base}/console/content")
    page.click("#content-new summary")
    page.click('#content-new a[data-channel="smart_sms"]')
    page.fill("#f-name", "会员日卡片")
    page.fill("#f-key", "member-day")
    page.fill("#f-card_title", "会员日 · 满199减50")
    page.fill("#f-card_body", "本周六全场满199减50")
    rows = page.locator("#menu-rows .ct-b-row")
    page.click("#add-button")
    rows.nth(0).locator(".ct-b-label").fill("立即领券")
    rows.nth(0).locator(".ct-b-value").fill("https://shop.example.cn/coupon")
    page.click("#add-button")
    rows.nth(1).locator(".ct-b-type").select_option("menu")
    rows.nth(1).locator(".ct-b-label").fill("更多服务")
    rows.nth(1).locator(".ct-add-sub").click()
    rows.nth(2).locator(".ct-b-label").fill("查积分")
    rows.nth(2).locator(".ct-b-value").fill("JF")
    rows.nth(1).locator(".ct-add-sub").click()
    rows.nth(3).locator(".ct-b-label").fill("退订")
    rows.nth(3).locator(".ct-b-value").fill("TD")
    expect(page.locator("#menu-count")).to_have_text("卡片按钮 2/4 · 子菜单按钮 2/11")
    page.fill("#f-fallback_sign_name", "茶小铺")
    fallback = "会员日满199减50，回TD退订"
    page.fill("#f-fallback_text", fallback)
    chars = count_sms(fallback, "茶小铺").chars  # the page counts as the server does
    expect(page.locator("#counter-f-fallback_text")).to_contain_text(f"含签名 {chars} 字，计 1 条")
    page.fill("#f-fallback_text", "会" * 67)  # 【茶小铺】 + 67 = 72: two parts
    expect(page.locator("#counter-f-fallback_text")).to_contain_text("计 2 条（67 字/条）")
    page.fill("#f-fallback_text", "会员日满199减50，回TD退订")
    # the live preview of the unsaved card
    page.fill("#draft-contact", "13900000001")
    page.click("#draft-preview")
    expect(page.locator("#draft-result #preview-card-title")).to_have_text("会员日 · 满199减50")
    expect(page.locator("#draft-result #preview-card-menu")).to_contain_text("退订")
    shot(page, "4-smart-sms-editor", request)
    page.click("#template-save")
    expect(page.locator("#template-saved")).to_be_visible()
    page.fill("#preview-contact", "13900000001")
    page.click("#preview-submit")
    expect(page.locator("#preview-card-buttons")).to_contain_text("立即领券")
    expect(page.locator("#preview-card-menu")).to_contain_text("查积分")
    expect(page.locator("#preview-fallback")).to_contain_text(
        "立即领券 [link:https://shop.example.cn/coupon]"
    )
    expect(page.locator("#preview-sms")).to_be_visible()
    shot(page, "5-smart-sms-preview", request)

    # What was saved is the content library's document, two menu levels.
    with server.client.ctx.db.session() as s:
        card = ContentService(s).get_template("member-day").body["card"]
        wecom = ContentService(s).get_template("welcome-day0")
    assert [b["label"] for b in card["buttons"]] == ["立即领券", "更多服务"]
    assert [(b["label"], b["reply"]) for b in card["buttons"][1]["buttons"]] == [
        ("查积分", "JF"),
        ("退订", "TD"),
    ]
    assert wecom.body == {"text": "{{ name }}，欢迎加入茶小铺！", "attachments": ["tea-poster"]}
    assert (wecom.stage, wecom.scenario, wecom.tags) == ("acquisition", "welcome", ["新客"])
    # the library lists both, filterable by the classification
    page.goto(f"{base}/console/content?stage=acquisition")
    expect(page.locator("#content-templates tbody tr")).to_have_count(1)
    assert re.search("新客欢迎", page.locator("#content-templates").inner_text())
