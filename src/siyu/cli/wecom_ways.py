"""`siyu wecom …` (contact ways and links, their figures, the sync) and `siyu staff …` (staff
figures and customer transfers). Creating a contact way is `siyu channels entry-code …
--wecom-provider KEY --wecom-staff U1,U2`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.i18n import t
from siyu.wecom.figures import FiguresNotFound
from siyu.wecom.provider import WeComUnavailable
from siyu.wecom.staff import StaffError
from siyu.wecom.sync import SyncError
from siyu.wecom.transfer import TransferError
from siyu.wecom.ways import WaysError

wecom_app = typer.Typer(
    help="WeCom contact ways, figures and sync. 企业微信：联系我、渠道数据与同步。", no_args_is_help=True
)
staff_app = typer.Typer(
    help="Staff (导购): figures and customer transfers. 员工数据与客户继承。", no_args_is_help=True
)
ERRORS = (WaysError, WeComUnavailable, StaffError, SyncError, TransferError, FiguresNotFound, ValueError)
ProviderOpt = Annotated[
    str | None, typer.Option("--provider", help="WeCom provider key (default: the only one). 服务商。")
]


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise fail(f"{option}: not a date (YYYY-MM-DD): {value!r}", 2) from None


@wecom_app.command("codes")
def codes(as_json: JsonOpt = False) -> None:
    """Entry codes with their WeCom fields and figures. 活码及其数据。"""
    with open_client() as c:
        ways = {w["state"]: w for w in c.wecom.ways()}
        figures = c.wecom.figures()
    rows = [
        {**ways[f["state"]], "figures": {k: v for k, v in f.items() if k not in ways[f["state"]]}}
        for f in figures
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["state", "kind", "staff", "adds", "lost 24h", "lost 7d", "net", "scans"],
        [
            [
                r["state"] + (" (deleted)" if r["deleted_at"] else ""),
                r["kind"],
                ",".join(r["staff"]),
                r["figures"]["adds"],
                r["figures"]["deleted_24h"]["total"],
                r["figures"]["deleted_7d"]["total"],
                r["figures"]["net"],
                "unknown" if r["figures"]["scans"] is None else r["figures"]["scans"],
            ]
            for r in rows
        ],
    )


@wecom_app.command("figures")
def figures(
    state: Annotated[list[str] | None, typer.Argument(help="Entry code states (default all). 活码。")] = None,
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD). 开始日期。")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD). 结束日期。")] = None,
    by_day: Annotated[bool, typer.Option("--by-day", help="One row per day. 按天。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Adds, deletions within 24 h / 7 days, net adds per code. 活码添加、24 小时/7 天内删除与净增。"""
    with open_client() as c:
        try:
            data = c.wecom.figures(state or None, _day("--start", start), _day("--end", end), by_day)
        except ERRORS as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json(data)
        return
    print_table(
        ["state", "adds", "24h staff", "24h customer", "7d staff", "7d customer", "net"],
        [
            [
                f["state"],
                f["adds"],
                f["deleted_24h"]["by_staff"],
                f["deleted_24h"]["by_customer"],
                f["deleted_7d"]["by_staff"],
                f["deleted_7d"]["by_customer"],
                f["net"],
            ]
            for f in data
        ],
    )


