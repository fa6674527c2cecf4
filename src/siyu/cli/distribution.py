"""``siyu distribution``: distribution (分销) settings, promoters (apply, approve, reject,
list), binding, the commission ledger, the settlement job, the settlement export and payouts
through WeChat Pay profit sharing. IDENTIFIER is a phone, an email, ``type:value`` or ``id:N``;
CODE is a promoter's code."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.cli.common import (
    JsonOpt,
    client_refusing,
    emit,
    key_values,
    out,
    print_table,
)

distribution_app = typer.Typer(
    help="Distribution (分销): promoters, binding, commissions, settlement, payouts. 分销。",
    no_args_is_help=True,
)
settings_app = typer.Typer(help="Distribution settings. 分销设置。", no_args_is_help=True)
promoters_app = typer.Typer(help="Promoters (推广员). 推广员。", no_args_is_help=True)
commissions_app = typer.Typer(help="The commission ledger. 佣金明细。", no_args_is_help=True)
distribution_app.add_typer(settings_app, name="settings")
distribution_app.add_typer(promoters_app, name="promoters")
distribution_app.add_typer(commissions_app, name="commissions")

Ident = Annotated[str, typer.Argument(help="Phone, email, type:value or id:N. 联系人标识。")]
Code = Annotated[str, typer.Argument(help="The promoter's code. 推广码。")]
Note = Annotated[str | None, typer.Option("--note", help="Why (shown to operators). 备注。")]


def _client() -> AbstractContextManager[Any]:
    """The client; a refused request ends the command with its message (exit 2)."""
    from siyu.distribution.profitsharing import ProfitSharingError
    from siyu.distribution.settings import DistributionError
    from siyu.exports.tabular import ExportFormatError
    from siyu.profiles.views import LookupError_

    return client_refusing(DistributionError, LookupError_, ExportFormatError, ProfitSharingError)


# --- settings ----------------------------------------------------------------------------------
@settings_app.command("show")
def settings_show(as_json: JsonOpt = False) -> None:
    """Show the settings. 查看分销设置。"""
    with _client() as c:
        data = c.distribution.settings()
    emit(data, as_json, lambda: print_table(["setting", "value"], list(data.items())))


@settings_app.command("set")
def settings_set(
    settings: Annotated[
        list[str],
        typer.Argument(
            help="KEY=VALUE pairs, e.g. enabled=true mode=appointed level1_rate=10% "
            "level2_rate=5% freeze_days=7 binding=new_users lock_days=30. 设置项。"
        ),
    ],
    as_json: JsonOpt = False,
) -> None:
    """Change settings; all are checked before any applies (level-1 + level-2 ≤ 100%). 修改分销设置。"""
    with _client() as c:
        data = c.distribution.set_settings(key_values(settings), actor="cli")
    emit(data, as_json, lambda: print_table(["setting", "value"], list(data.items())))


# --- promoters ---------------------------------------------------------------------------------
def _promoter_line(p: dict[str, Any]) -> str:
    return f"{p['code']}  {p['status']}  contact {p['contact_id']}  ({p['source']})"


@promoters_app.command("apply")
def promoters_apply(identifier: Ident, note: Note = None, as_json: JsonOpt = False) -> None:
    """Apply for a contact to become a promoter. 申请成为推广员。"""
    with _client() as c:
        data = c.distribution.apply(identifier, actor="cli", note=note)
    emit(data, as_json, lambda: out.print(_promoter_line(data)))


@promoters_app.command("approve")
def promoters_approve(code: Code, note: Note = None, as_json: JsonOpt = False) -> None:
    """Approve a promoter. 通过审核。"""
    with _client() as c:
        data = c.distribution.approve(code, actor="cli", note=note)
    emit(data, as_json, lambda: out.print(_promoter_line(data)))


@promoters_app.command("reject")
def promoters_reject(code: Code, note: Note = None, as_json: JsonOpt = False) -> None:
    """Reject a promoter. 拒绝申请。"""
    with _client() as c:
        data = c.distribution.reject(code, actor="cli", note=note)
    emit(data, as_json, lambda: out.print(_promoter_line(data)))


@promoters_app.command("list")
def promoters_list(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, approved or rejected. 状态。")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many. 条数。")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Promoters, newest first. 推广员列表。"""
    with _client() as c:
        data = c.distribution.promoters(status, limit)
    emit(
        data,
        as_json,
        lambda: print_table(
            ["code", "status", "contact", "source", "applied"],
            [(p["code"], p["status"], p["contact_id"], p["source"], p["applied_at"]) for p in data],
        ),
    )


