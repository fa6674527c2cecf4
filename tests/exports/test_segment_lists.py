"""Segments you can live with, through the Python API: an edit keeps the key and adds a
recomputed version; delete names what still uses the segment; the members export as CSV with a
BOM and as XLSX, masked unless revealed, each export audited."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import select

from siyu.segments.service import SegmentInUse
from siyu.store.models import AuditEntry


def _audit(brand, action: str) -> list[dict]:
    with brand.s.ctx.db.session() as s:
        return [e.details for e in s.scalars(select(AuditEntry).where(AuditEntry.action == action))]


def test_an_edit_keeps_the_key_adds_a_version_and_recomputes(brand) -> None:
    s = brand.s
    before = s.segments.get("vip-buyers")
    assert before["version"] == 1 and before["members"] == 2
    out = s.segments.update(
        "vip-buyers", {"name": "非 VIP", "definition": {"type": "tags", "tags": ["vip"], "match": "none"}}
    )
    assert out["key"] == "vip-buyers" and out["id"] == before["id"] and out["version"] == 2
    assert sorted(s.segments.members("vip-buyers")) == sorted(
        [brand.ids["张三"], brand.ids['=HYPERLINK("http://x")']]
    )
    assert out["recompute"]["exited_count"] == 2
    versions = s.segments.versions("vip-buyers")
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["name"] == "VIP 客户" and versions[0]["name"] == "非 VIP"
    assert versions[1]["definition"]["match"] == "any"
    [entry] = _audit(brand, "segment.updated")
    assert entry["version"] == 2 and set(entry["changed"]) == {"name", "definition"}
    # A bare definition keeps the name; another key in the document is refused.
    assert s.segments.update("vip-buyers", {"type": "tags", "tags": ["vip"]})["name"] == "非 VIP"
    with pytest.raises(ValueError, match="keeps the key"):
        s.segments.update("vip-buyers", {"key": "other", "definition": {"type": "tags", "tags": ["vip"]}})


def test_changing_the_sync_tag_moves_it_to_the_members(brand) -> None:
    s = brand.s
    s.segments.update("vip-buyers", {"tag": "vip-sync"})
    members = set(s.segments.members("vip-buyers"))

    def held(c: int) -> set[str]:
        return {t["key"] for t in s.tags.of(c)["tags"]}

    assert members and all("vip-sync" in held(c) for c in members)
    s.segments.update("vip-buyers", {"tag": "vip-sync-2"})
    for c in members:
        tags = held(c)
        assert "vip-sync-2" in tags and "vip-sync" not in tags


def test_delete_names_the_journeys_and_segments_that_use_it(brand) -> None:
    s = brand.s
    s.segments.create(
        {"key": "vip-sub", "name": "子集", "definition": {"type": "segment", "segment": "vip-buyers"}}
    )
    s.journeys.create(
        {
            "key": "vip-welcome",
            "name": "VIP 欢迎",
            "trigger": {"segment_entered": "vip-buyers"},
            "steps": [{"id": "w", "wait": "1d"}],
        }
    )
    with pytest.raises(SegmentInUse) as err:
        s.segments.delete("vip-buyers")
    assert err.value.users["segments"] == ["vip-sub"] and err.value.users["journeys"] == ["vip-welcome"]
    assert "vip-sub" in str(err.value) and "vip-welcome" in str(err.value)
    assert s.segments.get("vip-buyers")["key"] == "vip-buyers"  # nothing was deleted
    s.segments.delete("vip-sub")
    s.journeys.archive("vip-welcome")
    s.segments.delete("vip-buyers")
    assert all(seg["key"] != "vip-buyers" for seg in s.segments.list())


def test_a_journey_on_the_synced_tag_holds_the_segment(brand) -> None:
    s = brand.s
    s.segments.update("vip-buyers", {"tag": "vip-sync"})
    s.journeys.create(
        {
            "key": "on-tag",
            "name": "打标触发",
            "trigger": {"tag_added": "vip-sync"},
            "steps": [{"id": "w", "wait": "1d"}],
        }
    )
    with pytest.raises(SegmentInUse, match="on-tag"):
        s.segments.delete("vip-buyers")


def test_members_export_as_csv_with_bom_and_as_xlsx_masked_and_audited(brand) -> None:
    s = brand.s
    f = s.segments.export("vip-buyers", "csv", actor="alice")
    assert f.content.startswith(b"\xef\xbb\xbf") and f.rows == 2
    rows = list(csv.DictReader(io.StringIO(f.content.decode("utf-8-sig"))))
    assert {r["姓名"] for r in rows} == {"王小明", "李四"}
    assert {r["手机号"] for r in rows} == {"138****5678", "139****5678"}
    x = s.segments.export("vip-buyers", "xlsx", actor="alice")
    sheet = openpyxl.load_workbook(io.BytesIO(x.content)).active
    header, *body = list(sheet.values)
    assert header[:3] == ("客户ID", "姓名", "手机号") and sheet.title == "VIP 客户"
    assert {(r[1], r[2]) for r in body} == {("王小明", "138****5678"), ("李四", "139****5678")}
    clear = s.segments.export("vip-buyers", "xlsx", reveal=True, actor="owner-1")
    body = list(openpyxl.load_workbook(io.BytesIO(clear.content)).active.values)[1:]
    assert {r[2] for r in body} == {"+8613800135678", "+8613912345678"}
    masked = _audit(brand, "contacts.exported")
    assert [(e["list"], e["rows"], e["format"], e["masked"]) for e in masked] == [
        ("segment:vip-buyers", 2, "csv", True),
        ("segment:vip-buyers", 2, "xlsx", True),
    ]
    assert _audit(brand, "pii.exported")[-1]["masked"] is False


def test_a_formula_in_a_name_stays_text_in_both_formats(brand) -> None:
    s = brand.s
    ids = [brand.ids['=HYPERLINK("http://x")']]
    text = s.contacts.export("csv", ids=ids).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    sheet = openpyxl.load_workbook(io.BytesIO(s.contacts.export("xlsx", ids=ids).content)).active
    cell = sheet.cell(row=2, column=2)
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"
