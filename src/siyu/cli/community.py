"""`siyu groups …` (customer groups, group live codes, group messages and welcome templates) and
`siyu community …` (the 1% / 9% / 90% pyramid and group health)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from siyu.cli.common import (
    JsonOpt,
    emit,
    fail,
    open_client,
    out,
    print_table,
)

groups_app = typer.Typer(
    help="Customer groups (客户群): list, show, sync, live codes, messages. 客户群与群活码。",
    no_args_is_help=True,
)
join_ways_app = typer.Typer(help="Group live codes (群活码). 群活码。", no_args_is_help=True)
welcome_app = typer.Typer(help="Group welcome templates (入群欢迎语). 入群欢迎语。", no_args_is_help=True)
sop_app = typer.Typer(help="Group SOP (群SOP): timed group messages. 群SOP。", no_args_is_help=True)
groups_app.add_typer(join_ways_app, name="join-ways")
groups_app.add_typer(sop_app, name="sop")
groups_app.add_typer(welcome_app, name="welcome")
community_app = typer.Typer(
    help="Communities: the 1% / 9% / 90% pyramid and group health. 社群运营：金字塔与群健康。",
    no_args_is_help=True,
)

ProviderOpt = Annotated[
    str | None,
    typer.Option("--provider", help="WeCom provider key (default: the default one). 企业微信账号。"),
]


@contextmanager
def _client() -> Iterator[Any]:
    """The client; a refused input or a WeCom error ends the command with its message."""
    from siyu.channels.http import ProviderError
    from siyu.community.wecom import CommunityError

    with open_client() as client:
        try:
            yield client
        except CommunityError as exc:
            raise fail(str(exc), 2) from exc
        except ProviderError as exc:
            raise fail(f"WeCom: {exc}", 1) from exc


# --- groups ----------------------------------------------------------------------------------------
@groups_app.command("list")
def groups_list(
    include_dismissed: Annotated[
        bool, typer.Option("--all", help="Include dismissed groups. 含已解散。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Customer groups, largest first, with their health score. 客户群列表。"""
    with _client() as c:
        rows = c.community.groups(include_dismissed)
    emit(
        rows,
        as_json,
        lambda: print_table(
            ["chat_id", "name", "owner", "members", "health"],
            [(r["chat_id"], r["name"], r["owner"], r["members"], r["health"]) for r in rows],
        ),
    )


@groups_app.command("show")
def groups_show(chat_id: str, as_json: JsonOpt = False) -> None:
    """One group: members with their contacts and roles, health figures. 客户群详情。"""
    with _client() as c:
        g = c.community.group(chat_id)

    def text() -> None:
        out.print(f"{g['name']} ({g['chat_id']}) owner {g['owner']}, {g['members']} members")
        out.print(", ".join(f"{k} {v}" for k, v in g["health"].items()))
        print_table(
            ["member", "contact", "name", "joined", "state", "role"],
            [
                (m["member_id"], m["contact_id"], m["name"], m["joined_at"], m["state"], m["role"])
                for m in g["member_list"]
            ],
        )

    emit(g, as_json, text)


