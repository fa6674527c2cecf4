"""The content editor over real HTTP: templates per channel created, edited and deleted from
the console's forms, errors in the reader's language naming the field, the live preview of an
unsaved form, and materials with uploaded images (size, type, sign-in and rights checked)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from tests.content.images import png

from siyu.content.files import MAX_BYTES
from siyu.content.service import ContentService

BASE = {"name": "", "scenario": "welcome", "stage": "conversion", "tags": "新客，券"}
FORMS: dict[str, dict[str, Any]] = {
    "wecom_private": {"text": "{{ name }}，欢迎加入"},
    "sms": {
        "sign_name": "茶小铺",
        "template_code": "SMS_1",
        "text": "{{ name }}您好，券已到账",
        "params": "name={{ name }}",
    },
    "smart_sms": {
        "card_title": "{{ name }}，会员日",
        "card_body": "满 199 减 50",
        "buttons": json.dumps(
            [
                {"label": "领券", "type": "url", "url": "https://shop.example.cn/c"},
                {
                    "label": "更多",
                    "type": "menu",
                    "buttons": [{"label": "退订", "type": "reply", "reply": "TD"}],
                },
            ]
        ),
        "fallback_text": "会员日满199减50",
        "fallback_links": "1",
    },
    "email": {"subject": "欢迎 {{ name }}", "html": "<p>{{ name }}</p>", "text": "欢迎"},
    "webhook": {"event": "coupon.issue", "data": '{"who": "{{ name }}", "amount": 20}'},
}


@pytest.fixture
def contact(server: Any) -> int:
    assert (
        server.client.identify({"phone": "+8613700000001"}, {"name": "王小明", "city": "杭州"}).rejected == []
    )
    return int(server.client.contact("+8613700000001")["id"])


def zh(session: Any) -> Any:
    session.cookies.set("siyu_lang", "zh")
    return session


@pytest.mark.parametrize("channel", list(FORMS))
def test_create_each_channel_from_the_form(server: Any, console_as: Any, contact: int, channel: str) -> None:
    op = console_as("operator")
    page = op.get(f"/console/content/new?channel={channel}")
    assert (
        page.status_code == 200 and 'id="template-form"' in page.text and 'id="variables-picker"' in page.text
    )
    # the picker offers the traits the data holds, named in the reader's language
    assert 'data-insert="{{ contact.city }}">City<' in page.text
    key = channel.replace("_", "-")
    resp = op.post_form(
        "/console/content/new", {**BASE, **FORMS[channel], "channel": channel, "key": key, "name": key}
    )
    assert resp.status_code == 200 and str(resp.url).endswith(f"/console/content/templates/{key}?saved=1"), (
        resp.text[:2000]
    )
    with server.client.ctx.db.session() as s:
        tpl = ContentService(s).get_template(key)
        assert (tpl.scenario, tpl.stage, tpl.tags) == ("welcome", "conversion", ["新客", "券"])
        body = tpl.body
    if channel == "sms":
        assert body == {
            "template_code": "SMS_1",
            "params": {"name": "{{ name }}"},
            "text": "{{ name }}您好，券已到账",
            "sign_name": "茶小铺",
        }
    if channel == "smart_sms":
        assert body["card"]["buttons"][1]["buttons"][0]["reply"] == "TD" and "links" not in body["fallback"]
    if channel == "webhook":
        assert body["data"] == {"who": "{{ name }}", "amount": 20}
    # preview on the template's page, with the SMS part count for SMS channels
    shown = op.post_form(f"/console/content/templates/{key}/preview", {"contact": str(contact)})
    assert shown.status_code == 200 and "王小明" in shown.text
    assert ('id="preview-sms"' in shown.text) == (channel in ("sms", "smart_sms"))
    # the edit form shows what was saved, and saving it again changes nothing but updated_at
    edit = op.get(f"/console/content/templates/{key}/edit")
    assert edit.status_code == 200 and "readonly" in edit.text
    assert op.get("/console/content?channel=" + channel).text.count("data-template=") == 1


def test_errors_name_the_field_in_chinese_and_keep_the_form(server: Any, console_as: Any) -> None:
    op = zh(console_as("operator"))
    bad_button = json.dumps([{"label": "", "type": "url", "url": "https://a.cn"}])
    form = {
        **FORMS["smart_sms"],
        "buttons": bad_button,
        "channel": "smart_sms",
        "key": "card",
        "name": "卡片",
    }
    resp = op.post_form("/console/content/new", form)
    assert resp.status_code == 422
    error = re.search(r'id="editor-error">([^<]*)<', resp.text)
    assert error and error.group(1) == "卡片 · 按钮1 · 按钮文字：必填"
    assert 'value="卡片"' in resp.text  # what was typed is kept
    deep = json.dumps(
        [{"label": "a", "type": "menu", "buttons": [{"label": "b", "type": "menu", "buttons": []}]}]
    )
    resp = op.post_form("/console/content/new", {**form, "buttons": deep})
    assert "菜单最多两级" in resp.text
    resp = op.post_form(
        "/console/content/new",
        {**FORMS["webhook"], "data": '{"a": 1,}', "channel": "webhook", "key": "h", "name": "h"},
    )
    assert resp.status_code == 422 and "第 1 行" in resp.text and "不是有效的 JSON" in resp.text
    resp = op.post_form(
        "/console/content/new", {"text": "{{ name }", "channel": "wecom_private", "key": "w", "name": "w"}
    )
    error = re.search(r'id="editor-error">([^<]*)<', resp.text)
    assert error and error.group(1).startswith("正文：") and not re.search(r"[A-Za-z]{3,}", error.group(1))
    op.post_form("/console/content/new", {"text": "hi", "channel": "wecom_private", "key": "w", "name": "w"})
    resp = op.post_form(
        "/console/content/new", {"text": "hi", "channel": "wecom_private", "key": "w", "name": "w"}
    )
    assert resp.status_code == 409 and "标识「w」已被其他模板使用" in resp.text
    nine = op.post_form(
        "/console/content/new",
        {"text": "hi", "channel": "wecom_private", "key": "x", "name": "x", "attachments": "ghost"},
    )
    assert "附件1：素材「ghost」不存在" in nine.text


def test_edit_and_delete(server: Any, console_as: Any) -> None:
    op = console_as("operator")
    op.post_form(
        "/console/content/new", {**FORMS["email"], "channel": "email", "key": "mail", "name": "邮件"}
    )
    resp = op.post_form(
        "/console/content/templates/mail/edit",
        {**FORMS["email"], "subject": "新主题", "channel": "email", "name": "邮件2", "key": "other"},
    )
    assert resp.status_code == 200 and "saved=1" in str(resp.url)
    with server.client.ctx.db.session() as s:
        tpl = ContentService(s).get_template("mail")
        assert (tpl.name, tpl.body["subject"]) == ("邮件2", "新主题")  # the key stays
    gone = op.post_form("/console/content/templates/mail/delete")
    assert gone.status_code == 200 and 'id="content-deleted"' in gone.text
    assert op.get("/console/content/templates/mail").status_code == 404
    viewer = console_as("viewer")
    assert viewer.get("/console/content/new").status_code == 403
    op.post_form(
        "/console/content/new", {**FORMS["email"], "channel": "email", "key": "mail", "name": "邮件"}
    )
    assert viewer.post_form("/console/content/templates/mail/delete").status_code == 403


def test_live_preview_of_the_unsaved_form(server: Any, console_as: Any, contact: int) -> None:
    op = console_as("operator")
    form = {
        **FORMS["smart_sms"],
        "channel": "smart_sms",
        "key": "draft",
        "name": "d",
        "contact": "13700000001",
    }
    resp = op.post("/console/content/draft-preview", data=form, headers={"X-CSRF-Token": op.csrf})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (
        "王小明，会员日" in body["html"]
        and 'id="preview-card-menu"' in body["html"]
        and "退订" in body["html"]
    )
    assert body["sms"]["parts"] == 1 and body["errors"] == []
    with server.client.ctx.db.session() as s:
        assert ContentService(s).template("draft") is None  # nothing saved
    missing = op.post(
        "/console/content/draft-preview",
        data={**form, "contact": "13700009999"},
        headers={"X-CSRF-Token": op.csrf},
    )
    assert missing.status_code == 404 and "error" in missing.json()
    no_csrf = op.post("/console/content/draft-preview", data=form)
    assert no_csrf.status_code == 403


def test_upload_and_materials(server: Any, console_as: Any) -> None:
    op = console_as("operator")
    headers = {"X-CSRF-Token": op.csrf, "Content-Type": "image/png"}
    up = op.post("/console/content/files?filename=封面.png", content=png(8, 8), headers=headers)
    assert up.status_code == 201, up.text
    file_id = up.json()["id"]
    assert (up.json()["width"], up.json()["height"]) == (8, 8)
    served = op.get(f"/console/content/files/{file_id}")
    assert served.status_code == 200 and served.content == png(8, 8)
    assert (
        served.headers["content-type"] == "image/png"
        and served.headers["x-content-type-options"] == "nosniff"
    )
    # wrong type (an SVG renamed .png) and oversized bodies are refused
    svg = op.post(
        "/console/content/files?filename=x.png", content=b"<svg onload=alert(1)></svg>", headers=headers
    )
    assert svg.status_code == 415 and "JPG" in svg.json()["error"]
    big = op.post("/console/content/files", content=png(pad=MAX_BYTES), headers=headers)
    assert big.status_code == 413
    # a mini-program card with the uploaded cover, then a template attaching it
    saved = op.post_form(
        "/console/content/materials",
        {
            "key": "shop",
            "kind": "miniprogram",
            "title": "商城",
            "appid": "wx123",
            "page": "pages/i",
            "file": file_id,
        },
    )
    assert (
        saved.status_code == 200
        and 'id="material-saved"' in saved.text
        and f"/console/content/files/{file_id}" in saved.text
    )
    op.post_form(
        "/console/content/new",
        {"text": "hi", "channel": "wecom_private", "key": "w", "name": "w", "attachments": "shop"},
    )
    used = op.post_form("/console/content/materials/shop/delete")
    assert used.status_code == 409 and 'id="material-error"' in used.text and "shop" in used.text
    viewer = console_as("viewer")
    assert viewer.get(f"/console/content/files/{file_id}").status_code == 200
    assert (
        viewer.post(
            "/console/content/files", content=png(), headers={"X-CSRF-Token": viewer.csrf}
        ).status_code
        == 403
    )


def test_uploads_need_a_session_before_the_body_is_read(server: Any) -> None:
    sent = {"bytes": 0}

    def body() -> Any:
        for _ in range(64):  # 4 MB offered; the server answers before asking for it all
            sent["bytes"] += 65536
            yield b"\x00" * 65536

    with httpx.Client(base_url=server.url, timeout=30) as anon:
        resp = anon.post("/console/content/files", content=png(), headers={"Content-Type": "image/png"})
        assert resp.status_code in (302, 303, 307, 401) or "/console/login" in resp.headers.get(
            "location", ""
        )
        api = anon.post("/api/v1/content/files", content=png(), headers={"Content-Type": "image/png"})
        assert api.status_code == 401
        api = anon.post("/api/v1/content/files", content=body(), headers={"Content-Type": "image/png"})
        assert api.status_code == 401
    with server.client.ctx.db.session() as s:
        assert s.execute(__import__("sqlalchemy").text("select count(*) from material_files")).scalar() == 0