@wecom_app.command("edit")
def edit(
    state: Annotated[str, typer.Argument(help="Entry code state. 活码 state。")],
    name: Annotated[str | None, typer.Option(help="Display name. 名称。")] = None,
    wecom_staff: Annotated[
        str | None, typer.Option(help="Staff userids, comma-separated. 接待成员。")
    ] = None,
    skip_verify: Annotated[
        bool | None,
        typer.Option("--skip-verify/--verify", help="Skip the staff's confirmation? 是否免验证。"),
    ] = None,
    welcome_template: Annotated[
        str | None, typer.Option(help="Template key ('' for none). 欢迎语模板。")
    ] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag keys (replace the list). 标签。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a contact way or link at WeCom and here. 修改联系我或获客链接。"""
    changes: dict[str, Any] = {"name": name, "skip_verify": skip_verify, "welcome_template": welcome_template}
    if wecom_staff is not None:
        changes["staff"] = [u for u in wecom_staff.split(",") if u.strip()]
    if tag is not None:
        changes["tags"] = list(tag)
    with open_client() as c:
        try:
            data = c.wecom.update_way(state, actor="cli", **changes)
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    print_json(data) if as_json else out.print(t("wecom_way_updated", state=state))


@wecom_app.command("delete")
def delete(
    state: Annotated[str, typer.Argument(help="Entry code state. 活码 state。")], as_json: JsonOpt = False
) -> None:
    """Delete a contact way or link at WeCom; its figures stay. 删除联系我或获客链接（数据保留）。"""
    with open_client() as c:
        try:
            data = c.wecom.delete_way(state, actor="cli")
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    print_json(data) if as_json else out.print(t("wecom_way_deleted", state=state))


@wecom_app.command("link-customers")
def link_customers(
    state: Annotated[str, typer.Argument(help="Acquisition link state. 获客链接 state。")],
    as_json: JsonOpt = False,
) -> None:
    """Attribute the customers a 获客助手 link brought. 拉取获客链接的客户并归因。"""
    with open_client() as c:
        try:
            data = c.wecom.pull_link_customers(state)
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    print_json(data) if as_json else out.print(t("wecom_link_customers", **data))


@wecom_app.command("sync")
def sync(
    provider: ProviderOpt = None,
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only relations not known yet. 仅同步新增关系。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Sync staff and existing customers from WeCom. 从企业微信同步员工与存量客户。"""

    def progress(run: dict[str, Any]) -> None:
        if not as_json and run["status"] == "running":
            out.print(t("wecom_sync_progress", **run))

    with open_client() as c:
        try:
            run = c.wecom.sync(provider, "incremental" if incremental else "full", on_progress=progress)
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(run)
    else:
        out.print(t("wecom_sync_done", **run))
        if run["error"]:
            out.print(run["error"])
    if run["status"] != "done":
        raise typer.Exit(1)


@wecom_app.command("sync-runs")
def sync_runs(provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Recent syncs and their progress. 最近的同步及进度。"""
    with open_client() as c:
        runs = c.wecom.sync_runs(provider)
    if as_json:
        print_json(runs)
        return
    cols = ["id", "provider_key", "mode", "status", "staff_done", "staff_total", "follows_seen", "started_at"]
    print_table(cols, [[r[k] for k in cols] for r in runs])


@staff_app.command("list")
def staff_list(provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Staff with their customers, adds and losses (流失). 员工及其客户数、添加与流失。"""
    with open_client() as c:
        rows = c.staff.list(provider)
    if as_json:
        print_json(rows)
        return
    cols = ["userid", "name", "customers", "adds", "lost", "left"]
    print_table(cols, [[r[k] for k in cols] for r in rows])


@staff_app.command("show")
def staff_show(
    userid: Annotated[str, typer.Argument(help="Staff userid. 员工 userid。")],
    provider: ProviderOpt = None,
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD). 开始日期。")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD). 结束日期。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One staff member's per-day figures (last 30 days). 员工每日数据（默认近 30 天）。"""
    with open_client() as c:
        try:
            data = c.staff.show(userid, provider, _day("--start", start), _day("--end", end))
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(data)
        return
    out.print(f"{data['name']} ({data['userid']}): {data['customers']}")
    cols = ["day", "adds", "lost", "removed", "net", "total"]
    print_table(cols, [[d[k] for k in cols] for d in data["days"]])


@staff_app.command("transfer")
def staff_transfer(
    handover: Annotated[str, typer.Argument(help="Staff userid handing over. 原跟进成员。")],
    takeover: Annotated[str, typer.Argument(help="Staff userid taking over. 接替成员。")],
    customer: Annotated[
        list[str], typer.Option("--customer", help="external_userid (repeat). 客户 external_userid。")
    ],
    message: Annotated[str | None, typer.Option(help="Message to the customer. 转接提示语。")] = None,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Transfer customers to another staff member (在职继承). 转接客户。"""
    with open_client() as c:
        try:
            rows = c.staff.transfer(provider, handover, takeover, customer, message, actor="cli")
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(rows)
        return
    waiting = sum(r["status"] == "waiting" for r in rows)
    out.print(t("staff_transfer_done", waiting=waiting, failed=len(rows) - waiting))
    for r in rows:
        if r["status"] == "failed":
            out.print(f"{r['external_userid']}: {r['reason']}")


@staff_app.command("transfers")
def staff_transfers(
    provider: ProviderOpt = None,
    poll: Annotated[bool, typer.Option("--poll", help="Ask WeCom for results first. 先查询结果。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Transfers and their results. 客户转接记录与结果。"""
    with open_client() as c:
        try:
            if poll:
                c.staff.poll_transfers(provider)
            rows = c.staff.transfers(provider)
        except ERRORS as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(rows)
        return
    cols = ["external_userid", "handover_userid", "takeover_userid", "status", "reason", "requested_at"]
    print_table(cols, [[r[k] for k in cols] for r in rows])
