"""`siyu analytics …`: every analysis on the command line.

The commands live in small modules per area (``activity``, ``funnels``, ``value``,
``attribution``, ``economics``, ``loyalty`` in this package); this module holds what
they share: the Typer app, running an analysis through the Python API, and printing its result
as a table, ``--json`` (the payload) or ``--csv`` (the main table).
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.measure import Measurement

from siyu.analytics.base import AnalyticsError
from siyu.analytics.result import AnalysisResult
from siyu.cli.common import JsonOpt, fail, open_client, out, print_json
from siyu.profiles.views import LookupError_
from siyu.warehouse.store import WarehouseBusy

analytics_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py

CsvOpt = Annotated[bool, typer.Option("--csv", help="Print the main table as CSV. 输出 CSV 表格。")]
FromOpt = Annotated[date | None, typer.Option("--from", help="First day (YYYY-MM-DD). 开始日期。")]
ToOpt = Annotated[
    date | None, typer.Option("--to", help="Last day, inclusive (YYYY-MM-DD). 结束日期（含）。")
]

#: Errors a user can fix (bad parameters, a busy warehouse); anything else keeps its traceback.
USER_ERRORS = (AnalyticsError, LookupError_, WarehouseBusy, ValueError)


def run(kind: str, params: dict[str, Any]) -> AnalysisResult:
    """Run an analysis through the Python API; user errors end the command with their message."""
    clean = {k: v for k, v in params.items() if v is not None}
    with open_client() as client:
        try:
            return client.analytics.run(kind, clean)
        except USER_ERRORS as exc:
            raise fail(str(exc)) from exc


def emit(result: AnalysisResult, as_json: bool, as_csv: bool) -> None:
    """Print a result: ``--json`` payload, ``--csv`` main table, else a rich table with units
    (¥, %, durations; see ``table``)."""
    if as_json:
        print_json(result.to_dict())
    elif as_csv:
        sys.stdout.write(result.to_csv())
    else:
        from siyu.cli.analytics.table import result_table

        table = result_table(result)
        if out.is_terminal:
            out.print(table)
            return
        # Never cut a value short ("me…"): piped output (80 columns) is as wide as the table.
        wide = Measurement.get(out, out.options.update(width=10_000), table).maximum
        Console(width=max(out.width, wide), markup=False, highlight=False).print(table)


def run_and_emit(kind: str, params: dict[str, Any], as_json: bool, as_csv: bool) -> None:
    emit(run(kind, params), as_json, as_csv)


__all__ = ["CsvOpt", "FromOpt", "JsonOpt", "ToOpt", "analytics_app", "emit", "run", "run_and_emit"]


def _register() -> None:
    """Import the command modules (each adds its commands to ``analytics_app``)."""
    from siyu.cli.analytics import (  # noqa: F401
        activity,
        attribution,
        economics,
        funnels,
        loyalty,
        value,
    )


_register()
