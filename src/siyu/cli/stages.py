"""`siyu stages …` and `siyu rfm`: journey stages and RFM scores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from siyu.cli.common import JsonOpt, out
from siyu.cli.layers import client, show
from siyu.i18n import t
from siyu.segments.documents import read_document

stages_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
rfm_app = typer.Typer(invoke_without_command=True)
ContactArg = Annotated[str, typer.Argument(help="id:42, a phone, an email or type:value. 联系人。")]
RulesFile = Annotated[Path | None, typer.Argument(help="JSON or YAML rules to set. 规则文件。")]


def _table(rows: dict[str, Any], key: str, value: str) -> None:
    table = Table()
    table.add_column(key)
    table.add_column(value, justify="right")
    for k, v in rows.items():
        table.add_row(str(k), str(v))
    out.print(table)


@stages_app.command("assign")
def stages_assign(as_json: JsonOpt = False) -> None:
    """Assign every contact's stage by the rules. 按规则计算旅程阶段。"""
    with client() as c:
        data = c.stages.assign()

    def text() -> None:
        out.print(t("stages_assigned", evaluated=data["evaluated"], changed=data["changed"]))
        _table(data["stages"], "stage", "contacts")

    show(data, as_json, text)


@stages_app.command("distribution")
def stages_distribution(as_json: JsonOpt = False) -> None:
    """Contacts per stage. 各阶段人数。"""
    with client() as c:
        data = c.stages.distribution()
    show(data, as_json, lambda: _table(data, "stage", "contacts"))


@stages_app.command("flow")
def stages_flow(
    since: Annotated[str | None, typer.Option(help="From (ISO date). 起始日期。")] = None,
    until: Annotated[str | None, typer.Option(help="Until (ISO date, exclusive). 截止日期。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Stage-to-stage moves in a period. 阶段流转。"""
    from datetime import datetime

    with client() as c:
        data = c.stages.flow(
            datetime.fromisoformat(since) if since else None, datetime.fromisoformat(until) if until else None
        )
    show(
        data,
        as_json,
        lambda: _table({f"{r['from'] or '-'} → {r['to']}": r["count"] for r in data}, "move", "contacts"),
    )


@stages_app.command("show")
def stages_show(contact: ContactArg, as_json: JsonOpt = False) -> None:
    """A contact's stage and stage history. 联系人的阶段与历史。"""
    with client() as c:
        data = c.stages.of(contact)

    def text() -> None:
        out.print(t("stage_of", contact=data["contact_id"], stage=data["stage"] or "-"))
        for h in data["history"]:
            out.print(f"{h['at']}  {h['from'] or '-'} → {h['to']}  ({h['reason']})")

    show(data, as_json, text)


@stages_app.command("set")
def stages_set(
    contact: ContactArg,
    stage: Annotated[str, typer.Argument(help="Stage. 阶段。")],
    reason: Annotated[str, typer.Option(help="Why. 原因。")] = "manual",
    as_json: JsonOpt = False,
) -> None:
    """Set a contact's stage by hand (until rules assign again). 手动设置阶段。"""
    with client() as c:
        data = c.stages.set(contact, stage, reason, actor="cli")
    show(data, as_json, lambda: out.print(t("stage_set", stage=stage)))


@stages_app.command("rules")
def stages_rules(file: RulesFile = None, as_json: JsonOpt = False) -> None:
    """Show the stage rules, or set them from a file. 查看或设置阶段规则。"""
    with client() as c:
        data = c.stages.set_rules(read_document(file), actor="cli") if file else c.stages.rules()
    show(data, as_json, lambda: [out.print(f"{r['stage']}: {r['when']}") for r in data])


@rfm_app.callback()
def rfm(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Compute RFM scores from orders and print the segments. 计算 RFM 分层。"""
    if ctx.invoked_subcommand is not None:
        return
    with client() as c:
        data = c.rfm.compute()

    def text() -> None:
        out.print(t("rfm_computed", contacts=data["contacts"], changed=data["changed"]))
        _table(data["distribution"]["segments"], "segment", "contacts")

    show(data, as_json, text)


@rfm_app.command("show")
def rfm_show(contact: ContactArg, as_json: JsonOpt = False) -> None:
    """A contact's RFM scores. 联系人的 RFM。"""
    with client() as c:
        data = c.rfm.of(contact)
    show(data, as_json, lambda: out.print(data if data else t("rfm_none")))


@rfm_app.command("rules")
def rfm_rules(file: RulesFile = None, as_json: JsonOpt = False) -> None:
    """Show the RFM segment rules, or set them from a file. 查看或设置 RFM 分层规则。"""
    with client() as c:
        data = c.rfm.set_rules(read_document(file), actor="cli") if file else c.rfm.rules()
    show(data, as_json, lambda: [out.print(f"{r['name']}: r {r['r']} f {r['f']}") for r in data])
