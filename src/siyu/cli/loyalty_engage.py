"""``siyu checkins``, ``siyu tasks``, ``siyu catalogue``, ``siyu birthdays``: engagement on top of
the points ledger (daily check-ins, tasks and badges, the points catalogue, the birthday gift).
IDENTIFIER is a phone, an email, ``type:value`` or ``id:N``, like ``siyu contacts show``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from siyu.cli.common import JsonOpt, emit, fail, out, print_table
from siyu.cli.loyalty import _client, _given

checkins_app = typer.Typer(
    help="Daily check-ins (签到): check in, history, settings. 每日签到。", no_args_is_help=True
)
tasks_app = typer.Typer(
    help="Tasks and badges (任务与勋章): define, run, badges. 任务与勋章。", no_args_is_help=True
)
catalogue_app = typer.Typer(
    help="The points catalogue (积分商城): items and redemptions. 积分商城。", no_args_is_help=True
)
birthdays_app = typer.Typer(
    help="The birthday gift (生日礼): run today's gifts. 生日礼。", no_args_is_help=True
)

Ident = Annotated[str, typer.Argument(help="Phone, email, type:value or id:N. 联系人标识。")]
Key = Annotated[str, typer.Argument(help="Key: a-z, 0-9, _ and -. 标识。")]
Name = Annotated[str | None, typer.Option("--name", help="Name shown to operators and members. 名称。")]
Active = Annotated[
    bool | None, typer.Option("--active/--inactive", help="On offer / evaluated, or not. 启用或停用。")
]


def _json_arg(value: str, what: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise fail(f"{what}: not valid JSON ({exc.msg})", 2) from exc


# --- check-ins -------------------------------------------------------------------------------------
@checkins_app.command("checkin")
def checkin(identifier: Ident, as_json: JsonOpt = False) -> None:
    """Check a member in for their local today (a repeat the same day changes nothing). 签到。"""
    with _client() as c:
        data = c.engage.checkin(identifier, actor="cli")
    word = "checked in" if data["new"] else "already checked in"
    emit(
        data, as_json, lambda: out.print(f"{word} {data['day']}: streak {data['streak']}, +{data['points']}")
    )


@checkins_app.command("history")
def history(
    identifier: Ident,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Days shown. 显示天数。")] = 60,
    as_json: JsonOpt = False,
) -> None:
    """A member's recent check-ins. 签到记录。"""
    with _client() as c:
        rows = c.engage.checkins(identifier, limit=limit)
    emit(rows, as_json, lambda: print_table(["day", "streak", "points"], [r.values() for r in rows]))