@promoters_app.command("openid")
def promoters_openid(
    code: Code,
    openid: Annotated[str, typer.Argument(help="WeChat Pay receiver openid ('' clears). 分账接收方。")],
    as_json: JsonOpt = False,
) -> None:
    """Set the promoter's WeChat Pay receiver account. 设置分账接收方。"""
    with _client() as c:
        data = c.distribution.set_openid(code, openid, actor="cli")
    emit(data, as_json, lambda: out.print(_promoter_line(data)))


@promoters_app.command("dashboard")
def promoters_dashboard(code: Code, as_json: JsonOpt = False) -> None:
    """A promoter's sales, commissions by state and downline. 推广员看板。"""
    with _client() as c:
        data = c.distribution.dashboard(code)

    def text() -> None:
        out.print(f"sales: {data['sales']['orders']} orders, ¥{data['sales']['amount']}")
        print_table(["balance", "¥"], list(data["commissions"].items()))
        out.print(f"downline: level 1 {data['downline']['level1']}, level 2 {data['downline']['level2']}")

    emit(data, as_json, text)


# --- binding and the ledger ------------------------------------------------------------------
@distribution_app.command("bind")
def bind(identifier: Ident, code: Code, as_json: JsonOpt = False) -> None:
    """Bind a contact to a promoter, as a visit through their link would. 绑定推广关系。"""
    with _client() as c:
        data = c.distribution.bind(identifier, code)
    emit(data, as_json, lambda: out.print(data["outcome"]))
    if not data["ok"]:
        raise typer.Exit(3)


@commissions_app.command("list")
def commissions_list(
    promoter: Annotated[str | None, typer.Option("--promoter", help="A promoter's code. 推广码。")] = None,
    state: Annotated[str | None, typer.Option("--state", help="pending, frozen or settled. 状态。")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many. 条数。")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """Commission movements, newest first. 佣金明细。"""
    with _client() as c:
        data = c.distribution.commissions(promoter, state, limit)
    emit(
        data,
        as_json,
        lambda: print_table(
            ["id", "promoter", "order", "level", "kind", "amount", "reversed", "state"],
            [
                (
                    x["id"],
                    x["promoter"],
                    x["order_id"],
                    x["level"],
                    x["kind"],
                    x["amount"],
                    x["reversed"],
                    x["state"],
                )
                for x in data
            ],
        ),
    )


@commissions_app.command("verify")
def commissions_verify(as_json: JsonOpt = False) -> None:
    """Check pending + frozen + settled = earned − reversed for every promoter. 核对佣金账。"""
    with _client() as c:
        data = c.distribution.verify()
    emit(data, as_json, lambda: out.print("ok" if data["ok"] else f"broken: {data['promoters']}"))
    if not data["ok"]:
        raise typer.Exit(1)


@distribution_app.command("settle")
def settle(as_json: JsonOpt = False) -> None:
    """The settlement job: reverse missed refunds, start freezes, settle those whose freeze is
    over. 佣金结算任务。"""
    with _client() as c:
        data = c.distribution.settle()
    emit(
        data,
        as_json,
        lambda: out.print(f"reversed {data['reversed']}, frozen {data['frozen']}, settled {data['settled']}"),
    )


@distribution_app.command("export")
def export(
    output: Annotated[Path, typer.Argument(help="File to write (.csv or .xlsx). 输出文件。")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or xlsx (default: from the file name). 格式。")
    ] = None,
    lang: Annotated[str, typer.Option("--lang", help="Header language: zh or en. 表头语言。")] = "zh",
    as_json: JsonOpt = False,
) -> None:
    """The settlement sheet per promoter (CSV with BOM, or XLSX). 导出佣金结算表。"""
    with _client() as c:
        file = c.distribution.export(fmt or output.suffix.lstrip(".") or "csv", lang)
    output.write_bytes(file.content)
    data = {"path": str(output), "rows": file.rows, "format": file.suffix}
    emit(data, as_json, lambda: out.print(f"{file.rows} rows → {output}"))


@distribution_app.command("payout")
def payout(as_json: JsonOpt = False) -> None:
    """Pay settled commissions through WeChat Pay profit sharing (SIYU_WECHATPAY_*). 分账打款。"""
    with _client() as c:
        data = c.distribution.payout()
    emit(
        data,
        as_json,
        lambda: print_table(
            ["out_order_no", "amount", "status", "error"],
            [(p["out_order_no"], p["amount"], p["status"], p["error"]) for p in data["sent"]],
        ),
    )
