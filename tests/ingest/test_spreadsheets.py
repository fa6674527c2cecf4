"""Contacts from the spreadsheets a Chinese operations team really has: a CSV saved by Excel on
a Chinese Windows (GBK, CRLF) and an .xlsx workbook, both with Chinese headers and the messy
rows of a real member list. Every outcome is asserted against what the file says, row by row:
which rows are rejected and why, which values are left out of imported rows, which rows are
one contact, which value wins and that the one it replaced stays in the trait history."""

from __future__ import annotations

import codecs
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from tests.cli.conftest import Cli, cli_env

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.ingest.files import ImportFileError
from siyu.profiles.history import trait_history
from siyu.store.models import Contact, Event

HEADER = ["会员号", "姓名", "手机号码", "邮箱", "生日", "城市", "性别"]
#: Spreadsheet rows after the header (row 1), so the first one is row 2.
ROWS: list[list[Any]] = [
    ["M001", "张三", "13800138000", "zhang@example.com", "1990/5/1", "上海", "男"],  # row 2: fine
    ["M002", "王小明", "13912345678", "", "1988-07-12", "杭州", "男"],  # row 3
    ["M003", "李四", "12345", "li@example.com", "1992年3月8日", "北京", "女"],  # row 4: bad phone
    ["M004", "赵六", "13700137000", "zhao@example.com", "2000-02-30", "广州", "女"],  # row 5: no such day
    ["", "坏行", "999", "", "", "", ""],  # row 6: its only identifier is bad
    ["", "吴十", "139 1234 5678", "wu@example.com", "", "杭州", "男"],  # row 7: row 3's phone
    ["", "", "", "", "", "", ""],  # row 8: empty cells Excel left behind: skipped
]
EXPECT_COLUMNS = {
    "会员号": "customer_no",
    "姓名": "name",
    "手机号码": "phone",
    "邮箱": "email",
    "生日": "birthday",
    "城市": "city",
    "性别": "gender",
}


def write_gbk_csv(path: Path) -> Path:
    lines = [",".join(HEADER)] + [",".join(str(c) for c in row) for row in ROWS]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def write_xlsx(path: Path) -> Path:
    """The same list as a workbook: phones typed into number cells, birthdays as date cells
    where Excel would have made them dates, a title row above the header as people add."""
    book = Workbook()
    sheet = book.active
    sheet.append([])  # an empty first row: the header is the first non-empty one
    sheet.append(HEADER)
    for row in ROWS:
        cells: list[Any] = list(row)
        if cells[2].isdigit() and len(cells[2]) == 11:
            cells[2] = int(cells[2])
        if cells[4] == "1990/5/1":
            cells[4] = datetime(1990, 5, 1)
        sheet.append([None if c == "" else c for c in cells])
    book.save(path)
    return path


