"""`siyu coupons …`: coupon campaigns (templates), codes, issuing, validating and redeeming, a
contact's coupons, the funnel, the abuse report and the expiry job. Dates are read in the brand's
time zone; ``--json`` prints what scripts read."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.coupons.errors import CouponError
from siyu.i18n import language
from siyu.profiles.views import LookupError_

coupons_app = typer.Typer(help="Coupons: campaigns, codes, redemption. 优惠券。", no_args_is_help=True)
templates_app = typer.Typer(help="Coupon campaigns (templates). 优惠券活动（券模板）。", no_args_is_help=True)
coupons_app.add_typer(templates_app, name="templates")

TEXTS: dict[str, tuple[str, str]] = {
    "saved": ("已保存券模板 {key}", "Saved coupon template {key}"),
    "status": ("券模板 {key} 现为 {status}", "Coupon template {key} is now {status}"),
    "generated": ("已生成 {n} 个券码", "Generated {n} codes"),
    "written": ("券码已写入 {path}", "Codes written to {path}"),
    "imported": ("已导入 {n} 个券码，{e} 行有问题", "Imported {n} codes; {e} rows had problems"),
    "row": ("第 {row} 行 {code}：{reason}", "row {row} {code}: {reason}"),
    "issued": ("已发券 {code}，有效期至 {until}", "Issued {code}, valid until {until}"),
    "held_out": ("该联系人在对照组中，未发券", "The contact is in the holdout: no coupon issued"),
    "ok": ("可用，优惠 ¥{discount}", "OK: ¥{discount} off"),
    "refused": ("不可用：{reason}", "Refused: {reason}"),
    "expired": ("已将 {n} 张券标记为过期", "Marked {n} coupons expired"),
    "none": ("无", "none"),
    "bad_time": (
        "{option}：无法识别时间 {value!r}（格式 YYYY-MM-DD 或 YYYY-MM-DD HH:MM）",
        "{option}: cannot read {value!r} as a time (YYYY-MM-DD or YYYY-MM-DD HH:MM)",
    ),
}


def _t(key: str, **params: Any) -> str:
    zh, en = TEXTS[key]
    return (zh if language() == "zh" else en).format(**params)


def _when(option: str, value: str | None, zone: str, *, end: bool = False) -> datetime | None:
    """A time in the brand's zone; a bare date is the start of that day (``end``: of the next,
    so ``--valid-until 2026-06-30`` keeps the coupon valid all of the 30th)."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise fail(_t("bad_time", option=option, value=value), 2) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
    if end and len(value.strip()) == 10:
        parsed += timedelta(days=1)
    return parsed


def _refuse(exc: Exception) -> typer.Exit:
    code = 1 if isinstance(exc, LookupError_) else 2
    return fail(str(exc), code)


Opt = typer.Option
TemplateOptions = dict[str, Any]


