"""`siyu analytics rfm` and `siyu analytics clv`: customer value on the command line.

``clv --transactions FILE`` reads a CSV (header ``customer_id,date,amount``) into the ``clv``
parameters as text and lets the parameter model validate it, so the file, the Python API and the
REST API reject the same rows with the same messages; the message names the file line as well as
the parameter path (``transactions[3].amount``).
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.analytics.base import AnalyticsError
from siyu.analytics.result import AnalysisResult
from siyu.cli.analytics.app import USER_ERRORS, CsvOpt, JsonOpt, analytics_app, emit, run
from siyu.cli.common import fail, open_client, out, print_table

COLUMNS = ("customer_id", "date", "amount")
ROW = re.compile(r"^transactions\[(\d+)\]")

UnitOpt = Annotated[
    str, typer.Option("--time-unit", help="day, week or month. 时间单位：day、week 或 month。")
]


def read_transactions(path: Path) -> list[dict[str, Any]]:
    """The CSV's rows as text values (the parameter model parses and checks them)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise fail(
                    f"{path}: missing column(s) {', '.join(missing)}; the header must be {','.join(COLUMNS)}"
                )
            reader.fieldnames = header
            return [{c: (row.get(c) or "").strip() for c in COLUMNS} for row in reader]
    except OSError as exc:
        raise fail(f"{path}: {exc.strerror or exc}") from exc


def _with_line(exc: Exception, path: Path) -> str:
    """``transactions[i]…`` errors also name the file line (header is line 1)."""
    if isinstance(exc, AnalyticsError):
        match = ROW.match(exc.field)
        if match:
            return f"{path} line {int(match.group(1)) + 2}: {exc}"
    return str(exc)


def _run_file(params: dict[str, Any], path: Path) -> AnalysisResult:
    clean = {k: v for k, v in params.items() if v is not None}
    with open_client() as client:
        try:
            return client.analytics.run("clv", clean)
        except USER_ERRORS as exc:
            raise fail(_with_line(exc, path)) from exc


@analytics_app.command("rfm")
def rfm(
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", help="Orders up to this day (default: the last order day). 截止日期（含）。"),
    ] = None,
    time_unit: UnitOpt = "day",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Per-contact purchase summary: frequency, recency, T, monetary, orders, revenue, RFM segment.
    每位联系人的购买摘要（频次、最近购买、观察期、客单价、RFM 分层）。"""
    params = {"as_of": as_of.isoformat() if as_of else None, "time_unit": time_unit}
    emit(run("rfm", params), as_json, as_csv)


@analytics_app.command("clv")
def clv(
    transactions: Annotated[
        Path | None,
        typer.Option(
            "--transactions",
            help="CSV file with customer_id,date,amount (default: the warehouse's orders). "
            "交易 CSV 文件（默认读取数据仓库中的订单）。",
        ),
    ] = None,
    calibration_end: Annotated[
        date | None,
        typer.Option(
            "--calibration-end",
            help="Last day of the calibration period (default: last purchase day). 校准期最后一天。",
        ),
    ] = None,
    holdout_end: Annotated[
        date | None,
        typer.Option(
            "--holdout-end",
            help="Last day of the holdout period (default: last purchase day). 验证期最后一天。",
        ),
    ] = None,
    time_unit: UnitOpt = "week",
    horizon: Annotated[
        int | None,
        typer.Option(
            "--horizon", help="CLV horizon in time units (default: one year). 预测期长度（时间单位数）。"
        ),
    ] = None,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Annual discount rate. 年折现率。")
    ] = 0.1,
    model: Annotated[
        str, typer.Option("--model", help="bgnbd or pareto-nbd. 购买模型：bgnbd 或 pareto-nbd。")
    ] = "bgnbd",
    top: Annotated[int, typer.Option("--top", help="Customers listed by CLV. 列出 CLV 最高的客户数。")] = 10,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Fit BG/NBD (or Pareto/NBD) and Gamma-Gamma; expected purchases, P(alive) and CLV per customer.
    拟合 BG/NBD（或 Pareto/NBD）与 Gamma-Gamma 模型，计算每位客户的预期购买、存活概率与生命周期价值。"""
    params: dict[str, Any] = {
        "calibration_end": calibration_end.isoformat() if calibration_end else None,
        "holdout_end": holdout_end.isoformat() if holdout_end else None,
        "time_unit": time_unit,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "model": model,
        "top": top,
    }
    if transactions is None:
        result = run("clv", params)
    else:
        params["transactions"] = read_transactions(transactions)
        result = _run_file(params, transactions)
    if as_json or as_csv:
        emit(result, as_json, as_csv)
    else:
        _print_clv(result.to_dict())


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _print_clv(doc: dict[str, Any]) -> None:
    """Parameters, the holdout check and the top customers, for a person reading a terminal."""
    out.print(
        f"BG/NBD r={_number(doc['r'])} alpha={_number(doc['alpha'])} a={_number(doc['a'])} "
        f"b={_number(doc['b'])} (log-likelihood {_number(doc['bgnbd_log_likelihood'])})"
    )
    out.print(f"Gamma-Gamma p={_number(doc['p'])} q={_number(doc['q'])} v={_number(doc['v'])}")
    if doc["pareto_nbd"]:
        pn = doc["pareto_nbd"]
        out.print(
            f"Pareto/NBD r={_number(pn['r'])} alpha={_number(pn['alpha'])} "
            f"s={_number(pn['s'])} beta={_number(pn['beta'])}"
        )
    holdout = doc["holdout"]
    if holdout:
        out.print(
            f"Holdout {holdout['start']}..{holdout['end']}: actual {_number(holdout['actual'])}, "
            f"predicted {_number(holdout['predicted'])}, MAE {_number(holdout['mae'])}"
        )
    columns = list(doc["top"][0]) if doc["top"] else []
    print_table(columns, [[_number(row[c]) for c in columns] for row in doc["top"]])
