"""Analysis results as rich tables a person reads: units on the values (¥, %, 2d 3h),
thousands separators, dates in the analysis's zone (named in the header), ``-`` for missing.

The kind of a column comes from its name, the same across analyses (``rate``, ``share``,
``stickiness``, ``conversion_*``: shares of 1; ``revenue``, ``spend``, ``clv``, ``monetary``:
money; ``*_seconds*``: durations). Anything else is a plain number or text. ``--csv`` and
``--json`` keep the raw values."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pyarrow as pa
from rich.table import Table

from siyu.analytics.result import AnalysisResult

#: Columns holding a share of 1, shown as a percentage.
PERCENT = (
    "rate",
    "share",
    "stickiness",
    "conversion_from_first",
    "conversion_from_previous",
    "repurchase_rate",
    "redemption_rate",
    "breakage_rate",
)
PERCENT_PARTS = (
    "removal_effect",
    "p_alive",
    "churn_risk",
    "roi",
    "lift",
    "ci_low",
    "ci_high",
    "chance_to_win",
)
#: Columns holding money (the brand's currency, yuan).
MONEY = (
    "revenue",
    "spend",
    "clv",
    "monetary",
    "expected_spend",
    "cac",
    "gmv",
    "aov",
    "discount",
    "liability",
    "gmv_per_issued",
    "gmv_per_holdout",
)
MONEY_SUFFIX = ("_revenue", "_spend", "_value_cny", "_gmv")


def column_kind(name: str) -> str:
    if name in PERCENT or name.startswith("conversion_rate") or name in PERCENT_PARTS:
        return "percent"
    if name in MONEY or name.endswith(MONEY_SUFFIX):
        return "money"
    if "seconds" in name:
        return "duration"
    return "plain"


def duration(seconds: float) -> str:
    """2d 3h / 5m 10s: the two largest units (never 140281 s)."""
    left = round(abs(seconds))
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if left >= size and len(parts) < 2:
            n, left = divmod(left, size)
            parts.append(f"{n}{unit}")
        elif parts:
            break
    return " ".join(parts) or "0s"


def cell(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != dt.time() else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float):
        if kind == "percent":
            return f"{value * 100:.1f}%"
        if kind == "money":
            return f"¥{value:,.2f}"
        if kind == "duration":
            return duration(value)
        if isinstance(value, int):
            return f"{value:,}"
        return f"{value:,.4g}" if abs(value) < 1e15 else f"{value:.4g}"
    if isinstance(value, list | dict):
        return str(value)
    return str(value)


def result_table(result: AnalysisResult) -> Table:
    """The main table of ``result`` as a rich table (numbers right-aligned)."""
    frame = result.frame()
    zone = getattr(getattr(result, "params", None), "timezone", None)
    table = Table(title=None, show_lines=False)
    kinds = []
    for f in frame.schema:
        kind = column_kind(f.name)
        kinds.append(kind)
        numeric = pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
        header = f.name  # the values carry their units (¥, %, 2d 3h)
        if zone and pa.types.is_temporal(f.type):
            header = f"{f.name} ({zone})"
        table.add_column(header, justify="right" if numeric else "left", no_wrap=not numeric)
    for row in frame.to_pylist():
        table.add_row(*(cell(v, k) for v, k in zip(row.values(), kinds, strict=True)))
    return table
