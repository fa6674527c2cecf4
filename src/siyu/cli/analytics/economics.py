"""`siyu analytics roi`, `siyu analytics churn` and `siyu analytics spend import|list`.

``roi`` is an ordinary analysis (read-only). ``churn --store`` writes scores, so it goes through
``s.scores.churn`` (its own committing unit of work) instead of the read-only analysis call;
``spend import`` likewise commits the valid rows and reports the rejected ones (exit code 2
when any row was rejected, as ``siyu tags import`` does).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.analytics.churn import ChurnResult
from siyu.analytics.economics.spend import SpendImportError
from siyu.cli.analytics.app import (
    USER_ERRORS,
    CsvOpt,
    FromOpt,
    JsonOpt,
    ToOpt,
    analytics_app,
    emit,
    run,
    run_and_emit,
)
from siyu.cli.common import err, fail, open_client, out, print_json, print_table
from siyu.i18n import t

OrderEventOpt = Annotated[str, typer.Option("--order-event", help="The order event. 订单事件名。")]
AmountOpt = Annotated[
    str, typer.Option("--amount-property", help="Order property with the amount. 订单金额属性。")
]


@analytics_app.command("roi")
def roi(
    from_: FromOpt = None,
    to: ToOpt = None,
    by: Annotated[
        str, typer.Option("--by", help="channel or campaign. 按渠道或按活动（campaign）。")
    ] = "channel",
    horizon_days: Annotated[
        int | None,
        typer.Option(
            "--horizon-days",
            help="Revenue within N days of acquisition (default: up to --to). "
            "获客后 N 天内的收入（默认截至 --to）。",
        ),
    ] = None,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Spend currency, e.g. CNY. 花费币种。")
    ] = None,
    order_event: OrderEventOpt = "Order Completed",
    amount_property: AmountOpt = "amount",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Channel economics: spend, CAC, ROI, LTV/CAC and the acquisition funnel per channel.
    渠道经济：花费、获客成本、ROI、LTV/CAC 与获客漏斗。"""
    params = {
        "from": from_,
        "to": to,
        "by": by,
        "horizon_days": horizon_days,
        "currency": currency,
        "order_event": order_event,
        "amount_property": amount_property,
    }
    run_and_emit("roi", params, as_json, as_csv)


@analytics_app.command("churn")
def churn(
    as_of: Annotated[
        date | None,
        typer.Option(
            "--as-of", help="Scoring day (default: the last event day). 评分日期（默认最后有事件的一天）。"
        ),
    ] = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Churn = no activity in this many days. 流失窗口（天）。")
    ] = 30,
    threshold: Annotated[
        float, typer.Option("--threshold", help="At risk when the score is at least this. 风险阈值。")
    ] = 0.85,
    inactive_days: Annotated[
        int | None,
        typer.Option(
            "--inactive-days", help="Leave out contacts inactive this long. 排除已沉睡超过 N 天的联系人。"
        ),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Contacts listed. 列出的联系人数。")] = 20,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="Save the scores for segments (churn_risk). 保存评分，供人群条件 churn_risk 使用。",
        ),
    ] = False,
    order_event: OrderEventOpt = "Order Completed",
    amount_property: AmountOpt = "amount",
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
) -> None:
    """Churn risk per contact (time-based holdout, AUC), ranked; --store saves the scores.
    流失风险评分（按时间留出验证，报告 AUC），按风险排序；--store 保存评分。"""
    params: dict[str, Any] = {
        "as_of": as_of,
        "horizon_days": horizon_days,
        "threshold": threshold,
        "inactive_days": inactive_days,
        "top": top,
        "order_event": order_event,
        "amount_property": amount_property,
    }
    if store:
        clean = {k: v for k, v in params.items() if v is not None}
        with open_client() as client:
            try:
                result = client.scores.churn(clean, store=True)
            except USER_ERRORS as exc:
                raise fail(str(exc)) from exc
    else:
        result = run("churn", params)  # type: ignore[assignment]
    assert isinstance(result, ChurnResult)
    if as_json or as_csv:
        emit(result, as_json, as_csv)
        return
    info = result.to_dict()
    auc = info["auc"] if info["auc"] is not None else t("churn_no_auc", reason=info["auc_reason"])
    out.print(
        t(
            "churn_summary",
            as_of=info["as_of"],
            at_risk=info["at_risk"],
            scored=info["scored_contacts"],
            threshold=info["threshold"],
            auc=auc,
        )
    )
    if info["stored"] is not None:
        out.print(t("churn_stored", **info["stored"]))
    rows = info["top"]
    columns = ["contact_id", "churn_risk", "recency_days", "orders", "revenue", "events_30"]
    print_table(columns, [[_short(r[c]) for c in columns] for r in rows])


def _short(value: Any) -> Any:
    return round(value, 2) if isinstance(value, float) else value


# --- spend -------------------------------------------------------------------------------------------
spend_app = typer.Typer(
    help="Channel spend for ROI and CAC: import a CSV, list. 渠道投放花费：导入 CSV、查看。",
    no_args_is_help=True,
)
analytics_app.add_typer(spend_app, name="spend")


@spend_app.command("import")
def spend_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: channel,campaign,period_start,period_end,amount[,currency,impressions,clicks]. "
            "花费 CSV。"
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import spend per channel and period; valid rows are stored, bad rows reported.
    导入各渠道各期间的花费；有效行保存，错误行逐行报告。"""
    with open_client() as client:
        try:
            report = client.spend.import_csv(file, actor="cli")
        except SpendImportError as exc:
            raise fail(str(exc)) from exc
    rejected = report["rejected"]
    if as_json:
        print_json(report)
    else:
        counts = {k: report[k] for k in ("rows", "inserted", "updated", "unchanged")}
        out.print(t("spend_imported", **counts, rejected=len(rejected)))
        for r in rejected[:20]:
            err.print(t("rejected_line", line=r["line"], field=r["field"], reason=r["reason"]))
        if len(rejected) > 20:
            err.print(t("more_errors", n=len(rejected) - 20))
    if rejected:
        raise typer.Exit(2)


@spend_app.command("list")
def spend_list(
    channel: Annotated[
        str | None, typer.Option("--channel", help="Only this channel (key or name). 仅此渠道。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Imported spend rows. 已导入的花费。"""
    with open_client() as client:
        rows = client.spend.list(channel)
    if as_json:
        print_json(rows)
    elif not rows:
        out.print(t("spend_none"))
    else:
        columns = [
            "channel",
            "campaign",
            "period_start",
            "period_end",
            "amount",
            "currency",
            "impressions",
            "clicks",
        ]
        print_table(columns, [[r[c] for c in columns] for r in rows])
