"""The content library pages over real HTTP: templates filtered by channel / scenario / stage /
tag, materials, and a template previewed for one contact (smart SMS card, email in a
sandboxed iframe), which needs content.write."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from siyu.content.service import ContentService

CARD = {
    "key": "birthday-card",
    "name": "生日券",
    "channel": "smart_sms",
    "scenario": "birthday",
    "stage": "repurchase",
    "tags": ["生日", "券"],
    "body": {
        "card": {
            "title": "{{ name | default('亲爱的会员', true) }}，生日快乐",
            "body": "送你 {{ 20 | money }} 无门槛券",
            "buttons": [
                {"label": "去领券", "type": "url", "url": "https://shop.example.cn/c?u={{ contact.id }}"},
                {"label": "退订", "type": "reply", "reply": "TD"},
            ],
        },
        "fallback": {"text": "{{ name }}生日快乐！"},
    },
    "variants": {"b": {"card": {"title": "{{ name }}的生日礼物到啦"}}},
}
EMAIL = {
    "key": "welcome-mail",
    "name": "欢迎邮件",
    "channel": "email",
    "scenario": "welcome",
    "tags": ["新客"],
    "body": {"subject": "欢迎 {{ name }}", "html": "<h1>你好 {{ name }}</h1><script>alert(1)</script>"},
}


@pytest.fixture
def library(server: Any) -> int:
    with server.client.ctx.db.session() as s:
        svc = ContentService(s)
        svc.create_template(CARD)
        svc.create_template(EMAIL)
        svc.create_material(
            {
                "key": "new-tea",
                "kind": "link",
                "data": {"title": "新茶上市", "url": "https://shop.example.cn/tea"},
            }
        )
        s.commit()
    assert server.client.identify({"phone": "+8613700000001"}, {"name": "王小明"}).rejected == []
    return int(server.client.contact("+8613700000001")["id"])


def keys(page: str) -> list[str]:
    return re.findall(r'<tr data-template="([^"]+)"', page)


def test_library_lists_and_filters(server: Any, console_as: Any, library: int) -> None:
    viewer = console_as("viewer")
    page = viewer.get("/console/content")
    assert page.status_code == 200
    assert keys(page.text) == ["birthday-card", "welcome-mail"]
    assert 'data-material="new-tea"' in page.text and "新茶上市" in page.text
    assert keys(viewer.get("/console/content?channel=email").text) == ["welcome-mail"]
    assert keys(viewer.get("/console/content?scenario=birthday").text) == ["birthday-card"]
    assert keys(viewer.get("/console/content?stage=repurchase").text) == ["birthday-card"]
    assert keys(viewer.get("/console/content?tag=新客").text) == ["welcome-mail"]
    assert keys(viewer.get("/console/content?tag=none&channel=").text) == []
    assert '<option value="birthday" >' in page.text or '<option value="birthday">' in page.text


def test_preview_renders_the_contacts_card(server: Any, console_as: Any, library: int) -> None:
    op = console_as("operator")
    page = op.get("/console/content/templates/birthday-card")
    assert page.status_code == 200 and 'id="preview-contact"' in page.text
    resp = op.post_form("/console/content/templates/birthday-card/preview", {"contact": "+8613700000001"})
    assert resp.status_code == 200, resp.text
    assert f'data-contact="{library}"' in resp.text
    title = re.search(r'id="preview-card-title">([^<]*)<', resp.text)
    assert title and title.group(1) == "王小明，生日快乐"
    assert "¥20.00" in resp.text and "去领券" in resp.text and "退订" in resp.text
    fallback = re.search(r'id="preview-fallback">([^<]*)<', resp.text)
    assert fallback and fallback.group(1).startswith("王小明生日快乐！")
    # the variant, and an id typed as #N
    b = op.post_form(
        "/console/content/templates/birthday-card/preview", {"contact": f"#{library}", "variant": "b"}
    )
    title = re.search(r'id="preview-card-title">([^<]*)<', b.text)
    assert b.status_code == 200 and title and title.group(1) == "王小明的生日礼物到啦"


def test_email_preview_is_sandboxed(server: Any, console_as: Any, library: int) -> None:
    op = console_as("operator")
    resp = op.post_form("/console/content/templates/welcome-mail/preview", {"contact": str(library)})
    assert resp.status_code == 200, resp.text
    assert re.search(r'id="preview-subject">欢迎 王小明<', resp.text)
    frame = re.search(r'<iframe[^>]*id="preview-email"[^>]*>', resp.text)
    assert frame and 'sandbox=""' in frame.group(0)
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame.group(0))
    assert srcdoc and "<h1>你好 王小明</h1>" in html.unescape(srcdoc.group(1))
    assert "<script>alert(1)</script>" not in resp.text.replace(frame.group(0), "")


def test_preview_errors_keep_the_form(server: Any, console_as: Any, library: int) -> None:
    op = console_as("operator")
    resp = op.post_form("/console/content/templates/birthday-card/preview", {"contact": "+8613700009999"})
    assert resp.status_code == 404 and "Not found" in resp.text and 'value="+8613700009999"' in resp.text
    resp = op.post_form(
        "/console/content/templates/birthday-card/preview", {"contact": str(library), "variant": "zz"}
    )
    assert resp.status_code == 422 and "zz" in resp.text
    assert op.get("/console/content/templates/nope").status_code == 404


def test_viewer_cannot_preview(server: Any, console_as: Any, library: int) -> None:
    viewer = console_as("viewer")
    page = viewer.get("/console/content/templates/birthday-card")
    assert (
        page.status_code == 200
        and 'id="preview-contact"' not in page.text
        and 'id="preview-forbidden"' in page.text
    )
    resp = viewer.post_form("/console/content/templates/birthday-card/preview", {"contact": str(library)})
    assert resp.status_code == 403 and "王小明" not in resp.text
