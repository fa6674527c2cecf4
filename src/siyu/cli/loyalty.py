"""``siyu loyalty``: membership (开卡), points (balance, award, spend, ledger, verify), the
programme's settings, tiers and the periodic jobs. IDENTIFIER is a phone, an email,
``type:value`` or ``id:N``, like ``siyu contacts show``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Annotated, Any

import typer

from siyu.cli.common import (
    JsonOpt,
    client_refusing,
    emit,
    fail,
    key_values,
    out,
    print_table,
)

loyalty_app = typer.Typer(
    help="Membership and points (会员积分): enrol, balance, award, spend, ledger, verify, tiers. 会员积分。",
    no_args_is_help=True,
)
programme_app = typer.Typer(help="The programme's settings. 积分规则与会员设置。", no_args_is_help=True)
tiers_app = typer.Typer(help="Tiers (会员等级). 会员等级。", no_args_is_help=True)
jobs_app = typer.Typer(help="Release, expiry and tier-review jobs. 积分定时任务。", no_args_is_help=True)
loyalty_app.add_typer(programme_app, name="programme")
loyalty_app.add_typer(tiers_app, name="tiers")
loyalty_app.add_typer(jobs_app, name="jobs")

Ident = Annotated[str, typer.Argument(help="Phone, email, type:value or id:N. 联系人标识。")]
Points = Annotated[int, typer.Argument(help="Points, a positive whole number. 积分数。")]
ExternalId = Annotated[
    str | None,
    typer.Option("--external-id", help="Makes the call idempotent: a repeat changes nothing. 幂等编号。"),
]


def _client() -> AbstractContextManager[Any]:
    """The client; a refused request ends the command with its message (exit 2)."""
    from siyu.coupons.errors import CouponError
    from siyu.loyalty.programme import LoyaltyError
    from siyu.profiles.views import LookupError_

    return client_refusing(LoyaltyError, CouponError, LookupError_)


def _balance_line(b: dict[str, Any]) -> str:
    tier = b.get("tier") or "-"
    return (
        f"active {b['active']}  pending {b['pending']}  spent {b['spent']}  expired {b['expired']}"
        f"  negative {b['negative']}  tier {tier}"
    )


@loyalty_app.command("enrol")
def enrol(
    identifier: Ident,
    source: Annotated[
        str | None, typer.Option("--source", help="Where they enrolled (a channel key). 入会渠道。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol a contact (开卡); they have agreed to the member terms. 开通会员卡。"""
    with _client() as c:
        card = c.loyalty.enrol(identifier, source=source, actor="cli")
    emit(card, as_json, lambda: out.print(f"{card['member']['member_no']}: {_balance_line(card['balance'])}"))


@loyalty_app.command("card")
def card(identifier: Ident, as_json: JsonOpt = False) -> None:
    """A member's card: number, tier, balances, next expiry, tier progress. 会员卡。"""
    with _client() as c:
        data = c.loyalty.member(identifier)

    def text() -> None:
        m = data["member"]
        out.print(
            "not a member" if m is None else f"{m['member_no']} tier {(m['tier'] or {}).get('key', '-')}"
        )
        out.print(_balance_line({**data["balance"], "tier": (m or {}).get("tier") and m["tier"]["key"]}))

    emit(data, as_json, text)


@loyalty_app.command("balance")
def balance(identifier: Ident, as_json: JsonOpt = False) -> None:
    """Points: active, pending, spent, expired, negative, and the tier. 积分余额。"""
    with _client() as c:
        data = c.loyalty.balance(identifier)
    emit(data, as_json, lambda: out.print(_balance_line(data)))


@loyalty_app.command("award")
def award(
    identifier: Ident,
    points: Points,
    reason: Annotated[str, typer.Option("--reason", help="Why, shown in the ledger. 原因。")],
    external_id: ExternalId = None,
    source: Annotated[
        str, typer.Option("--source", help="Earning source (sets the validity). 积分来源。")
    ] = "manual",
    as_json: JsonOpt = False,
) -> None:
    """Award points. 发放积分。"""
    with _client() as c:
        data = c.loyalty.award(
            identifier, points, reason, external_id=external_id, source=source, actor="cli"
        )
    emit(data, as_json, lambda: out.print(f"entry {data['entry']['id']}: {_balance_line(data['balance'])}"))


