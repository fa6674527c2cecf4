"""REST for editing and exporting segments and for the contacts list: PUT keeps the key, the
versions list grows, exports are masked unless an owner asks for reveal, the list finds a phone
by its last four digits and bulk actions act on a filter."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import openpyxl
import pytest


@pytest.fixture
def vip(server: Any) -> list[int]:
    ids = []
    for name, phone in (("王小明", "+8613800135678"), ("李四", "+8613912340000")):
        server.client.identify({"phone": phone}, {"name": name})
        ids.append(server.client.contact(phone)["id"])
    server.client.tags.apply("VIP", ids[:1], create=True)
    server.client.segments.create(
        {"key": "vip", "name": "VIP", "definition": {"type": "tags", "tags": ["VIP"]}}
    )
    return ids


def test_put_versions_and_export(
    server: Any, http: httpx.Client, api_key: Callable[[str], str], vip: list[int]
) -> None:
    resp = http.put(
        "/api/v1/segments/vip", json={"type": "not", "condition": {"type": "tags", "tags": ["VIP"]}}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["key"] == "vip" and resp.json()["version"] == 2 and resp.json()["members"] == 1
    assert [v["version"] for v in http.get("/api/v1/segments/vip/versions").json()] == [2, 1]
    bad = http.put("/api/v1/segments/vip", json={"definition": {"type": "tags", "tags": []}})
    assert bad.status_code == 422 and bad.json()["path"].startswith("definition.tags")
    op = {"Authorization": f"Bearer {api_key('operator')}"}
    x = http.get("/api/v1/segments/vip/export", params={"format": "xlsx"}, headers=op)
    assert x.status_code == 200 and x.headers["x-export-rows"] == "1"
    rows = list(openpyxl.load_workbook(io.BytesIO(x.content)).active.values)
    assert rows[1][1:3] == ("李四", "139****0000")
    assert http.get("/api/v1/segments/vip/export", params={"reveal": "true"}, headers=op).status_code == 403
    clear = http.get("/api/v1/segments/vip/export", params={"format": "csv", "reveal": "true"})  # owner
    assert clear.content.startswith(b"\xef\xbb\xbf") and "+8613912340000" in clear.content.decode("utf-8-sig")


def test_list_last4_and_bulk_tag_on_a_filter(http: httpx.Client, vip: list[int]) -> None:
    found = http.get("/api/v1/lists/contacts", params={"q": "5678"}).json()
    assert found["total"] == 1 and found["rows"][0]["id"] == vip[0]
    assert http.get("/api/v1/lists/contacts", params={"created_from": "nope"}).status_code == 422
    resp = http.post(
        "/api/v1/lists/contacts/tag", json={"tag": "回访", "create": True, "filter": {"segment": "vip"}}
    )
    assert resp.json() == {"tag": "回访", "selected": 1, "added": 1}
    assert http.get("/api/v1/lists/contacts", params={"tag": "回访"}).json()["total"] == 1
    out = http.post("/api/v1/lists/contacts/export", json={"ids": vip, "format": "csv", "lang": "en"})
    text = out.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Contact ID,Name,Phone") and "138****5678" in text
