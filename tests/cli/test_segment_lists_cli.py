"""`siyu segments update|versions|export|delete` as scripts use them (the contract of issue 15):
update keeps the key and answers JSON; export writes CSV with a UTF-8 BOM or XLSX, masked unless
--reveal; delete refuses, naming the journey that uses the segment."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    s = Siyu(ctx)
    for name, phone, vip in (("王小明", "+8613800135678", True), ("李四", "+8613912345678", False)):
        s.identify({"phone": phone}, {"name": name})
        if vip:
            s.tags.apply("VIP", [phone], create=True)
    s.segments.create({"key": "vip", "name": "VIP 客户", "definition": {"type": "tags", "tags": ["VIP"]}})
    return Cli(cli_env(ctx.settings))


def test_update_keeps_the_key_and_adds_a_version(cli: Cli, tmp_path: Path) -> None:
    doc = tmp_path / "vip.yaml"
    doc.write_text(
        "name: 全部客户\ndefinition: {type: not, condition: {type: tags, tags: [nobody-has-this]}}\n"
    )
    assert "nobody-has-this" in cli.fails("segments", "update", "vip", str(doc))  # named, nothing saved
    doc.write_text(
        "name: 全部客户\ndefinition: {type: not, condition: {type: tags, tags: [VIP], match: none}}\n"
    )
    out = cli.json("segments", "update", "vip", str(doc))
    assert out["key"] == "vip" and out["version"] == 2 and out["members"] == 1
    assert [v["version"] for v in cli.json("segments", "versions", "vip")] == [2, 1]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"key": "else", "definition": {"type": "tags", "tags": ["VIP"]}}))
    assert "keeps the key" in cli.fails("segments", "update", "vip", str(other))


def test_export_csv_with_bom_and_xlsx_masked(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "vip.csv"
    out = cli.json("segments", "export", "vip", "--format", "csv", "--output", str(target))
    assert out == {"segment": "vip", "format": "csv", "rows": 1, "masked": True, "output": str(target)}
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    [row] = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert (row["姓名"], row["手机号"]) == ("王小明", "138****5678")
    book = tmp_path / "vip.xlsx"
    cli("segments", "export", "vip", "--format", "xlsx", "--output", str(book))
    rows = list(openpyxl.load_workbook(book).active.values)
    assert rows[1][1:3] == ("王小明", "138****5678")
    cli("segments", "export", "vip", "--format", "xlsx", "--output", str(book), "--reveal")
    assert list(openpyxl.load_workbook(book).active.values)[1][2] == "+8613800135678"
    assert "csv or xlsx" in cli.fails("segments", "export", "vip", "--format", "pdf", "--output", str(book))


def test_delete_names_the_journey_that_uses_it(cli: Cli, ctx: AppContext) -> None:
    Siyu(ctx).journeys.create(
        {
            "key": "vip-care",
            "name": "VIP 关怀",
            "trigger": {"segment_entered": "vip"},
            "steps": [{"id": "w", "wait": "1d"}],
        }
    )
    assert "vip-care" in cli.fails("segments", "delete", "vip")
