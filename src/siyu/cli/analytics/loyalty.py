"""`siyu analytics member-repurchase | points-liability | tiers | coupons`: the loyalty, coupon
and order analyses (read-only; they read the system of record, so they run while `siyu serve`
holds the warehouse)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.cli.analytics.app import CsvOpt, FromOpt, JsonOpt, ToOpt, analytics_app, emit, run
from siyu.i18n import language

CurrencyOpt = Annotated[str, typer.Option("--currency", help="Orders in this currency. 订单币种。")]
ChartOpt = Annotated[
    Path | None,
    typer.Option(
        "--chart",
        help="Also write the chart to this HTML file (opens offline, in the CLI's language). "
        "同时把图表写入此 HTML 文件（离线可打开）。",
    ),
]


def run_and_emit(
    kind: str, params: dict[str, Any], as_json: bool, as_csv: bool, chart: Path | None = None
) -> None:
    """Run, print, and with ``--chart`` write the chart (plotly.js inside: no network needed)."""
    result = run(kind, params)
    emit(result, as_json, as_csv)
    if chart is not None:
        result.figure(lang=language()).write_html(chart, include_plotlyjs=True)  # type: ignore[call-arg]


@analytics_app.command("member-repurchase")
def member_repurchase(
    from_: FromOpt = None,
    to: ToOpt = None,
    currency: CurrencyOpt = "CNY",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Members vs non-members: repurchase rate and AOV (default: the last 365 days).
    会员与非会员的复购率与客单价（默认最近 365 天）。"""
    run_and_emit("member_repurchase", {"from": from_, "to": to, "currency": currency}, as_json, as_csv, chart)


@analytics_app.command("points-liability")
def points_liability(
    from_: FromOpt = None,
    to: ToOpt = None,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Points liability (outstanding × point value, by month of expiry) and breakage.
    积分负债（未用积分 × 积分价值，按到期月份）与沉淀率。"""
    run_and_emit("points_liability", {"from": from_, "to": to}, as_json, as_csv, chart)


@analytics_app.command("tiers")
def tiers(
    from_: FromOpt = None,
    to: ToOpt = None,
    table: Annotated[
        str,
        typer.Option(
            "--table",
            help="Main table (CSV / rows): distribution or migration. "
            "主表：distribution 分布 或 migration 迁移矩阵。",
        ),
    ] = "distribution",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Members per tier now and the tier migration matrix (default: the last 90 days).
    当前各等级会员数与期初 → 期末的等级迁移矩阵（默认最近 90 天）。"""
    run_and_emit("tiers", {"from": from_, "to": to, "table": table}, as_json, as_csv, chart)


@analytics_app.command("coupons")
def coupons(
    from_: FromOpt = None,
    to: ToOpt = None,
    template: Annotated[
        str | None, typer.Option("--template", help="One coupon template (key). 仅此券模板。")
    ] = None,
    currency: CurrencyOpt = "CNY",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    chart: ChartOpt = None,
) -> None:
    """Coupon funnel per template: issued → redeemed, discount, incremental GMV and ROI.
    各券模板的发放 → 核销漏斗、优惠金额、相对留出组的增量成交额与 ROI。"""
    params = {"from": from_, "to": to, "template": template, "currency": currency}
    run_and_emit("coupons", params, as_json, as_csv, chart)
