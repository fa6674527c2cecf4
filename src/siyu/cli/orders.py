"""`siyu orders …`: orders (list, show, import, refund, summary, report, problems) and
`siyu orders subscriptions …` (周期购 plans, subscriptions and the renewal job)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.client import Siyu
from siyu.commerce.report import report_rows
from siyu.commerce.schemas import CommerceError
from siyu.profiles.views import LookupError_

orders_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
subscriptions_app = typer.Typer(
    help="Subscriptions (周期购): plans, subscribers, renewals. 周期购。", no_args_is_help=True
)
orders_app.add_typer(subscriptions_app, name="subscriptions")

SourceArg = Annotated[
    str, typer.Argument(help="The channel key the order was placed on (taobao, youzan …). 渠道。")
]
OrderArg = Annotated[str, typer.Argument(help="The shop's order id. 订单号。")]
ContactArg = Annotated[str, typer.Argument(help="phone, email, type:value or id:N. 客户标识。")]
SubArg = Annotated[int, typer.Argument(help="Subscription id. 周期购编号。")]


@contextmanager
def client() -> Iterator[Siyu]:
    with open_client() as c:
        try:
            yield c
        except (CommerceError, LookupError_) as exc:
            raise fail(str(exc)) from exc


def _show(data: Any, as_json: bool, columns: list[str], rows: list[list[Any]]) -> None:
    if as_json:
        print_json(data)
    else:
        print_table(columns, rows)


# --- orders -----------------------------------------------------------------------------------------
@orders_app.command("list")
def orders_list(
    contact: Annotated[str | None, typer.Option(help="Only this customer's orders. 只看某客户。")] = None,
    source: Annotated[str | None, typer.Option(help="Only this channel. 只看某渠道。")] = None,
    status: Annotated[
        str | None, typer.Option(help="completed, partially_refunded or refunded. 订单状态。")
    ] = None,
    staff: Annotated[
        str | None, typer.Option(help="Only orders credited to this staff userid. 导购。")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Ordered at or after (UTC unless an offset). 起始时间。")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="Ordered before. 截止时间。")] = None,
    limit: Annotated[int, typer.Option(help="Orders shown. 显示条数。")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Orders, newest first. 订单列表（最新在前）。"""
    with client() as c:
        data = c.orders.list(
            contact=contact, source=source, status=status, staff=staff, since=since, until=until, limit=limit
        )
    rows = [
        [
            o["ordered_at"][:19],
            o["source"],
            o["order_id"],
            o["contact_id"],
            f"¥{o['total']}",
            f"¥{o['refunded']}",
            o["status"],
            o["staff"],
        ]
        for o in data["orders"]
    ]
    _show(
        data,
        as_json,
        ["ordered_at", "source", "order_id", "contact", "total", "refunded", "status", "staff"],
        rows,
    )


@orders_app.command("show")
def orders_show(source: SourceArg, order_id: OrderArg, as_json: JsonOpt = False) -> None:
    """One order with its products and refunds. 订单详情。"""
    with client() as c:
        data = c.orders.show(source, order_id)
    if as_json:
        print_json(data)
        return
    print_table(["field", "value"], [[k, v] for k, v in data.items() if k not in ("products", "refunds")])
    if data["products"]:
        print_table(
            ["product_id", "name", "price", "quantity", "refunded"],
            [
                [p["product_id"], p["name"], p["price"], p["quantity"], p["refunded_quantity"]]
                for p in data["products"]
            ],
        )
    if data["refunds"]:
        print_table(
            ["refund_id", "amount", "reason", "refunded_at"],
            [[r["refund_id"], r["amount"], r["reason"], r["refunded_at"]] for r in data["refunds"]],
        )


