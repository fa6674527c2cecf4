"""The CLI's analysis tables: units on values (¥, %, durations), separators, missing as ``-``,
dates with the zone in the header; no pandas dump."""

from __future__ import annotations

import datetime as dt
import io

from rich.console import Console

from siyu.analytics.base import run_analysis
from siyu.cli.analytics.table import cell, column_kind, result_table


def test_columns_get_their_units() -> None:
    assert [
        column_kind(c)
        for c in ("rate", "conversion_from_first", "revenue", "clv", "median_seconds_to_convert")
    ] == [
        "percent",
        "percent",
        "money",
        "money",
        "duration",
    ]
    assert column_kind("p_value") == "plain" and column_kind("contacts") == "plain"
    assert cell(0.1234, "percent") == "12.3%"
    assert cell(123456.5, "money") == "¥123,456.50"
    assert cell(140281, "duration") == "1d 14h"
    assert cell(1234567, "plain") == "1,234,567"
    assert cell(None, "money") == "-" and cell(float("nan"), "plain") == "-"
    assert cell(dt.date(2026, 3, 2), "plain") == "2026-03-02"


def test_a_result_renders_as_a_rich_table_with_the_zone() -> None:
    result = run_analysis(
        "experiment",
        {
            "metric": "conversion",
            "variants": [
                {"name": "a", "n": 1000, "conversions": 100},
                {"name": "b", "n": 1000, "conversions": 160},
            ],
        },
    )
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(result_table(result))
    text = console.export_text()
    assert "┃ variant" in text and "60.0%" in text  # the lift of b, as a percentage
    assert "1,000" in text
