"""``siyu referrals stats|leaderboard|tree|rescore|review``: referral insights. The commands
live here and join the ``referrals`` group through :func:`register` (the group itself, with
campaigns and codes, is the core's), so each side's module stays its own."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Annotated, Any

import typer

from siyu.cli.common import (
    JsonOpt,
    client_refusing,
    emit,
    out,
    print_table,
)

insights_app = typer.Typer(help="Referral insights. 裂变数据。", no_args_is_help=True)
review_app = typer.Typer(
    help="The fraud review queue: list, approve, void. 风险审核：列表、通过、作废。", no_args_is_help=True
)
insights_app.add_typer(review_app, name="review")

Campaign = Annotated[str, typer.Argument(help="The campaign's key. 活动标识。")]
ReferralId = Annotated[int, typer.Argument(help="The referral's id (from review list). 邀请记录编号。")]
Note = Annotated[
    str | None, typer.Option("--note", help="Why, kept in the audit log. 备注（记入审计日志）。")
]


def _client() -> AbstractContextManager[Any]:
    """The client; a refused request ends the command with its message (exit 2)."""
    from siyu.referrals.metrics import CampaignNotFound
    from siyu.referrals.review import ReviewError, ReviewNotFound

    return client_refusing(CampaignNotFound, ReviewError, ReviewNotFound)


@insights_app.command("stats")
def stats(campaign: Campaign, as_json: JsonOpt = False) -> None:
    """Inviters, invites, qualified, K-factor, generations, cycle time, cost per qualified. 裂变数据。"""
    with _client() as c:
        data = c.referral_insights.stats(campaign)

    def text() -> None:
        for key in ("inviters", "invites", "qualified", "k_factor", "generations", "cycle_time_hours"):
            out.print(f"{key}: {data[key]}")
        out.print(f"cost_per_qualified: {data['cost_per_qualified'] or '-'}")

    emit(data, as_json, text)


@insights_app.command("leaderboard")
def board(
    campaign: Campaign,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Rows to show. 显示行数。")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Inviters ranked by qualified friends; names masked (张**). 邀请排行榜。"""
    with _client() as c:
        rows = c.referral_insights.leaderboard(campaign, limit=limit)
    emit(
        rows,
        as_json,
        lambda: print_table(
            ["rank", "name", "invites", "qualified"],
            [[r["rank"], r["name"], r["invites"], r["qualified"]] for r in rows],
        ),
    )


@insights_app.command("tree")
def tree(
    campaign: Campaign,
    max_nodes: Annotated[
        int,
        typer.Option("--max-nodes", min=1, max=20000, help="Nodes at most (the rest counted). 最多节点数。"),
    ] = 2000,
    as_json: JsonOpt = False,
) -> None:
    """The referral tree, seeds first, to any depth. 邀请关系树。"""
    with _client() as c:
        root = c.referral_insights.tree(campaign, max_nodes=max_nodes)

    def text() -> None:
        stack = [(n, 0) for n in reversed(root["children"])]
        while stack:
            node, depth = stack.pop()
            hidden = f" (+{node['hidden']} hidden)" if node["hidden"] else ""
            name = node["name"] or f"#{node['contact_id']}"
            out.print(f"{'  ' * depth}{name} [{node['status']}] {node['size']}{hidden}")
            stack.extend((c, depth + 1) for c in reversed(node["children"]))

    emit(root, as_json, text)


@insights_app.command("rescore")
def rescore(campaign: Campaign, as_json: JsonOpt = False) -> None:
    """Re-score every referral's fraud risk (strict campaigns flag those over it). 重新评估风险。"""
    with _client() as c:
        data = c.referral_insights.rescore(campaign)
    emit(data, as_json, lambda: out.print(" ".join(f"{k} {v}" for k, v in data.items())))


@review_app.command("list")
def review_list(
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign. 仅此活动。")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Rows to show. 显示行数。")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Flagged referrals, riskiest first, with their reasons. 待审核的邀请。"""
    with _client() as c:
        data = c.referral_insights.review_list(campaign, limit=limit)
    rows = [
        [
            r["id"],
            r["campaign"],
            r["inviter_id"],
            r["invitee_id"],
            r["fraud_score"],
            ", ".join(x["code"] for x in r["reasons"]),
        ]
        for r in data["referrals"]
    ]
    emit(
        data, as_json, lambda: print_table(["id", "campaign", "inviter", "invitee", "score", "reasons"], rows)
    )


@review_app.command("approve")
def approve(referral_id: ReferralId, note: Note = None, as_json: JsonOpt = False) -> None:
    """Clear a flagged referral: it goes back to qualified (or pending). 审核通过。"""
    with _client() as c:
        data = c.referral_insights.approve(referral_id, actor="cli", note=note)
    emit(data, as_json, lambda: out.print(f"{data['id']}: {data['status']}"))


@review_app.command("void")
def void(
    referral_id: ReferralId,
    reason: Annotated[
        str,
        typer.Option("--reason", help="fraud, self_referral, deleted_staff, duplicate, other. 作废原因。"),
    ] = "fraud",
    note: Note = None,
    as_json: JsonOpt = False,
) -> None:
    """Void a flagged referral with a reason. 作废。"""
    with _client() as c:
        data = c.referral_insights.void(referral_id, reason=reason, actor="cli", note=note)
    emit(data, as_json, lambda: out.print(f"{data['id']}: {data['status']} ({data['void_reason']})"))


def register(group: Any) -> None:
    """Attach these commands to the ``referrals`` group: a Typer app (``add_typer`` style) or
    the click group built from one (Typer's own click: ``add_command``)."""
    if isinstance(group, typer.Typer):
        group.registered_commands.extend(insights_app.registered_commands)
        group.add_typer(review_app, name="review")
        return
    built = typer.main.get_group(insights_app)
    for name, command in built.commands.items():
        group.add_command(command, name)
