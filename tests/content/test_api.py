"""The content REST endpoints: CRUD, preview, and the statuses clients rely on (404 unknown,
409 duplicate, 422 invalid with the field path), each 2xx committed before it is answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.content.images import png

from siyu.api.app import create_app
from siyu.client import Siyu
from siyu.content.files import MAX_BYTES
from siyu.context import AppContext
from siyu.store.models import ContentTemplate, ShortLink

BASE = "/api/v1/content"
WELCOME: dict[str, Any] = {
    "key": "welcome",
    "name": "欢迎语",
    "channel": "wecom_welcome",
    "scenario": "welcome",
    "stage": "acquisition",
    "tags": ["新客"],
    "body": {"text": "{{ name | default('朋友', true) }}，欢迎！{{ link('https://a.cn/new') }}"},
    "variants": {"warm": {"text": "{{ name | default('朋友', true) }}，好久不见"}},
}


@pytest.fixture
def web(ctx: AppContext) -> Iterator[TestClient]:
    """An operator's API key: content is the operator's work."""
    s = Siyu(ctx)
    secret = s.api_keys.create("content-tests", "operator")["key"]
    with TestClient(create_app(s), headers={"Authorization": f"Bearer {secret}"}) as client:
        yield client


def test_template_crud(ctx: AppContext, web: TestClient) -> None:
    assert web.get(f"{BASE}/templates").json() == []
    resp = web.post(f"{BASE}/templates", json=WELCOME)
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert {k: created[k] for k in WELCOME} == WELCOME and created["transactional"] is False
    with ctx.db.session() as s:  # committed before the answer
        assert s.scalar(select(ContentTemplate.name).where(ContentTemplate.key == "welcome")) == "欢迎语"
    assert web.get(f"{BASE}/templates/welcome").json()["body"] == WELCOME["body"]
    assert [t["key"] for t in web.get(f"{BASE}/templates", params={"channel": "wecom_welcome"}).json()] == [
        "welcome"
    ]
    assert web.get(f"{BASE}/templates", params={"stage": "retention"}).json() == []
    changed = {**WELCOME, "name": "新欢迎语", "transactional": True}
    put = web.put(f"{BASE}/templates/welcome", json=changed)
    assert put.status_code == 200, put.text
    assert (put.json()["name"], put.json()["transactional"]) == ("新欢迎语", True)
    assert web.delete(f"{BASE}/templates/welcome").status_code == 204
    assert web.get(f"{BASE}/templates").json() == []


def test_error_statuses(web: TestClient) -> None:
    assert web.post(f"{BASE}/templates", json=WELCOME).status_code == 201
    dup = web.post(f"{BASE}/templates", json={**WELCOME, "name": "again"})
    assert dup.status_code == 409 and "welcome" in dup.json()["detail"]
    bad = web.post(f"{BASE}/templates", json={**WELCOME, "key": "w2", "body": {"text": "{{ name }"}})
    assert bad.status_code == 422 and bad.json()["detail"] == "body.text: unexpected '}'"
    bad_variant = web.post(
        f"{BASE}/templates", json={**WELCOME, "key": "w3", "variants": {"x": {"text": ""}}}
    )
    assert bad_variant.status_code == 422
    assert bad_variant.json()["detail"] == "variants.x.text: required, a non-empty string"
    no_channel = web.post(f"{BASE}/templates", json={"key": "w4", "name": "n", "body": {"text": "x"}})
    assert no_channel.status_code == 422 and no_channel.json()["detail"].startswith("channel: ")
    assert web.post(f"{BASE}/templates", json=[1]).status_code == 422
    for method in ("get", "delete"):
        missing = web.request(method, f"{BASE}/templates/nope")
        assert missing.status_code == 404 and missing.json()["detail"] == "unknown template 'nope'"
    assert web.put(f"{BASE}/templates/nope", json={**WELCOME, "key": "nope"}).status_code == 404
    assert web.put(f"{BASE}/templates/welcome", json={**WELCOME, "key": "other"}).status_code == 422
    assert web.get(f"{BASE}/templates", params={"channel": "fax"}).status_code == 422
    assert web.get(f"{BASE}/templates").json()[0]["name"] == "欢迎语"  # nothing invalid was kept


def test_preview(ctx: AppContext, people: dict[str, int], web: TestClient) -> None:
    assert web.post(f"{BASE}/templates", json=WELCOME).status_code == 201
    by_phone = web.post(f"{BASE}/templates/welcome/preview", json={"contact": "13800000001"})
    assert by_phone.status_code == 200, by_phone.text
    assert by_phone.json() == {
        "template": "welcome",
        "contact_id": people["c1"],
        "variant": None,
        "content": {"text": "张三，欢迎！[link:https://a.cn/new]"},
        "errors": [],
        "links": ["[link:https://a.cn/new]"],
        "sms": None,  # counted for sms and smart_sms only
    }
    by_id = web.post(f"{BASE}/templates/welcome/preview", json={"contact": people["bare"], "variant": "warm"})
    assert by_id.json()["content"] == {"text": "朋友，好久不见"}
    assert (
        web.post(f"{BASE}/templates/welcome/preview", json={"contact": "customer_no:nobody"}).status_code
        == 404
    )
    assert web.post(f"{BASE}/templates/nope/preview", json={"contact": people["c1"]}).status_code == 404
    unknown_variant = web.post(
        f"{BASE}/templates/welcome/preview", json={"contact": people["c1"], "variant": "z"}
    )
    assert unknown_variant.status_code == 422
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ShortLink)) == 0


def test_materials(web: TestClient) -> None:
    card = {
        "key": "tea",
        "kind": "miniprogram",
        "data": {"title": "茶", "appid": "wx1", "page": "/p", "pic_media_id": "M"},
    }
    resp = web.post(f"{BASE}/materials", json=card)
    assert resp.status_code == 201, resp.text
    assert web.post(f"{BASE}/materials", json=card).status_code == 409
    bad = web.post(f"{BASE}/materials", json={"key": "x", "kind": "link", "data": {"title": "t"}})
    assert bad.status_code == 422 and bad.json()["detail"] == "data.url: required for a link"
    assert [(m["key"], m["kind"], m["data"]) for m in web.get(f"{BASE}/materials").json()] == [
        ("tea", "miniprogram", card["data"])
    ]
    assert web.get(f"{BASE}/materials", params={"kind": "image"}).json() == []


def test_uploads_materials_and_helpers(ctx: AppContext, people: dict[str, int], web: TestClient) -> None:
    up = web.post(
        f"{BASE}/files",
        params={"filename": "a.png"},
        content=png(3, 3),
        headers={"Content-Type": "image/png"},
    )
    assert up.status_code == 201, up.text
    file_id = up.json()["id"]
    got = web.get(f"{BASE}/files/{file_id}")
    assert got.content == png(3, 3) and got.headers["content-type"] == "image/png"
    assert web.get(f"{BASE}/files/{'0' * 64}").status_code == 404
    html = web.post(
        f"{BASE}/files", content=b"<html><script>x</script></html>", headers={"Content-Type": "image/png"}
    )
    assert html.status_code == 415 and html.json()["detail"].startswith("file: not a JPG or PNG")
    assert web.post(f"{BASE}/files", content=png(pad=MAX_BYTES)).status_code == 413
    image = {"key": "pic", "kind": "image", "data": {"file": file_id}}
    assert web.post(f"{BASE}/materials", json=image).status_code == 201
    assert web.get(f"{BASE}/materials/pic").json()["data"] == {"file": file_id}
    put = web.put(f"{BASE}/materials/pic", json={"kind": "image", "data": {"pic_url": "https://a.cn/p.png"}})
    assert put.status_code == 200 and put.json()["data"] == {"pic_url": "https://a.cn/p.png"}
    assert web.delete(f"{BASE}/materials/pic").status_code == 204
    assert web.get(f"{BASE}/materials/pic").status_code == 404
    # helpers: variables, the SMS counter, the preview of an unsaved template
    variables = web.get(f"{BASE}/variables").json()
    assert "city" in variables["traits"] and "phone" not in variables["traits"]
    assert web.post(f"{BASE}/sms-count", json={"text": "a" * 71}).json()["parts"] == 2
    draft = {
        "name": "d",
        "channel": "sms",
        "body": {"template_code": "T", "params": {}, "text": "{{ name }}好", "sign_name": "牌"},
    }
    shown = web.post(f"{BASE}/preview", json={"template": draft, "contact": "13800000001"})
    assert shown.status_code == 200, shown.text
    assert shown.json()["content"]["text"] == "张三好" and shown.json()["sms"]["chars"] == 6
    bad = web.post(
        f"{BASE}/preview", json={"template": {**draft, "body": {"text": "x"}}, "contact": "13800000001"}
    )
    assert bad.status_code == 422 and bad.json()["detail"].startswith("body.template_code")
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ContentTemplate)) == 0  # a preview saves nothing
