"""Rows + localised headers → CSV (UTF-8 with BOM) or XLSX bytes. Every list export goes
through here: contacts, segment members, the people waiting at a journey step, analytics.

* **BOM.** Excel on Windows reads a CSV without a byte-order mark as the system code page
  (GBK in China) and shows 张三 as mojibake; with ``\\ufeff`` it reads UTF-8.
* **Formulas.** Text that a spreadsheet would run (``=HYPERLINK(…)`` in a name) is neutralised:
  in CSV by siyu.store.csv_safe (a leading ``'``), in XLSX by typing the cell as a string, so
  the name reads exactly as written and is never evaluated.
* **Masking** is the caller's decision (a flag on the row builders, e.g. exports.contacts):
  this module writes what it is given.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from siyu.store.csv_safe import safe_cell

FORMATS = ("csv", "xlsx")
BOM = "\ufeff"
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Excel's limit on a sheet name, and characters it refuses there.
_SHEET_MAX = 31
_SHEET_BAD = str.maketrans({c: " " for c in "[]:*?/\\"})


@dataclass(frozen=True)
class Column:
    key: str
    header: str  # already in the reader's language


@dataclass
class ExportFile:
    content: bytes
    media_type: str
    suffix: str
    rows: int

    def filename(self, stem: str) -> str:
        return f"{stem}.{self.suffix}"


class ExportFormatError(ValueError):
    pass


def check_format(fmt: str) -> str:
    fmt = (fmt or "").lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportFormatError(f"format: expected csv or xlsx, got {fmt!r}")
    return fmt


def _plain(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | tuple | set):
        return "，".join(str(v) for v in value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value


def to_csv(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], bom: bool = True
) -> tuple[bytes, int]:
    out = io.StringIO()
    if bom:
        out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([safe_cell(c.header) for c in columns])
    n = 0
    for row in rows:
        writer.writerow([safe_cell(_plain(row.get(c.key))) for c in columns])
        n += 1
    return out.getvalue().encode("utf-8"), n


def to_xlsx(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], sheet: str = "Sheet1"
) -> tuple[bytes, int]:
    from openpyxl import Workbook  # imported where a workbook is written, not at CLI start-up
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet((sheet.translate(_SHEET_BAD).strip() or "Sheet1")[:_SHEET_MAX])
    bold = Font(bold=True)

    def cell(value: Any, header: bool = False) -> WriteOnlyCell:
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"  # "=…" stays text, never a formula
        if header:
            c.font = bold
        return c

    ws.append([cell(c.header, header=True) for c in columns])
    n = 0
    for row in rows:
        ws.append([cell(_plain(row.get(c.key))) for c in columns])
        n += 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), n


def encode(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[Column], fmt: str, sheet: str = "Sheet1"
) -> ExportFile:
    """The rows as a file in ``fmt`` (csv or xlsx)."""
    fmt = check_format(fmt)
    content, n = to_csv(rows, columns) if fmt == "csv" else to_xlsx(rows, columns, sheet)
    return ExportFile(content, MEDIA_TYPES[fmt], fmt, n)


def localise(headers: Mapping[str, Mapping[str, str]], keys: Sequence[str], lang: str) -> list[Column]:
    """Columns for ``keys`` with headers in ``lang`` (English when a header lacks it)."""
    return [Column(k, headers[k].get(lang) or headers[k]["en"]) for k in keys]