@groups_app.command("sync")
def groups_sync(provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Read every group and member from WeCom (groupchat/list + get). 从企业微信同步客户群。"""
    with _client() as c:
        result = c.community.sync(provider)
    emit(result, as_json, lambda: out.print(", ".join(f"{k} {v}" for k, v in result.items())))


@groups_app.command("send")
def groups_send(
    text: Annotated[str, typer.Option("--text", help="Message text. 消息内容。")],
    chat_ids: Annotated[
        list[str] | None, typer.Option("--chat-id", help="A group (repeat); default every group. 目标群。")
    ] = None,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A bulk message to groups, honouring the monthly per-group limit. 群发到客户群。"""
    with _client() as c:
        result = c.community.send_group_message({"text": text}, chat_ids or None, provider, actor="cli")
    emit(result, as_json, lambda: out.print(f"{result['groups']} groups, limited {len(result['limited'])}"))


# --- group live codes ----------------------------------------------------------------------------------
def _print_way(w: dict[str, Any]) -> None:
    out.print(f"{w['state']} {w['name']}: {', '.join(w['chat_ids'])} (joins {w['joins']})")
    out.print(f"QR {w['qr_code']}")


@join_ways_app.command("list")
def join_ways_list(as_json: JsonOpt = False) -> None:
    """Group live codes with their groups and joins. 群活码列表。"""
    with _client() as c:
        rows = c.community.join_ways()
    emit(
        rows,
        as_json,
        lambda: print_table(
            ["state", "name", "groups", "joins", "qr_code"],
            [(r["state"], r["name"], " ".join(r["chat_ids"]), r["joins"], r["qr_code"]) for r in rows],
        ),
    )


@join_ways_app.command("show")
def join_ways_show(state: str, as_json: JsonOpt = False) -> None:
    """One live code with the history of its groups. 群活码详情。"""
    with _client() as c:
        w = c.community.join_way(state)
    emit(w, as_json, lambda: _print_way(w))


@join_ways_app.command("create")
def join_ways_create(
    state: Annotated[str, typer.Option("--state", help="≤ 30 characters; joins carry it. 渠道参数。")],
    chat_ids: Annotated[list[str], typer.Option("--chat-id", help="1 to 5 groups (repeat). 群（1-5 个）。")],
    name: Annotated[str | None, typer.Option("--name", help="Name shown to operators. 名称。")] = None,
    room_base_name: Annotated[
        str | None, typer.Option("--room-base-name", help="Name of groups WeCom creates. 自动建群名。")
    ] = None,
    room_base_id: Annotated[
        int | None, typer.Option("--room-base-id", help="Their first number. 起始序号。")
    ] = None,
    no_auto_create: Annotated[
        bool, typer.Option("--no-auto-create", help="WeCom creates no new groups. 不自动建群。")
    ] = False,
    threshold: Annotated[
        int, typer.Option("--threshold", help="Swap a group out at this size. 换群阈值。")
    ] = 480,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group live code (add_join_way) and print its QR. 创建群活码。"""
    with _client() as c:
        w = c.community.create_join_way(
            name or state,
            state,
            chat_ids,
            provider,
            not no_auto_create,
            room_base_name,
            room_base_id,
            threshold,
            actor="cli",
        )
    emit(w, as_json, lambda: _print_way(w))


@join_ways_app.command("update")
def join_ways_update(
    state: str,
    chat_ids: Annotated[list[str], typer.Option("--chat-id", help="The new 1 to 5 groups. 新的群。")],
    as_json: JsonOpt = False,
) -> None:
    """Replace a live code's groups (update_join_way). 更换群活码的群。"""
    with _client() as c:
        w = c.community.update_join_way(state, chat_ids, actor="cli")
    emit(w, as_json, lambda: _print_way(w))


@join_ways_app.command("delete")
def join_ways_delete(state: str, as_json: JsonOpt = False) -> None:
    """Delete a live code (del_join_way); its history stays. 删除群活码。"""
    with _client() as c:
        c.community.delete_join_way(state, actor="cli")
    emit({"deleted": state}, as_json, lambda: out.print(f"deleted {state}"))


@join_ways_app.command("swap")
def join_ways_swap(as_json: JsonOpt = False) -> None:
    """Swap full groups out of every live code now (also in siyu serve). 立即换出满员群。"""
    with _client() as c:
        changed = c.community.swap_full()
    emit(changed, as_json, lambda: out.print(f"{len(changed)} codes changed"))


# --- welcome templates -----------------------------------------------------------------------------------
@welcome_app.command("add")
def welcome_add(
    text: Annotated[str, typer.Option("--text", help="%NICKNAME% is the member's name. 欢迎语。")],
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group welcome template; prints its template_id. 新建入群欢迎语。"""
    from siyu.community.messages import WelcomeTemplates
    from siyu.community.wecom import default_provider

    with _client() as c, c.ctx.db.session() as s:
        template_id = WelcomeTemplates(s, c.ctx, provider or default_provider(s)).add(text)
    emit({"template_id": template_id}, as_json, lambda: out.print(template_id))


@welcome_app.command("delete")
def welcome_delete(template_id: str, provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a group welcome template. 删除入群欢迎语。"""
    from siyu.community.messages import WelcomeTemplates
    from siyu.community.wecom import default_provider

    with _client() as c, c.ctx.db.session() as s:
        WelcomeTemplates(s, c.ctx, provider or default_provider(s)).delete(template_id)
    emit({"deleted": template_id}, as_json, lambda: out.print(f"deleted {template_id}"))


# --- group SOP ------------------------------------------------------------------------------------------
@sop_app.command("create")
def sop_create(
    file: Annotated[str, typer.Argument(help="A YAML or JSON plan (docs/community.md). 计划文件。")],
    as_json: JsonOpt = False,
) -> None:
    """Create a group SOP from a file. 新建群SOP。"""
    from pathlib import Path

    import yaml

    try:
        spec = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise fail(f"{file}: {exc}", 2) from exc
    if not isinstance(spec, dict):
        raise fail(f"{file}: a mapping with key, name, trigger and steps", 2)
    with _client() as c:
        sop = c.community.create_sop(spec, actor="cli")
    emit(sop, as_json, lambda: out.print(f"{sop['key']}: {len(sop['steps'])} steps"))


@sop_app.command("list")
def sop_list(as_json: JsonOpt = False) -> None:
    """Group SOPs with how many steps were sent, limited or failed. 群SOP列表。"""
    with _client() as c:
        rows = c.community.sops()
    emit(
        rows,
        as_json,
        lambda: print_table(
            ["key", "name", "trigger", "sent", "due", "limited"],
            [
                (r["key"], r["name"], r["trigger"], r["runs"]["sent"], r["runs"]["due"], r["runs"]["limited"])
                for r in rows
            ],
        ),
    )


@sop_app.command("pause")
def sop_pause(key: str, as_json: JsonOpt = False) -> None:
    """Pause a group SOP: nothing is enrolled or sent until resumed. 暂停群SOP。"""
    with _client() as c:
        c.community.pause_sop(key, actor="cli")
    emit({"key": key, "enabled": False}, as_json, lambda: out.print(f"paused {key}"))


@sop_app.command("resume")
def sop_resume(key: str, as_json: JsonOpt = False) -> None:
    """Resume a paused group SOP. 恢复群SOP。"""
    with _client() as c:
        c.community.resume_sop(key, actor="cli")
    emit({"key": key, "enabled": True}, as_json, lambda: out.print(f"resumed {key}"))


@sop_app.command("run")
def sop_run(as_json: JsonOpt = False) -> None:
    """Send the due group-SOP steps now (siyu serve does it each round). 立即执行群SOP。"""
    with _client() as c:
        result = c.community.run_sops()
    emit(result, as_json, lambda: out.print(", ".join(f"{k} {v}" for k, v in result.items())))


# --- community ------------------------------------------------------------------------------------------
@community_app.command("pyramid")
def pyramid(
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="One group's ranking. 单个群。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Each contact's role (seed / koc / member) brand-wide and per group. 社群金字塔。"""
    with _client() as c:
        data = c.community.pyramid(chat_id)
    emit(data, as_json, lambda: out.print(", ".join(f"{k} {v}" for k, v in data["summary"].items())))


@community_app.command("rank")
def rank(as_json: JsonOpt = False) -> None:
    """Recompute every pyramid and the role tags now (siyu serve does it daily). 立即重新分层。"""
    with _client() as c:
        result = c.community.rank()
    emit(result, as_json, lambda: out.print(", ".join(f"{k} {v}" for k, v in result["roles"].items())))


@community_app.command("health")
def health(
    ingest_days: Annotated[
        int,
        typer.Option("--ingest-days", help="Also fetch WeCom's daily statistics (≤ 180). 拉取群统计天数。"),
    ] = 0,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check every group's health; declining groups emit Group Declining. 群健康检查。"""
    with _client() as c:
        ingested = c.community.ingest_stats(ingest_days, provider) if ingest_days else None
        alerts = c.community.check_health()
    data = {"declining": alerts, "ingested": ingested}
    emit(data, as_json, lambda: out.print(f"{len(alerts)} declining groups"))
