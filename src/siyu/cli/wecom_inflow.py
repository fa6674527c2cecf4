"""`siyu wecom callbacks …` (the WeCom callback inbox) and `siyu wecom corp-tags …` (corp tags ↔
siyu tags). Like every command, they act with the database's own authority."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.i18n import t

wecom_app = typer.Typer(
    help="WeCom inflow: callbacks and corp tags. 企业微信：回调与企业标签。", no_args_is_help=True
)
callbacks_app = typer.Typer(help="The callback inbox. 回调收件箱。", no_args_is_help=True)
corp_tags_app = typer.Typer(help="WeCom corp tags ↔ siyu tags. 企业标签同步。", no_args_is_help=True)
wecom_app.add_typer(callbacks_app, name="callbacks")
wecom_app.add_typer(corp_tags_app, name="corp-tags")

ProviderOpt = Annotated[
    str | None, typer.Option("--provider", help="WeCom provider key (default: the wecom provider). 服务商。")
]


@callbacks_app.command("list")
def callbacks_list(
    status: Annotated[str | None, typer.Option(help="pending, done, unhandled or failed. 状态。")] = None,
    provider: ProviderOpt = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first. 条数。")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Received callbacks with their state. 查看收到的回调及处理状态。"""
    from siyu.wecom.callbacks.inbox import InboxError

    with open_client() as c:
        try:
            rows = c.wecom_callbacks.list(status, provider, limit)
            counts = c.wecom_callbacks.counts()
        except InboxError as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json({"counts": counts, "callbacks": rows})
        return
    if not rows:
        out.print(t("wecom_cb_none"))
        return
    print_table(
        [
            t(k)
            for k in (
                "wecom_cb_id",
                "wecom_cb_received",
                "wecom_cb_event",
                "wecom_cb_status",
                "wecom_cb_attempts",
                "wecom_cb_error",
            )
        ],
        [
            (
                r["id"],
                r["received_at"][:19],
                f"{r['event']}/{r['change_type']}",
                r["status"],
                r["attempts"],
                r["last_error"],
            )
            for r in rows
        ],
    )


@callbacks_app.command("retry")
def callbacks_retry(
    callback_id: Annotated[
        int | None, typer.Argument(help="Callback id; omit for every failed one. 回调编号。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue a failed (or unhandled) callback again and process it now. 重新处理失败的回调。"""
    from siyu.wecom.callbacks.inbox import InboxError

    with open_client() as c:
        try:
            result = c.wecom_callbacks.retry(callback_id)
        except InboxError as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(result)
        return
    out.print(t("wecom_cb_retried", n=result["queued"], done=result["processed"] or "-"))


@callbacks_app.command("process")
def callbacks_process(as_json: JsonOpt = False) -> None:
    """Process every due callback now (`siyu serve` does it by itself). 立即处理待处理回调。"""
    with open_client() as c:
        result = c.wecom_callbacks.process()
    if as_json:
        print_json(result)
        return
    out.print(t("wecom_cb_processed", done=result or "-"))


@callbacks_app.command("setup")
def callbacks_setup(
    provider: Annotated[str, typer.Argument(help="WeCom provider key. 服务商。")],
    public_url: Annotated[str | None, typer.Option(help="siyu's public address. 对外地址。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The callback URL to paste into WeCom's admin, and whether Token and key are set. 回调地址。"""
    from siyu.channels.providers import ProviderError

    with open_client() as c:
        try:
            data = c.wecom_callbacks.setup(provider, public_url)
        except ProviderError as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(data)
        return
    out.print(
        t(
            "wecom_cb_setup",
            url=data["url"],
            token=data["callback_token_set"],
            key=data["encoding_aes_key_set"],
        )
    )


@corp_tags_app.command("sync")
def corp_tags_sync(provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Full sync of the corp tag library into siyu tags. 全量同步企业标签。"""
    from siyu.channels.http import ProviderError as CallError
    from siyu.channels.providers import ProviderError

    with open_client() as c:
        try:
            result = c.corp_tags.sync(provider)
        except (ProviderError, CallError) as exc:
            raise fail(str(exc)) from exc
    if as_json:
        print_json(result)
        return
    out.print(t("wecom_tags_synced", **result))


@corp_tags_app.command("list")
def corp_tags_list(provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Corp tags and the siyu tags they map to. 企业标签与对应的标签。"""
    with open_client() as c:
        rows = c.corp_tags.list(provider)
    if as_json:
        print_json(rows)
        return
    print_table(
        ["provider", "tag_id", "group", "name", "siyu_tag", "deleted"],
        [(r["provider"], r["tag_id"], r["group"], r["name"], r["siyu_tag"], r["deleted"]) for r in rows],
    )
