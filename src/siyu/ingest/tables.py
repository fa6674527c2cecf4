"""Tables to import: CSV (any encoding a Chinese Excel writes) and XLSX workbooks, read row by
row into flat records with the file's own row numbers.

CSV: UTF-8 with or without a BOM (Excel's "CSV UTF-8"), GBK/GB18030 (Excel's plain "CSV" on a
Chinese Windows) and UTF-16 with a BOM (Excel's "Unicode text", tab-separated) are told apart
by reading the file once before the import; CRLF line ends and quoted multi-line cells are the
csv module's. A comma-free header with tabs is read as tab-separated.

XLSX: the first worksheet, read streaming (openpyxl read-only mode, so a 100k-row workbook
is not held in memory); its first non-empty row is the header and row numbers are the
sheet's, as the operator sees them in Excel. Numbers that are whole (a phone typed into a
number cell, ``1.38001380E+10``) become digits without ``.0``; date cells stay dates (the
date fields read them) or become ISO text elsewhere.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain
from pathlib import Path
from typing import Any

from siyu.ingest.columns import DATE_FIELDS, BadDate, ColumnPlan, parse_date, plan_columns
from siyu.ingest.readers import BadRecord, ImportFileError, row_to_call
from siyu.profiles.identifiers import IDENTIFIER_PRIORITY

_CHUNK = 1 << 20
#: A row's notes: (column, kind, reason) — values left out of a row that is still imported.
Note = tuple[str, str, str]


def sniff_encoding(path: Path) -> str:
    """The text encoding of a CSV file (see the module docstring); ImportFileError when it is
    none of them."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF8):
        candidates: tuple[str, ...] = ("utf-8-sig",)
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise ImportFileError("the file is neither UTF-8 nor GBK text: save it from Excel as “CSV UTF-8”")


def _cell(value: Any) -> Any:
    """A worksheet cell as import text (dates kept for the date fields to read)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    return value


@dataclass
class Table:
    """An open table: its header, how each column maps, and its rows as (row number, bytes
    read since the last row, record or BadRecord, notes)."""

    path: Path
    fmt: str
    kind: str
    given: dict[str, str]
    encoding: str | None = None
    headers: list[str] = field(default_factory=list)
    plans: list[ColumnPlan] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.fmt == "csv":
            self.encoding = sniff_encoding(self.path)

    def _plan(self, headers: list[str]) -> None:
        self.headers = headers
        self.plans = plan_columns(headers, self.kind, self.given)

    def check(self) -> None:
        """Read the header (so :attr:`plans` is known before any row is) and fail early on a
        file that cannot be read at all."""
        for _ in self.rows(header_only=True):
            pass

    def rows(self, header_only: bool = False) -> Iterator[tuple[int, int, Any, list[Note]]]:
        if self.fmt == "xlsx":
            yield from self._xlsx_rows(header_only)
        else:
            yield from self._csv_rows(header_only)

    # --- CSV ------------------------------------------------------------------------------
    def _csv_rows(self, header_only: bool) -> Iterator[tuple[int, int, Any, list[Note]]]:
        with self.path.open("rb") as fh:
            text = io.TextIOWrapper(fh, encoding=self.encoding or "utf-8-sig", newline="")
            first = text.readline()
            delimiter = "\t" if "\t" in first and "," not in first else ","
            reader = csv.reader(chain([first], text), delimiter=delimiter)
            header = next(reader, [])
            self._plan([h.strip().lstrip("\ufeff") for h in header])
            if not self.headers or header_only:
                return
            width = len(self.headers)
            last = 0
            for cells in reader:
                lineno = reader.line_num
                pos = fh.tell()
                size, last = max(pos - last, 0), pos
                if not any(c.strip() for c in cells):
                    continue  # an empty line, or a row of empty cells Excel left behind
                yield (lineno, size, *self._record(cells, width))

    # --- XLSX -----------------------------------------------------------------------------
    def _xlsx_rows(self, header_only: bool) -> Iterator[tuple[int, int, Any, list[Note]]]:
        try:
            from openpyxl import load_workbook
        except ImportError as exc:  # pragma: no cover - a dependency of siyu
            raise ImportFileError("reading .xlsx needs openpyxl (pip install openpyxl)") from exc
        try:
            book = load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException…
            raise ImportFileError(f"{self.path.name} is not a readable .xlsx workbook ({exc})") from exc
        try:
            sheet = book.worksheets[0] if book.worksheets else None
            if sheet is None:
                return
            total = max(self.path.stat().st_size, 1)
            rows_hint = max(sheet.max_row or 1, 1)
            per_row = max(total // rows_hint, 1)
            width = 0
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [_cell(v) for v in values]
                if not any(c not in (None, "") for c in cells):
                    continue
                if not width:
                    while cells and cells[-1] in (None, ""):
                        cells.pop()
                    self._plan(["" if c is None else str(c).strip() for c in cells])
                    width = len(self.headers)
                    if header_only:
                        return
                    continue
                while len(cells) > width and cells[-1] in (None, ""):
                    cells.pop()
                cells += [""] * (width - len(cells))
                yield (number, per_row, *self._record(cells, width))
        finally:
            book.close()

    # --- both -----------------------------------------------------------------------------
    def _record(self, cells: list[Any], width: int) -> tuple[Any, list[Note]]:
        if len(cells) != width:
            shown = str([c for c in cells if c is not None])
            return BadRecord("(row)", f"{len(cells)} columns, the header has {width}", shown), []
        row: dict[str, Any] = {}
        notes: list[Note] = []
        for plan, value in zip(self.plans, cells, strict=True):
            if plan.field == "-" or value is None or value == "":
                continue
            if plan.field in DATE_FIELDS:
                try:
                    value = parse_date(value)
                except BadDate as exc:
                    notes.append((plan.column, "invalid_date", str(exc)))
                    continue
            elif isinstance(value, datetime | date):
                value = value.isoformat()
            if plan.field in IDENTIFIER_PRIORITY and plan.field in row:
                # two columns of one identifier (手机 and 联系电话): both are kept
                before = row[plan.field]
                value = [*(before if isinstance(before, list) else [before]), value]
            row[plan.field] = value
        return row_to_call(row, self.kind, {}), notes


__all__ = ["Note", "Table", "sniff_encoding"]
