"""The segments pages over real HTTP: list with sizes and trends, the builder's live preview
(count, masked sample, 422 with the path), saving, recompute, and what a viewer may not do."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

PHONES = ["+8613800000001", "+8613800000002", "+8613800000003", "+8613800000004"]
VIP = {"type": "tags", "match": "any", "tags": ["VIP"]}


@pytest.fixture
def people(server: Any) -> list[int]:
    """Four contacts, three of them tagged VIP."""
    ids = []
    for n, phone in enumerate(PHONES, 1):
        assert server.client.identify({"phone": phone}, {"name": f"顾客{n}"}).rejected == []
        ids.append(server.client.contact(phone)["id"])
    server.client.tags.apply("VIP", ids[:3], create=True)
    return ids


def preview(browser: Any, definition: Any) -> Any:
    return browser.post(
        "/console/segments/preview", json={"definition": definition}, headers={"X-CSRF-Token": browser.csrf}
    )


def test_preview_counts_and_masks_the_sample(server: Any, console_as: Any, people: list[int]) -> None:
    viewer = console_as("viewer")  # previews only read: viewers may explore too
    resp = preview(viewer, VIP)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["count"] == 3
    assert [c["id"] for c in body["sample"]] == people[:3]
    assert body["sample"][0]["name"] == "顾客1"
    assert body["sample"][0]["identifiers"] == ["138****0001"]
    assert "+8613800000001" not in resp.text and "13800000001" not in resp.text
    none = preview(viewer, {"type": "not", "condition": VIP}).json()
    assert none["count"] == 1 and [c["id"] for c in none["sample"]] == [people[3]]


def test_preview_of_a_bad_definition_is_422_with_the_path(
    server: Any, console_as: Any, people: list[int]
) -> None:
    op = console_as("operator")
    bad = {
        "type": "and",
        "conditions": [VIP, {"type": "event", "event": "x", "count": {"op": "gte", "value": -1}}],
    }
    resp = preview(op, bad)
    assert resp.status_code == 422
    body = resp.json()
    assert body["path"] == "definition.conditions[1].count.value"
    assert body["detail"].startswith("Invalid definition at definition.conditions[1].count.value")
    unknown = preview(op, {"type": "tags", "tags": ["nope"]})
    assert unknown.status_code == 422 and unknown.json()["path"] == "definition.tags"
    assert "nope" in unknown.json()["error"]
    assert preview(op, [1, 2]).status_code == 422
    # without the CSRF header the post is refused
    assert op.post("/console/segments/preview", json={"definition": VIP}).status_code == 403


def test_builder_page_has_the_stable_ids(server: Any, console_as: Any, people: list[int]) -> None:
    page = console_as("operator").get("/console/segments/new")
    assert page.status_code == 200
    for ident in ("segment-key", "segment-name", "segment-definition", "segment-count", "segment-save"):
        assert f'id="{ident}"' in page.text
    assert "/console/static/segments.js" in page.text
    assert '<option value="VIP">' in page.text  # the tag pick list offers existing tags


def test_save_creates_and_computes(server: Any, console_as: Any, people: list[int]) -> None:
    op = console_as("operator")
    resp = op.post_form(
        "/console/segments",
        {"key": "vip", "name": "会员 VIP", "kind": "dynamic", "tag": "", "definition": json.dumps(VIP)},
        follow_redirects=False,
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/console/segments/vip?saved=1"
    seg = server.client.segments.get("vip")
    assert (seg["name"], seg["members"], seg["definition"]) == ("会员 VIP", 3, VIP)
    page = op.get(resp.headers["location"])
    assert page.status_code == 200
    assert "Segment saved and computed: 3 contacts." in page.text
    assert 'data-members="3"' in page.text
    assert "顾客1" in page.text and "138****0001" in page.text and "13800000001" not in page.text
    assert 'id="segment-recompute"' in page.text
    # JSON body works too; a taken key is 409, a bad definition 422 with the path
    again = op.post(
        "/console/segments",
        json={"key": "vip", "name": "x", "definition": VIP},
        headers={"X-CSRF-Token": op.csrf},
    )
    assert again.status_code == 409
    bad = op.post(
        "/console/segments",
        json={"key": "b", "name": "x", "definition": {"type": "tags"}},
        headers={"X-CSRF-Token": op.csrf},
    )
    assert bad.status_code == 422 and bad.json()["path"] == "definition.tags"
    created = op.post(
        "/console/segments",
        json={"key": "all-vip", "name": "x", "definition": VIP},
        headers={"X-CSRF-Token": op.csrf},
    )
    assert created.status_code == 201 and created.json()["members"] == 3


def test_invalid_form_keeps_the_input(server: Any, console_as: Any, people: list[int]) -> None:
    op = console_as("operator")
    text = '{"type": "tags", "tags": ["VIP"], "match": "sometimes"}'
    resp = op.post_form("/console/segments", {"key": "k1", "name": "保留的名字", "definition": text})
    assert resp.status_code == 422
    assert "Invalid definition at definition.match" in resp.text
    assert 'value="保留的名字"' in resp.text and 'value="k1"' in resp.text
    assert "&#34;sometimes&#34;" in resp.text or "&quot;sometimes&quot;" in resp.text
    broken = op.post_form("/console/segments", {"key": "k1", "name": "n", "definition": "{oops"})
    assert broken.status_code == 422 and "not valid JSON" in broken.text
    assert server.client.segments.list() == []


def test_list_shows_size_trend_and_computed_time(server: Any, console_as: Any, people: list[int]) -> None:
    server.client.segments.create({"key": "vip", "name": "会员", "definition": VIP})
    server.client.tags.apply("VIP", [people[3]])
    server.client.segments.recompute("vip")
    page = console_as("viewer").get("/console/segments")
    assert page.status_code == 200
    row = re.search(r'<tr data-segment="vip">(.*?)</tr>', page.text, re.S)
    assert row, page.text
    assert 'data-members="4"' in row.group(1)
    assert "<polyline" in row.group(1)
    assert "3 → 4" not in row.group(1)  # both computes were today: one day's end size
    # the computed time is in the brand's zone, named in the column's header
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row.group(1)) and "UTC" not in row.group(1)
    assert "Beijing time" in page.text
    assert 'id="segment-new"' not in page.text  # viewers do not build segments


def test_recompute_reports_the_result(server: Any, console_as: Any, people: list[int]) -> None:
    server.client.segments.create({"key": "vip", "name": "会员", "definition": VIP})
    server.client.tags.apply("VIP", [people[3]])
    op = console_as("operator")
    resp = op.post("/console/segments/vip/recompute", json={}, headers={"X-CSRF-Token": op.csrf})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["members"], body["entered_count"], body["exited_count"]) == (4, 1, 0)
    assert "4 contacts, 1 entered, 0 left" in body["message"]
    assert server.client.segments.get("vip")["members"] == 4
    form = op.post_form("/console/segments/vip/recompute", follow_redirects=False)
    assert form.status_code == 303


def test_viewer_cannot_save_or_recompute(server: Any, console_as: Any, people: list[int]) -> None:
    server.client.segments.create({"key": "vip", "name": "会员", "definition": VIP})
    viewer = console_as("viewer")
    page = viewer.get("/console/segments/vip")
    assert page.status_code == 200 and "会员" in page.text
    for ident in ('id="segment-save"', 'id="segment-recompute"', 'id="segment-key"'):
        assert ident not in page.text
    resp = viewer.post_form("/console/segments", {"key": "x", "name": "x", "definition": json.dumps(VIP)})
    assert resp.status_code == 403
    assert viewer.post_form("/console/segments/vip/recompute").status_code == 403
    assert [s["key"] for s in server.client.segments.list()] == ["vip"]


def test_unknown_segment_is_404(server: Any, console_as: Any) -> None:
    resp = console_as("viewer").get("/console/segments/nope")
    assert resp.status_code == 404 and "nope" in resp.text