@loyalty_app.command("spend")
def spend(
    identifier: Ident,
    points: Points,
    external_id: ExternalId = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, shown in the ledger. 原因。")] = "spend",
    as_json: JsonOpt = False,
) -> None:
    """Spend points, earliest expiry first; refused when too few. 使用积分。"""
    with _client() as c:
        data = c.loyalty.spend(identifier, points, reason=reason, external_id=external_id, actor="cli")
    emit(data, as_json, lambda: out.print(f"entry {data['entry']['id']}: {_balance_line(data['balance'])}"))


@loyalty_app.command("ledger")
def ledger(
    identifier: Ident,
    limit: Annotated[int, typer.Option("--limit", help="Rows, newest first. 行数。")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Every points movement, newest first, with each award's expiry. 积分明细。"""
    with _client() as c:
        rows = c.loyalty.ledger(identifier, limit=limit)
    emit(
        rows,
        as_json,
        lambda: print_table(
            ["id", "at", "kind", "points", "left", "status", "reason", "expires"],
            [
                (
                    r["id"],
                    r["created_at"][:16],
                    r["kind"],
                    r["points"],
                    r["remaining"],
                    r["status"],
                    r["reason"],
                    (r["expires_at"] or "")[:10] or None,
                )
                for r in rows
            ],
        ),
    )


@loyalty_app.command("members")
def members(
    tier: Annotated[str | None, typer.Option("--tier", help="Only this tier (its key). 只看该等级。")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Rows, newest first. 行数。")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Members, newest first, with tier and points. 会员列表。"""
    with _client() as c:
        data = c.loyalty.members(tier=tier, limit=limit)
    emit(
        data,
        as_json,
        lambda: print_table(
            ["contact", "member_no", "tier", "active", "pending", "enrolled"],
            [
                (
                    m["contact_id"],
                    m["member_no"],
                    (m["tier"] or {}).get("key"),
                    m["active"],
                    m["pending"],
                    m["enrolled_at"][:10],
                )
                for m in data["members"]
            ],
        ),
    )


@loyalty_app.command("verify")
def verify(as_json: JsonOpt = False) -> None:
    """Prove the ledger: every balance equals its entries (exit 1 when not). 校验积分账本。"""
    with _client() as c:
        report = c.loyalty.verify()
    emit(
        report,
        as_json,
        lambda: out.print(
            f"{'ok' if report['ok'] else 'PROBLEMS'}: {report['members']} members, "
            f"{report['entries']} entries" + "".join(f"\n{p['check']}: {p}" for p in report["problems"])
        ),
    )
    if not report["ok"]:
        raise typer.Exit(1)


# --- programme ---------------------------------------------------------------------------------
@programme_app.command("show")
def programme_show(as_json: JsonOpt = False) -> None:
    """The programme's settings. 查看积分规则。"""
    with _client() as c:
        data = c.loyalty.programme()
    emit(data, as_json, lambda: print_table(["setting", "value"], list(data.items())))


@programme_app.command("set")
def programme_set(
    settings: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE pairs, e.g. pending_days=7 default_validity=1Y "
            'validity_by_source=\'{"signup": "30D"}\'. 设置项。'
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Change settings; all are checked before any applies. 修改积分规则。"""
    with _client() as c:
        data = c.loyalty.set_programme(key_values(settings, parse_float=Decimal), actor="cli")
    emit(data, as_json, lambda: print_table(["setting", "value"], list(data.items())))


# --- tiers -------------------------------------------------------------------------------------
TierName = Annotated[str | None, typer.Option("--name", help="Display name (zh). 等级名称。")]
TierNameEn = Annotated[str | None, typer.Option("--name-en", help="Display name (en). 英文名称。")]
TierRank = Annotated[int | None, typer.Option("--rank", help="Order, 0 lowest; default next. 等级序号。")]
TierThreshold = Annotated[
    str | None, typer.Option("--threshold", help="Points earned or ¥ spent in the window. 门槛。")
]
TierMultiplier = Annotated[str | None, typer.Option("--multiplier", help="Points multiplier. 积分倍数。")]
TierCoupon = Annotated[
    str | None, typer.Option("--upgrade-coupon", help="Coupon template issued on reaching it. 升级礼券模板。")
]
TierBirthday = Annotated[
    str | None, typer.Option("--birthday-coupon", help="Coupon template for the birthday. 生日礼券模板。")
]
TierBirthdayPoints = Annotated[
    int | None, typer.Option("--birthday-points", help="Points on the birthday. 生日积分。")
]


def _given(**values: Any) -> dict[str, Any]:
    """The options given (an option left out changes nothing)."""
    return {k: v for k, v in values.items() if v is not None}


def _print_tiers(rows: list[dict[str, Any]]) -> None:
    print_table(
        ["rank", "key", "name", "threshold", "multiplier", "upgrade_coupon"],
        [
            (t["rank"], t["key"], t["name"], t["threshold"], t["multiplier"], t["upgrade_coupon"])
            for t in rows
        ],
    )


@tiers_app.command("list")
def tiers_list(as_json: JsonOpt = False) -> None:
    """Tiers from lowest to highest. 等级列表。"""
    with _client() as c:
        rows = c.loyalty.tiers()
    emit(rows, as_json, lambda: _print_tiers(rows))


@tiers_app.command("add")
def tiers_add(
    key: Annotated[str, typer.Argument(help="A stable key, e.g. gold. 等级键。")],
    name: TierName = None,
    name_en: TierNameEn = None,
    rank: TierRank = None,
    threshold: TierThreshold = None,
    multiplier: TierMultiplier = None,
    upgrade_coupon: TierCoupon = None,
    birthday_coupon: TierBirthday = None,
    birthday_points: TierBirthdayPoints = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a tier (thresholds must rise with rank). 新增等级。"""
    values = _given(
        name=name,
        name_en=name_en,
        rank=rank,
        threshold=threshold,
        multiplier=multiplier,
        upgrade_coupon=upgrade_coupon,
        birthday_coupon=birthday_coupon,
        birthday_points=birthday_points,
    )
    with _client() as c:
        tier = c.loyalty.add_tier(key, actor="cli", **values)
    emit(tier, as_json, lambda: _print_tiers([tier]))


@tiers_app.command("update")
def tiers_update(
    key: Annotated[str, typer.Argument(help="The tier's key. 等级键。")],
    name: TierName = None,
    name_en: TierNameEn = None,
    rank: TierRank = None,
    threshold: TierThreshold = None,
    multiplier: TierMultiplier = None,
    upgrade_coupon: TierCoupon = None,
    birthday_coupon: TierBirthday = None,
    birthday_points: TierBirthdayPoints = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a tier. 修改等级。"""
    values = _given(
        name=name,
        name_en=name_en,
        rank=rank,
        threshold=threshold,
        multiplier=multiplier,
        upgrade_coupon=upgrade_coupon,
        birthday_coupon=birthday_coupon,
        birthday_points=birthday_points,
    )
    with _client() as c:
        tier = c.loyalty.update_tier(key, actor="cli", **values)
    emit(tier, as_json, lambda: _print_tiers([tier]))


# --- jobs --------------------------------------------------------------------------------------
@jobs_app.command("run")
def jobs_run(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only", help="release, notify, expire or review_tiers (repeat); default all. 只运行。"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Release pending points, send Points Expiring, expire points, review tiers. 运行积分任务。"""
    from siyu.loyalty.jobs import JOBS

    for name in only or []:
        if name not in JOBS:
            raise fail(f"--only {name!r}: one of {', '.join(JOBS)}", 2)
    with _client() as c:
        done = c.loyalty.run_jobs(only=only or None)
    emit(done, as_json, lambda: out.print(", ".join(f"{k} {v}" for k, v in done.items())))