@orders_app.command("import")
def orders_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: one row per order line (see docs/orders.md). 订单 CSV。", exists=True, dir_okay=False
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Book the orders of a CSV file; errors by row and field, valid rows kept. 导入订单。"""
    with client() as c:
        data = c.orders.import_csv(file)
    if as_json:
        print_json(data)
        return
    counts = ("rows", "orders", "booked", "duplicates")
    out.print(" · ".join(f"{k} {data[k]}" for k in counts))
    if data["errors"]:
        print_table(
            ["row", "field", "message"], [[e["row"], e["field"], e["message"]] for e in data["errors"]]
        )


@orders_app.command("refund")
def orders_refund(
    source: SourceArg,
    order_id: OrderArg,
    amount: Annotated[
        str | None, typer.Option(help="Yuan; omitted: what is left of the order. 退款金额。")
    ] = None,
    refund_id: Annotated[
        str | None, typer.Option(help="The shop's refund id; a repeat changes nothing. 退款单号。")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (shown on the order). 退款原因。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Refund an order in whole or in part. 订单退款（全部或部分）。"""
    with client() as c:
        data = c.orders.refund(
            source, order_id, amount=amount, refund_id=refund_id, reason=reason, actor="cli"
        )
    if as_json:
        print_json(data)
        return
    o = data["order"]
    out.print(f"{o['source']}/{o['order_id']}: {o['status']} · refunded ¥{o['refunded']} of ¥{o['total']}")


@orders_app.command("summary")
def orders_summary(contact: ContactArg, as_json: JsonOpt = False) -> None:
    """A customer's lifetime spend, orders, AOV and last order. 客户消费概览。"""
    with client() as c:
        data = c.orders.summary(contact)
    rows = [
        [k, data[k]]
        for k in ("contact_id", "spend", "orders", "aov", "refunded", "first_order_at", "last_order_at")
    ]
    _show(data, as_json, ["field", "value"], rows)