@templates_app.command("list")
def list_templates(
    status: Annotated[str | None, Opt("--status", help="active, paused or ended. 按状态筛选。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The coupon campaigns. 列出券模板。"""
    with open_client() as c:
        rows = c.coupons.templates(status=status)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["key", "name", "kind", "amount", "status", "issued", "spent"],
        [[r["key"], r["name"], r["kind"], r["amount"], r["status"], r["issued"], r["spent"]] for r in rows],
    )


def _fields(zone: str, **given: Any) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        if name == "valid_from":
            value = _when("--valid-from", value, zone)
        elif name == "valid_until":
            value = _when("--valid-until", value, zone, end=True)
        elif name in ("channels", "products") and value == ["-"]:
            value = []
        data[name] = value
    return data


NameOpt = Annotated[str | None, Opt("--name", help="Name operators see. 活动名称。")]
KindOpt = Annotated[
    str | None, Opt("--kind", help="fixed, percent, threshold (满减) or free_shipping. 券类型。")
]
AmountOpt = Annotated[
    str | None, Opt("--amount", help="¥ off, or % off for percent. 面额（元）或折扣百分比。")
]
MinOpt = Annotated[str | None, Opt("--min-order", help="Minimum order in ¥. 最低订单金额（元）。")]
MaxOpt = Annotated[str | None, Opt("--max-discount", help="Cap of a percent discount in ¥. 最高优惠（元）。")]
FromOpt = Annotated[str | None, Opt("--valid-from", help="Valid from (brand time). 生效时间。")]
UntilOpt = Annotated[
    str | None, Opt("--valid-until", help="Valid until; a date includes that whole day. 截止日期（含当天）。")
]
DaysOpt = Annotated[int | None, Opt("--valid-days", help="Valid N days after issue. 领取后 N 天有效。")]
ChannelOpt = Annotated[
    list[str] | None,
    Opt("--channel", help="Channel key it is limited to, repeatable; '-' clears. 限定渠道。"),
]
ProductOpt = Annotated[
    list[str] | None, Opt("--product", help="Product id it is limited to, repeatable; '-' clears. 限定商品。")
]
PerOpt = Annotated[int | None, Opt("--per-customer", help="Redemptions per customer. 每人限用次数。")]
BudgetOpt = Annotated[str | None, Opt("--budget", help="Total discount budget in ¥. 优惠总预算（元）。")]
LimitOpt = Annotated[int | None, Opt("--issue-limit", help="Coupons issued at most. 发放上限。")]
HoldoutOpt = Annotated[int | None, Opt("--holdout", help="% of contacts held out (0–90). 对照组比例。")]
RefundOpt = Annotated[
    str | None, Opt("--refund-rule", help="restore or void: the coupon of a refunded order. 退款后券的处理。")
]
PrefixOpt = Annotated[str | None, Opt("--prefix", help="Code prefix (letters, digits). 券码前缀。")]


@templates_app.command("add")
def add_template(
    key: Annotated[str, typer.Argument(help="Key (lower case, digits, - _). 模板标识。")],
    name: NameOpt = None,
    kind: KindOpt = None,
    amount: AmountOpt = None,
    min_order: MinOpt = None,
    max_discount: MaxOpt = None,
    valid_from: FromOpt = None,
    valid_until: UntilOpt = None,
    valid_days: DaysOpt = None,
    channel: ChannelOpt = None,
    product: ProductOpt = None,
    per_customer: PerOpt = None,
    budget: BudgetOpt = None,
    issue_limit: LimitOpt = None,
    holdout: HoldoutOpt = None,
    refund_rule: RefundOpt = None,
    prefix: PrefixOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a coupon campaign. 新建券模板。"""
    with open_client() as c:
        data = _fields(
            c.ctx.timezone(),
            key=key,
            name=name,
            kind=kind,
            amount=amount,
            min_order=min_order,
            max_discount=max_discount,
            valid_from=valid_from,
            valid_until=valid_until,
            valid_days=valid_days,
            channels=channel,
            products=product,
            per_customer=per_customer,
            budget=budget,
            issue_limit=issue_limit,
            holdout_percent=holdout,
            refund_rule=refund_rule,
            code_prefix=prefix,
        )
        try:
            row = c.coupons.create_template(**data)
        except CouponError as exc:
            raise _refuse(exc) from exc
    print_json(row) if as_json else out.print(_t("saved", key=key))


@templates_app.command("update")
def update_template(
    key: Annotated[str, typer.Argument(help="Template key. 模板标识。")],
    name: NameOpt = None,
    kind: KindOpt = None,
    amount: AmountOpt = None,
    min_order: MinOpt = None,
    max_discount: MaxOpt = None,
    valid_from: FromOpt = None,
    valid_until: UntilOpt = None,
    valid_days: DaysOpt = None,
    channel: ChannelOpt = None,
    product: ProductOpt = None,
    per_customer: PerOpt = None,
    budget: BudgetOpt = None,
    issue_limit: LimitOpt = None,
    holdout: HoldoutOpt = None,
    refund_rule: RefundOpt = None,
    prefix: PrefixOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change the fields given; the others stay. 修改券模板（未给出的不变）。"""
    with open_client() as c:
        data = _fields(
            c.ctx.timezone(),
            name=name,
            kind=kind,
            amount=amount,
            min_order=min_order,
            max_discount=max_discount,
            valid_from=valid_from,
            valid_until=valid_until,
            valid_days=valid_days,
            channels=channel,
            products=product,
            per_customer=per_customer,
            budget=budget,
            issue_limit=issue_limit,
            holdout_percent=holdout,
            refund_rule=refund_rule,
            code_prefix=prefix,
        )
        try:
            row = c.coupons.update_template(key, **data)
        except CouponError as exc:
            raise _refuse(exc) from exc
    print_json(row) if as_json else out.print(_t("saved", key=key))


def _set_status(key: str, status: str, as_json: bool) -> None:
    with open_client() as c:
        try:
            row = c.coupons.set_status(key, status)
        except CouponError as exc:
            raise _refuse(exc) from exc
    print_json(row) if as_json else out.print(_t("status", key=key, status=status))


KeyArg = Annotated[str, typer.Argument(help="Template key. 模板标识。")]


@templates_app.command("pause")
def pause(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Stop issuing and redeeming for now. 暂停（停止发放与核销）。"""
    _set_status(key, "paused", as_json)


@templates_app.command("resume")
def resume(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Issue and redeem again. 恢复。"""
    _set_status(key, "active", as_json)


@templates_app.command("end")
def end(key: KeyArg, as_json: JsonOpt = False) -> None:
    """End the campaign. 结束活动。"""
    _set_status(key, "ended", as_json)


@coupons_app.command("generate")
def generate(
    key: KeyArg,
    count: Annotated[int, typer.Argument(help="How many codes. 数量。")],
    length: Annotated[int, Opt("--length", help="Random characters per code (6–32). 券码长度。")] = 10,
    output: Annotated[Path | None, Opt("--output", help="Write the codes to this file. 写入文件。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate unique codes (no 0/O/1/I) for later issues. 批量生成券码。"""
    with open_client() as c:
        try:
            made = c.coupons.generate(key, count, length=length)
        except CouponError as exc:
            raise _refuse(exc) from exc
    if output is not None:
        output.write_text("code\n" + "\n".join(made) + "\n", encoding="utf-8")
    if as_json:
        print_json({"count": len(made), "codes": made if output is None else [], "output": str(output or "")})
        return
    out.print(_t("generated", n=len(made)))
    if output is not None:
        out.print(_t("written", path=output))


@coupons_app.command("import-codes")
def import_codes(
    key: KeyArg,
    path: Annotated[
        Path, typer.Argument(help="CSV file (a 'code' column, or codes in the first). CSV 文件。")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Import codes from a CSV; bad rows are reported, the rest kept. 导入券码。"""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{path}: {exc}", 2) from exc
    with open_client() as c:
        try:
            report = c.coupons.import_codes(key, text)
        except CouponError as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json(report)
        return
    out.print(_t("imported", n=report["added"], e=len(report["errors"])))
    for e in report["errors"][:50]:
        out.print(_t("row", **e))


@coupons_app.command("issue")
def issue(
    key: KeyArg,
    identifier: Annotated[str, typer.Argument(help="Contact: id:N, phone, email or type:value. 联系人。")],
    external_id: Annotated[
        str | None, Opt("--external-id", help="Idempotency key: a repeat issues nothing. 幂等键。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a coupon to one contact. 给联系人发券。"""
    with open_client() as c:
        try:
            coupon = c.coupons.issue(key, identifier, issued_by="manual", external_id=external_id)
        except (CouponError, LookupError_) as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json({"issued": coupon is not None, "coupon": coupon})
    elif coupon is None:
        out.print(_t("held_out"))
    else:
        out.print(_t("issued", code=coupon["code"], until=coupon["expires_at"] or _t("none")))


OrderIdOpt = Annotated[str, Opt("--order-id", help="The shop's order id. 订单号。")]
SourceOpt = Annotated[str, Opt("--source", help="Channel key of the order. 订单来源渠道。")]
OrderAmountOpt = Annotated[
    str | None,
    Opt("--amount", help="Order amount in ¥ before the coupon (default: the booked order's). 订单金额。"),
]
ContactOpt = Annotated[str | None, Opt("--contact", help="Who orders (identifier). 下单联系人。")]
OrderChannelOpt = Annotated[str | None, Opt("--channel", help="Channel, when not the source. 下单渠道。")]
OrderProductOpt = Annotated[
    list[str] | None, Opt("--product", help="Product id on the order, repeatable. 商品。")
]
ShippingOpt = Annotated[str | None, Opt("--shipping", help="Shipping fee in ¥. 运费（元）。")]
DeviceOpt = Annotated[str | None, Opt("--device", help="Device id of the order. 下单设备。")]


def _check(
    redeem: bool,
    code: str,
    order_id: str,
    source: str,
    amount: str | None,
    contact: str | None,
    channel: str | None,
    product: list[str] | None,
    shipping: str | None,
    device: str | None,
    as_json: bool,
) -> None:
    with open_client() as c:
        call = c.coupons.redeem if redeem else c.coupons.validate
        extra: dict[str, Any] = {"channel": channel, "products": product or [], "shipping": shipping}
        if redeem:
            extra["device"] = device
        try:
            result = call(code, order_id, source=source, amount=amount, contact=contact, **extra)
        except (CouponError, LookupError_, ArithmeticError) as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json(result)
    elif result["ok"]:
        out.print(_t("ok", discount=result["discount"]))
    else:
        out.print(_t("refused", reason=result["reason"]))
    if not result["ok"]:
        raise typer.Exit(1)


CodeArg = Annotated[str, typer.Argument(help="The coupon code. 券码。")]


@coupons_app.command("validate")
def validate(
    code: CodeArg,
    order_id: OrderIdOpt,
    source: SourceOpt = "api",
    amount: OrderAmountOpt = None,
    contact: ContactOpt = None,
    channel: OrderChannelOpt = None,
    product: OrderProductOpt = None,
    shipping: ShippingOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Would the code work on the order? Changes nothing; exit 1 when refused. 校验券码。"""
    _check(False, code, order_id, source, amount, contact, channel, product, shipping, None, as_json)


@coupons_app.command("redeem")
def redeem(
    code: CodeArg,
    order_id: OrderIdOpt,
    source: SourceOpt = "api",
    amount: OrderAmountOpt = None,
    contact: ContactOpt = None,
    channel: OrderChannelOpt = None,
    product: OrderProductOpt = None,
    shipping: ShippingOpt = None,
    device: DeviceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Redeem (核销) the code on the order; the same order again returns the first result, another
    order is refused (already_redeemed). Exit 1 when refused. 核销券码。"""
    _check(True, code, order_id, source, amount, contact, channel, product, shipping, device, as_json)


@coupons_app.command("held")
def held(
    identifier: Annotated[str, typer.Argument(help="Contact: id:N, phone, email or type:value. 联系人。")],
    as_json: JsonOpt = False,
) -> None:
    """The coupons a contact can use. 联系人持有的可用券。"""
    with open_client() as c:
        try:
            rows = c.coupons.held(identifier)
        except LookupError_ as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json(rows)
        return
    print_table(
        ["code", "template", "expires_at"], [[r["code"], r["template"], r["expires_at"]] for r in rows]
    )


@coupons_app.command("funnel")
def funnel(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Issued → redeemed, discount, GMV and incremental GMV against the holdout. 券漏斗。"""
    with open_client() as c:
        try:
            data = c.coupons.funnel(key)
        except CouponError as exc:
            raise _refuse(exc) from exc
    if as_json:
        print_json(data)
        return
    print_table(["figure", "value"], [[k, v] for k, v in data.items()])


@coupons_app.command("abuse")
def abuse(
    days: Annotated[int, Opt("--days", help="Look back this many days. 回看天数。")] = 30,
    accounts: Annotated[int, Opt("--accounts", help="Contacts on one device to flag it. 同设备账号数。")] = 3,
    burst: Annotated[int, Opt("--burst", help="Redemptions within the window to flag. 短时核销次数。")] = 10,
    burst_minutes: Annotated[
        int, Opt("--burst-minutes", help="The window in minutes. 时间窗（分钟）。")
    ] = 60,
    as_json: JsonOpt = False,
) -> None:
    """Abuse signals (薅羊毛): shared devices, bursts, code guessing, refunds. 薅羊毛风险。"""
    with open_client() as c:
        rows = c.coupons.abuse(days=days, accounts=accounts, burst=burst, burst_minutes=burst_minutes)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["reason", "kind", "subject", "count", "contacts", "last_at"],
        [[r["reason"], r["kind"], r["subject"], r["count"], len(r["contacts"]), r["last_at"]] for r in rows],
    )


@coupons_app.command("expire")
def expire(as_json: JsonOpt = False) -> None:
    """Mark coupons past their end expired (also run by `siyu serve`). 过期处理。"""
    with open_client() as c:
        data = c.coupons.expire()
    print_json(data) if as_json else out.print(_t("expired", n=data["expired"]))
