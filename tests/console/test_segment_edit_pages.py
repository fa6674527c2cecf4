"""Editing, deleting and exporting a segment in the console, over real HTTP: an edit keeps the
key and shows the new version; a delete that would break a journey is refused naming it, in the
user's language; the members download as XLSX (masked for an operator, in clear only for a role
with pii.export) and the builder's pick lists come from the data."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from siyu.store.models import AuditEntry

PHONES = ["+8613800001111", "+8613800002222", "+8613800003333"]
NAMES = ["王小明", "李四", "张三"]
VIP = {"type": "tags", "match": "any", "tags": ["VIP"]}
PASSWORD = "a console password"


@pytest.fixture
def seg(server: Any) -> list[int]:
    ids = []
    for phone, name in zip(PHONES, NAMES, strict=True):
        server.client.identify({"phone": phone}, {"name": name})
        ids.append(server.client.contact(phone)["id"])
    server.client.tags.apply("VIP", ids[:2], create=True)
    server.client.track("Order Completed", {"phone": PHONES[0]}, {"amount": 35.04, "sku": "A1"})
    server.client.segments.create({"key": "vip", "name": "VIP 客户", "definition": VIP})
    return ids


def test_edit_keeps_the_key_and_shows_the_new_version(server: Any, console_as: Any, seg: list[int]) -> None:
    op = console_as("operator")
    page = op.get("/console/segments/vip")
    assert page.status_code == 200
    assert 'action="/console/segments/vip"' in page.text and 'id="segment-versions"' in page.text
    assert '<details class="card" id="segment-advanced">' in page.text  # the JSON is folded
    resp = op.post_form(
        "/console/segments/vip",
        {
            "name": "非 VIP",
            "tag": "",
            "definition": '{"type": "not", "condition": {"type": "tags", "tags": ["VIP"]}}',
        },
    )
    assert resp.status_code == 200 and str(resp.url).endswith("/console/segments/vip?saved=1")
    assert "Saved as version 2" in resp.text
    got = server.client.segments.get("vip")
    assert got["version"] == 2 and got["name"] == "非 VIP" and got["members"] == 1
    assert server.client.segments.members("vip") == [seg[2]]
    rows = re.findall(r'<tr data-version="(\d+)">', resp.text)
    assert rows == ["2", "1"]


def test_a_bad_edit_keeps_the_input_and_names_the_node(server: Any, console_as: Any, seg: list[int]) -> None:
    op = console_as("operator")
    resp = op.post_form("/console/segments/vip", {"name": "x", "definition": '{"type": "tags", "tags": []}'})
    assert resp.status_code == 422
    assert "Invalid definition at definition.tags" in resp.text
    assert server.client.segments.get("vip")["version"] == 1


def test_delete_is_refused_naming_the_journey_in_chinese(
    server: Any, console_login: Any, seg: list[int]
) -> None:
    server.client.journeys.create(
        {
            "key": "vip-welcome",
            "name": "VIP 欢迎",
            "trigger": {"segment_entered": "vip"},
            "steps": [{"id": "w", "wait": "1d"}],
        }
    )
    server.client.users.create("yunying", PASSWORD, "operator", language="zh", actor="test")
    op = console_login(server.url, "yunying", PASSWORD)
    resp = op.post_form("/console/segments/vip/delete")
    assert resp.status_code == 409
    assert "无法删除" in resp.text and "vip-welcome" in resp.text
    server.client.journeys.archive("vip-welcome")
    resp = op.post_form("/console/segments/vip/delete")
    assert resp.status_code == 200 and "已删除分群“vip”" in resp.text
    assert all(s["key"] != "vip" for s in server.client.segments.list())


def test_export_is_masked_for_an_operator_and_clear_only_with_pii_export(
    server: Any, console_as: Any, seg: list[int]
) -> None:
    op = console_as("operator")
    resp = op.get("/console/segments/vip/export", params={"format": "xlsx"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/vnd.openxml")
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content)).active.values)
    assert {(r[1], r[2]) for r in rows[1:]} == {("王小明", "138****1111"), ("李四", "138****2222")}
    csv = op.get("/console/segments/vip/export", params={"format": "csv"})
    assert csv.content.startswith(b"\xef\xbb\xbf") and "138****1111" in csv.content.decode("utf-8-sig")
    assert op.get("/console/segments/vip/export", params={"reveal": 1}).status_code == 403
    owner = console_as("owner")
    clear = owner.get("/console/segments/vip/export", params={"format": "xlsx", "reveal": 1})
    rows = list(openpyxl.load_workbook(io.BytesIO(clear.content)).active.values)
    assert {r[2] for r in rows[1:]} == {"+8613800001111", "+8613800002222"}
    with server.client.ctx.db.session() as s:
        entries = s.execute(select(AuditEntry.action, AuditEntry.actor)).all()
    assert ("contacts.exported", "user:operator-0") in entries or any(
        a == "contacts.exported" and "operator-0" in actor for a, actor in entries
    )
    assert any(a == "pii.exported" and "owner-1" in actor for a, actor in entries)


def test_pick_lists_offer_events_properties_and_rfm_names(
    server: Any, console_as: Any, seg: list[int]
) -> None:
    page = console_as("operator").get("/console/segments/new").text
    events = re.search(r'<datalist id="segb-events">(.*?)</datalist>', page, re.S)
    assert events and '<option value="Order Completed">' in events.group(1)
    assert "tag.added" not in events.group(1)  # siyu's own events are not offered
    choices = re.search(r'<script id="segb-choices" type="application/json">(.*?)</script>', page, re.S)
    assert choices
    data = json.loads(choices.group(1))
    assert set(data["properties"]["Order Completed"]) >= {"amount", "sku"}
    assert "Champions" in data["rfm"] and "VIP" in data["tags"] and "vip" in data["segments"]