@orders_app.command("report")
def orders_report(
    since: Annotated[datetime, typer.Option(help="First day (YYYY-MM-DD, brand's time zone). 起始日。")],
    until: Annotated[datetime, typer.Option(help="Last day, included. 截止日（含）。")],
    csv_out: Annotated[bool, typer.Option("--csv", help="Print CSV. 输出 CSV。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """GMV, net, AOV and repurchase rate overall, by channel and by staff. 订单分析：GMV、客单价、复购率。"""
    with client() as c:
        data = c.orders.report(_day(since), _day(until))
    table = report_rows(data)
    if csv_out and not as_json:
        csv.writer(sys.stdout).writerows(table)
        return
    _show(data, as_json, table[0], table[1:])


def _day(value: datetime) -> date:
    return value.date()


@orders_app.command("backfill")
def orders_backfill(
    after_id: Annotated[int, typer.Option(help="Start after this event id. 从此事件编号之后开始。")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Book order events stored before orders were booked; running it again books nothing twice.
    补录历史订单事件。"""
    with client() as c:
        data = c.orders.backfill(after_id)
    _show(data, as_json, ["field", "value"], [[k, v] for k, v in data.items()])


@orders_app.command("problems")
def orders_problems(
    limit: Annotated[int, typer.Option(help="Problems shown. 显示条数。")] = 100, as_json: JsonOpt = False
) -> None:
    """Order events and rows that could not be booked, newest first. 未入账的订单事件。"""
    with client() as c:
        data = c.orders.problems(limit)
    rows = [
        [p["at"][:19], p["event"], p["source"], p["order_id"], p["field"], p["message"]]
        for p in data["problems"]
    ]
    _show(data, as_json, ["at", "event", "source", "order_id", "field", "message"], rows)


# --- subscriptions ------------------------------------------------------------------------------------
def _sub_rows(subs: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [x["id"], x["contact_id"], x["plan"], x["status"], x["renewals"], x["next_renewal_at"]] for x in subs
    ]


SUB_COLUMNS = ["id", "contact", "plan", "status", "renewals", "next_renewal_at"]


@subscriptions_app.command("plans")
def plans(as_json: JsonOpt = False) -> None:
    """Subscription plans with subscribers by status. 周期购计划。"""
    with client() as c:
        data = c.orders.subscriptions.plans()
    rows = [
        [
            p["key"],
            p["name"],
            p["price"],
            p["interval_days"],
            p["periods"],
            p["active"],
            p["subscriptions"]["active"],
        ]
        for p in data
    ]
    _show(data, as_json, ["key", "name", "price", "interval_days", "periods", "active", "subscribers"], rows)


@subscriptions_app.command("create-plan")
def create_plan(
    key: Annotated[str, typer.Argument(help="Plan key (a-z, 0-9, _ -). 计划键。")],
    name: Annotated[str, typer.Option(help="Display name. 名称。")],
    price: Annotated[str, typer.Option(help="Price of one delivery in yuan. 每期价格。")],
    interval_days: Annotated[int, typer.Option(help="Days between deliveries. 配送间隔天数。")],
    periods: Annotated[
        int | None, typer.Option(help="Deliveries in all (default: until cancelled). 总期数。")
    ] = None,
    remind_days: Annotated[
        int, typer.Option(help="Remind this many days before each renewal. 提前提醒天数。")
    ] = 3,
    source: Annotated[str, typer.Option(help="Channel the plan is sold on. 销售渠道。")] = "mini_program",
    product_id: Annotated[str | None, typer.Option(help="The product delivered. 商品编号。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a subscription plan. 新建周期购计划。"""
    with client() as c:
        data = c.orders.subscriptions.create_plan(
            key,
            name,
            price,
            interval_days,
            actor="cli",
            periods=periods,
            remind_days=remind_days,
            source=source,
            product_id=product_id,
        )
    _show(data, as_json, ["field", "value"], [[k, v] for k, v in data.items()])


@subscriptions_app.command("list")
def subs_list(
    status: Annotated[
        str | None, typer.Option(help="active, paused, cancelled, ended or failed. 状态。")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Only this plan. 计划。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Subscriptions, newest first. 周期购订阅列表。"""
    with client() as c:
        data = c.orders.subscriptions.list(status=status, plan=plan)
    _show(data, as_json, SUB_COLUMNS, _sub_rows(data))


@subscriptions_app.command("subscribe")
def subscribe(
    contact: ContactArg,
    plan: Annotated[str, typer.Argument(help="Plan key. 计划键。")],
    external_id: Annotated[
        str | None, typer.Option(help="The shop's subscription id (idempotent). 外部编号。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Subscribe a customer to a plan; the first delivery is due now. 为客户开通周期购。"""
    with client() as c:
        data = c.orders.subscriptions.subscribe(contact, plan, external_id=external_id, actor="cli")
    _show(data, as_json, SUB_COLUMNS, _sub_rows([data]))


def _change(verb: str, subscription_id: int, as_json: bool, **kw: Any) -> None:
    with client() as c:
        data = getattr(c.orders.subscriptions, verb)(subscription_id, actor="cli", **kw)
    _show(data, as_json, SUB_COLUMNS, _sub_rows([data]))


@subscriptions_app.command("show")
def subs_show(subscription_id: SubArg, as_json: JsonOpt = False) -> None:
    """One subscription. 查看订阅。"""
    with client() as c:
        data = c.orders.subscriptions.show(subscription_id)
    _show(data, as_json, ["field", "value"], [[k, v] for k, v in data.items()])


@subscriptions_app.command("pause")
def subs_pause(subscription_id: SubArg, as_json: JsonOpt = False) -> None:
    """Pause: no renewals until resumed. 暂停。"""
    _change("pause", subscription_id, as_json)


@subscriptions_app.command("resume")
def subs_resume(subscription_id: SubArg, as_json: JsonOpt = False) -> None:
    """Resume; the next renewal moves by the time paused. 恢复。"""
    _change("resume", subscription_id, as_json)


ReasonOpt = Annotated[str | None, typer.Option(help="Why. 原因。")]


@subscriptions_app.command("cancel")
def subs_cancel(subscription_id: SubArg, reason: ReasonOpt = None, as_json: JsonOpt = False) -> None:
    """Cancel, with a reason. 取消订阅。"""
    _change("cancel", subscription_id, as_json, reason=reason)


@subscriptions_app.command("fail")
def subs_fail(subscription_id: SubArg, reason: ReasonOpt = None, as_json: JsonOpt = False) -> None:
    """Record a failed renewal payment (3 in a row end it). 记录续费扣款失败。"""
    _change("fail", subscription_id, as_json, reason=reason)


@subscriptions_app.command("renew")
def subs_renew(as_json: JsonOpt = False) -> None:
    """Book the due renewals and send the reminders due (siyu serve does it every round). 执行续费。"""
    with client() as c:
        data = c.orders.subscriptions.renew()
    _show(data, as_json, ["field", "value"], [[k, v] for k, v in data.items()])