def check_outcome(client: Siyu, report: dict[str, Any], first: int) -> None:
    """``first``: the file's number of the first data row (2 in the CSV, 3 in the workbook)."""

    def row(n: int) -> int:  # the file's number of data row n (2 = the first)
        return n - 2 + first

    assert {c["column"]: c["field"] for c in report["columns"]} == EXPECT_COLUMNS
    assert {c["how"] for c in report["columns"]} == {"alias"}
    assert (report["lines"], report["accepted"], report["rejected"], report["outcome"]) == (
        6,
        5,
        1,
        "partial",
    )
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(row(6), "identifiers.phone")]
    notes = {(n["line"], n["field"], n["kind"]) for n in report["warnings"]}
    assert notes == {
        (row(4), "手机号码", "invalid_value"),
        (row(5), "生日", "invalid_date"),
        (row(7), "手机号码", "same_contact"),
        (row(7), "姓名", "conflict"),
    }
    same = next(n for n in report["warnings"] if n["kind"] == "same_contact")
    assert (same["other_line"], same["via"]) == (row(3), "phone")
    assert f"same phone as row {row(3)}" in same["reason"]
    conflict = next(n for n in report["warnings"] if n["kind"] == "conflict")
    assert (conflict["previous"], conflict["value"], conflict["other_line"]) == ("王小明", "吴十", row(3))
    assert "2000-02-30" in next(n["reason"] for n in report["warnings"] if n["kind"] == "invalid_date")

    # the bad phone cost the phone, not the row: 李四 is there by email and member number
    li = client.contact("li@example.com")
    assert li["traits"]["name"] == "李四" and li["traits"]["birthday"] == "1992-03-08"
    assert sorted(i["type"] for i in li["identifiers"]) == ["customer_no", "email"]
    # the invalid date is left out, the rest of the row kept
    zhao = client.contact("customer_no:M004")
    assert "birthday" not in zhao["traits"] and zhao["traits"]["city"] == "广州"
    assert client.contact("13800138000")["traits"]["birthday"] == "1990-05-01"
    # rows 3 and 7 are one contact: the later name wins, the earlier is in its history
    wang = client.contact("customer_no:M002")
    assert wang["id"] == client.contact("wu@example.com")["id"]
    assert wang["traits"]["name"] == "吴十"
    names = [(h["previous"], h["value"]) for h in wang["trait_history"] if h["name"] == "name"]
    assert names == [(None, "王小明"), ("王小明", "吴十")]
    with client.ctx.db.session() as s:
        assert [h["value"] for h in trait_history(s, wang["id"], "name")] == ["王小明", "吴十"]
        assert (
            s.scalar(select(func.count()).select_from(Contact).where(Contact.merged_into_id.is_(None))) == 4
        )
    with pytest.raises(ValueError, match="no contact"):
        client.contact("customer_no:M005")


