"""What every analysis returns: one main table plus a JSON payload and a chart.

An analysis result is data first: ``frame()`` is its main table (Arrow, so pandas and Polars get
it without a copy through Python objects), ``payload()`` is the JSON document the CLI's
``--json`` and the REST API print, and ``figure()`` is a Plotly figure the console and notebooks
share. Subclasses fill these three in; conversions live here once.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

from siyu.store.csv_safe import safe_table

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go
    import polars as pl


def _default(value: Any) -> Any:
    """JSON for values orjson does not know (NumPy scalars, dates already handled)."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class AnalysisResult:
    """Base of every analysis result."""

    kind: ClassVar[str] = ""

    #: The SQL statements the runner executed, in order (for review and snapshot tests).
    sql: list[str]

    def __init__(self) -> None:
        self.sql = []

    # --- what subclasses provide ------------------------------------------------------------------
    def frame(self) -> pa.Table:
        """The main table of the result."""
        raise NotImplementedError

    def payload(self) -> Any:
        """The JSON document (dicts, lists, numbers, strings) of the result."""
        raise NotImplementedError

    def figure(self) -> go.Figure:
        """A Plotly figure of the result."""
        raise NotImplementedError

    # --- conversions --------------------------------------------------------------------------------
    def to_pandas(self) -> pd.DataFrame:
        return self.frame().to_pandas()

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self.frame())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def to_dict(self) -> Any:
        """The payload as plain Python (round-tripped through JSON, so NumPy values are gone)."""
        return orjson.loads(self.to_json())

    def to_json(self) -> str:
        return orjson.dumps(
            self.payload(), default=_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        ).decode()

    def to_csv(self, headers: dict[str, str] | None = None, bom: bool = False) -> str:
        """The main table as CSV. ``headers`` renames columns (localised downloads); ``bom``
        puts a UTF-8 byte-order mark in front so Excel in China reads 中文 instead of mojibake.
        Days and times are the analysis's local ones: when it ran in a named zone (every
        interface passes the brand's), their headers say which (``day (Asia/Shanghai)``), so a
        spreadsheet read later is not taken for UTC."""
        table = safe_table(self.frame())  # no cell a spreadsheet would run
        zone = getattr(getattr(self, "params", None), "timezone", None)
        names = [(headers or {}).get(f.name, f.name) for f in table.schema]
        if zone:
            temporal = [pa.types.is_temporal(f.type) for f in table.schema]
            names = [f"{n} ({zone})" if t else n for n, t in zip(names, temporal, strict=True)]
        table = table.rename_columns(names)
        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        return ("\ufeff" if bom else "") + buf.getvalue().decode()

    def to_html(self) -> str:
        """The chart as an HTML fragment that loads plotly.js from the page, never from a CDN."""
        return self.figure().to_html(full_html=False, include_plotlyjs=False)


def table_from_rows(rows: list[dict[str, Any]], schema: pa.Schema | None = None) -> pa.Table:
    """An Arrow table from row dicts; with a schema, an empty list still has its columns."""
    if not rows and schema is not None:
        return schema.empty_table()
    return pa.Table.from_pylist(rows, schema=schema)