@checkins_app.command("settings")
def checkin_settings(
    points: Annotated[
        int | None, typer.Option("--points", help="Points per check-in. 每次签到积分。")
    ] = None,
    milestones: Annotated[
        str | None,
        typer.Option(
            "--milestones", help='Extra points by streak, JSON: {"7": 20, "30": 100}. 连续签到奖励。'
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the check-in rewards, or change them. 签到奖励设置。"""
    with _client() as c:
        data = c.engage.checkin_settings()
        if points is not None or milestones is not None:
            new = {**data}
            if points is not None:
                new["points"] = points
            if milestones is not None:
                new["milestones"] = _json_arg(milestones, "--milestones")
            data = c.engage.set_checkin_settings(new, actor="cli")
    emit(data, as_json, lambda: out.print(f"points {data['points']}  milestones {data['milestones']}"))


# --- tasks -----------------------------------------------------------------------------------------
def _task_values(
    name: str | None,
    condition: str | None,
    points: int | None,
    coupon: str | None,
    badge: str | None,
    active: bool | None,
) -> dict[str, Any]:
    cond = _json_arg(condition, "--condition") if condition is not None else None
    return _given(
        name=name, condition=cond, reward_points=points, reward_coupon=coupon, badge=badge, active=active
    )


CONDITION_HELP = (
    'JSON: {"event": "Order Completed", "count": 1, "where": {…}} or {"profile": ["name", "city"]}. 条件。'
)
Condition = Annotated[
    str | None,
    typer.Option(
        "--condition",
        help=CONDITION_HELP,
    ),
]
RewardPoints = Annotated[int | None, typer.Option("--points", help="Reward points. 奖励积分。")]
RewardCoupon = Annotated[
    str | None, typer.Option("--coupon", help="Reward coupon template key. 奖励券模板。")
]
Badge = Annotated[str | None, typer.Option("--badge", help="Badge earned. 勋章。")]


@tasks_app.command("list")
def tasks_list(as_json: JsonOpt = False) -> None:
    """Tasks with their rewards and how many members completed each. 任务列表。"""
    with _client() as c:
        rows = c.engage.tasks()
    cols = ["key", "name", "reward_points", "reward_coupon", "badge", "active", "completed"]
    emit(rows, as_json, lambda: print_table(cols, [[r[k] for k in cols] for r in rows]))


@tasks_app.command("add")
def tasks_add(
    key: Key,
    name: Annotated[str, typer.Option("--name", help="Name shown to operators and members. 名称。")],
    condition: Annotated[
        str,
        typer.Option(
            "--condition",
            help=CONDITION_HELP,
        ),
    ],
    points: RewardPoints = None,
    coupon: RewardCoupon = None,
    badge: Badge = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a task. 新建任务。"""
    with _client() as c:
        data = c.engage.add_task(
            key, actor="cli", **_task_values(name, condition, points, coupon, badge, None)
        )
    emit(data, as_json, lambda: out.print(f"task {data['key']} added"))


@tasks_app.command("update")
def tasks_update(
    key: Key,
    name: Name = None,
    condition: Condition = None,
    points: RewardPoints = None,
    coupon: RewardCoupon = None,
    badge: Badge = None,
    active: Active = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a task (only the options given). 修改任务。"""
    with _client() as c:
        data = c.engage.update_task(
            key, actor="cli", **_task_values(name, condition, points, coupon, badge, active)
        )
    emit(data, as_json, lambda: out.print(f"task {data['key']} updated"))


@tasks_app.command("run")
def tasks_run(as_json: JsonOpt = False) -> None:
    """Evaluate the tasks on events received since the last run. 评估任务。"""
    with _client() as c:
        data = c.engage.run_tasks()
    emit(data, as_json, lambda: out.print(f"{data['events']} events, completed {data['completed']}"))


@tasks_app.command("badges")
def tasks_badges(identifier: Ident, as_json: JsonOpt = False) -> None:
    """A member's completed tasks and badges. 会员勋章。"""
    with _client() as c:
        rows = c.engage.badges(identifier)
    emit(
        rows,
        as_json,
        lambda: print_table(
            ["task", "badge", "completed_at"], [[r["task"], r["badge"], r["completed_at"]] for r in rows]
        ),
    )


# --- catalogue -------------------------------------------------------------------------------------
Stock = Annotated[int | None, typer.Option("--stock", help="Units on offer (omit: unlimited). 库存。")]
Limit = Annotated[int | None, typer.Option("--per-member", help="At most this many per member. 每人限兑。")]
Template = Annotated[str | None, typer.Option("--coupon", help="Coupon template key (kind coupon). 券模板。")]


@catalogue_app.command("list")
def catalogue_list(as_json: JsonOpt = False) -> None:
    """Catalogue items. 商品列表。"""
    with _client() as c:
        rows = c.engage.catalogue()
    cols = ["key", "name", "kind", "points", "coupon_template", "stock", "per_member_limit", "active"]
    emit(rows, as_json, lambda: print_table(cols, [[r[k] for k in cols] for r in rows]))


@catalogue_app.command("add")
def catalogue_add(
    key: Key,
    name: Annotated[str, typer.Option("--name", help="Name shown to members. 名称。")],
    points: Annotated[int, typer.Option("--points", help="Points it costs. 所需积分。")],
    kind: Annotated[str, typer.Option("--kind", help="coupon or gift. 类型：券或礼品。")] = "coupon",
    coupon: Template = None,
    stock: Stock = None,
    per_member: Limit = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an item (points → a coupon or a gift). 新增兑换商品。"""
    values = _given(
        name=name, kind=kind, points=points, coupon_template=coupon, stock=stock, per_member_limit=per_member
    )
    with _client() as c:
        data = c.engage.add_item(key, actor="cli", **values)
    emit(data, as_json, lambda: out.print(f"item {data['key']} added"))


@catalogue_app.command("update")
def catalogue_update(
    key: Key,
    name: Name = None,
    points: Annotated[int | None, typer.Option("--points", help="Points it costs. 所需积分。")] = None,
    coupon: Template = None,
    stock: Stock = None,
    per_member: Limit = None,
    active: Active = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an item (only the options given). 修改兑换商品。"""
    values = _given(
        name=name,
        points=points,
        coupon_template=coupon,
        stock=stock,
        per_member_limit=per_member,
        active=active,
    )
    with _client() as c:
        data = c.engage.update_item(key, actor="cli", **values)
    emit(data, as_json, lambda: out.print(f"item {data['key']} updated"))


@catalogue_app.command("redeem")
def catalogue_redeem(
    identifier: Ident,
    item: Annotated[str, typer.Argument(help="Item key. 商品标识。")],
    external_id: Annotated[
        str | None,
        typer.Option("--external-id", help="Makes the call idempotent: a repeat changes nothing. 幂等编号。"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Redeem points for an item: spend and issue in one go. 积分兑换。"""
    with _client() as c:
        data = c.engage.redeem(identifier, item, external_id=external_id, actor="cli")
    code = (data.get("coupon") or {}).get("code")
    emit(
        data,
        as_json,
        lambda: out.print(f"redeemed {item} for {data['points']} points" + (f": {code}" if code else "")),
    )


@catalogue_app.command("redemptions")
def catalogue_redemptions(
    identifier: Annotated[str | None, typer.Argument(help="Only this member. 指定会员。")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Rows shown. 显示条数。")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Recent redemptions. 兑换记录。"""
    with _client() as c:
        rows = c.engage.redemptions(identifier, limit=limit)
    cols = ["id", "contact_id", "item", "points", "created_at"]
    emit(rows, as_json, lambda: print_table(cols, [[r[k] for k in cols] for r in rows]))


# --- birthdays -------------------------------------------------------------------------------------
@birthdays_app.command("run")
def birthdays_run(as_json: JsonOpt = False) -> None:
    """Give today's birthday gifts (points and the tier's coupon, once a year). 发放生日礼。"""
    with _client() as c:
        data = c.engage.run_birthdays()
    emit(
        data,
        as_json,
        lambda: out.print(f"{data['gifted']} gifted, {data['points']} points, {data['coupons']} coupons"),
    )