def test_gbk_csv_saved_by_excel(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    report = client.import_file(write_gbk_csv(tmp_path / "会员名单.csv"), "contacts").as_dict()
    assert report["encoding"] == "gb18030"
    check_outcome(client, report, first=2)


def test_xlsx_with_chinese_headers(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    report = client.import_file(write_xlsx(tmp_path / "会员名单.xlsx"), "contacts").as_dict()
    assert report["encoding"] is None
    check_outcome(client, report, first=3)


def test_dry_run_writes_nothing_and_reports_the_same(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    preview = client.import_preview(write_xlsx(tmp_path / "list.xlsx"), "contacts")
    assert preview["dry_run"] and preview["format"] == "xlsx"
    assert (preview["lines"], preview["accepted"], preview["rejected"]) == (6, 5, 1)
    assert {(n["line"], n["kind"]) for n in preview["warnings"]} == {
        (5, "invalid_value"),
        (6, "invalid_date"),
        (8, "same_contact"),
        (8, "conflict"),
    }
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(Contact)) == 0
    # a mapping given by hand wins over the aliases: 姓名 skipped, 城市 kept under another name
    chosen = client.import_preview(
        tmp_path / "list.xlsx", "contacts", mapping={"姓名": "-", "城市": "home_city"}
    )
    fields = {c["column"]: (c["field"], c["how"]) for c in chosen["columns"]}
    assert fields["姓名"] == ("-", "skipped") and fields["城市"] == ("home_city", "given")
    assert not [n for n in chosen["warnings"] if n["kind"] == "conflict"]  # no names compared


@pytest.mark.parametrize(
    ("encoding", "sep", "newline"),
    [("utf-8-sig", ",", "\r\n"), ("utf-16", "\t", "\r\n"), ("utf-8", ",", "\n")],
)
def test_other_excel_encodings(
    ctx: AppContext, tmp_path: Path, encoding: str, sep: str, newline: str
) -> None:
    """Excel's "CSV UTF-8" (BOM), "Unicode text" (UTF-16, tab-separated) and plain UTF-8."""
    text = newline.join(
        [sep.join(["手机", "姓名", "出生日期"]), sep.join(["13600136000", "陈七", "19950615"])]
    )
    path = tmp_path / "list.csv"
    path.write_bytes(codecs.encode(text + newline, encoding))
    client = Siyu(ctx)
    report = client.import_file(path, "contacts")
    assert (report.accepted, report.rejected, report.warnings) == (1, 0, [])
    assert client.contact("13600136000")["traits"] == {"name": "陈七", "birthday": "1995-06-15"}


def test_a_file_where_every_row_failed_is_not_a_success(ctx: AppContext, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("手机,姓名\n123,甲\n456,乙\n", encoding="utf-8")
    client = Siyu(ctx)
    report = client.import_file(path, "contacts")
    assert (report.outcome, report.accepted, report.rejected) == ("failed", 0, 2)
    status = client.import_rejected(report.job_id)
    assert [r["line"] for r in status["rows"]] == [2, 3]
    cli = Cli(cli_env(ctx.settings))
    out = cli.json("import", "contacts", str(path), code=1)  # again: still nothing imported
    assert (out["outcome"], out["rejected"]) == ("failed", 2)
    text = cli("import", "contacts", str(path), code=1).stderr
    assert "Nothing was imported" in text
    dry = cli.json("import", "contacts", str(path), "--dry-run", code=1)
    assert dry["outcome"] == "failed" and dry["dry_run"]


def test_cli_contract_maps_chinese_headers_and_reads_xlsx(ctx: AppContext, tmp_path: Path) -> None:
    cli = Cli(cli_env(ctx.settings))
    data = cli.json("import", "contacts", str(write_xlsx(tmp_path / "members.xlsx")))
    assert (data["accepted"], data["rejected"], data["outcome"]) == (5, 1, "partial")
    assert {c["column"]: c["field"] for c in data["columns"]} == EXPECT_COLUMNS
    shown = cli.json("contacts", "show", "customer_no:M002")
    assert shown["traits"]["name"] == "吴十" and shown["trait_history"]
    dry = cli("import", "contacts", str(tmp_path / "members.xlsx"), "--dry-run").stdout
    assert "手机号码" in dry and "phone" in dry


def test_files_that_cannot_be_read(ctx: AppContext, tmp_path: Path) -> None:
    client = Siyu(ctx)
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"not a zip")
    with pytest.raises(ImportFileError, match=r"not a readable \.xlsx"):
        client.import_file(fake, "contacts")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(ImportFileError, match=r"save it as \.xlsx"):
        client.import_file(old, "contacts")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00" + bytes(range(0x80, 0x100)) * 4)
    with pytest.raises(ImportFileError):
        client.import_file(binary, "contacts")
    with ctx.db.session() as s:  # none of them got as far as a job
        assert s.scalar(select(func.count()).select_from(Event)) == 0


def test_parse_date_reads_what_spreadsheets_write() -> None:
    from siyu.ingest.columns import BadDate, parse_date

    assert parse_date("1990/5/1") == parse_date("1990年5月1日") == parse_date("19900501") == "1990-05-01"
    assert parse_date(date(2001, 2, 3)) == "2001-02-03" and parse_date("2024-02-29 00:00:00") == "2024-02-29"
    for bad in ("2000-02-30", "2023-02-29", "明天", "1990-13-01"):
        with pytest.raises(BadDate):
            parse_date(bad)


def test_two_columns_of_one_identifier_keep_both(ctx: AppContext, tmp_path: Path) -> None:
    """手机 and 联系电话 both map to phone: both numbers reach identity resolution, whose limit
    (one phone per contact by default, SIYU_IDENTIFIER_LIMITS) keeps the first column's; a bad one
    is noted and the row imported by the other."""
    path = tmp_path / "two.csv"
    path.write_text("手机,联系电话,姓名\n13800138000,13900139000,甲\n13700137000,123,乙\n", encoding="utf-8")
    client = Siyu(ctx)
    report = client.import_file(path, "contacts")
    assert (report.accepted, report.rejected) == (2, 0)
    assert [(n["line"], n["kind"]) for n in report.warnings] == [(3, "invalid_value")]
    first = client.contact("13800138000")
    assert first["traits"]["name"] == "甲"
    assert [i["value"] for i in first["identifiers"] if i["type"] == "phone"] == ["138****8000"]
    assert client.contact("13700137000")["traits"]["name"] == "乙"
