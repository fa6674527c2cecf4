"""`siyu` commands. Every command that prints data takes ``--json``; all honour SIYU_DATA_DIR.

``siyu --help`` imports this module only, so it imports no capability at module level: each
command imports what it uses, and the other command modules load when one of their commands runs
(``cli/lazy.py``). tests/cli/test_startup.py keeps it that way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

import siyu
from siyu.cli.common import JsonOpt, fail, open_client, out, print_json
from siyu.cli.lazy import Lazy, lazy_group
from siyu.i18n import t

if TYPE_CHECKING:
    from siyu.client import Siyu

#: Subcommands in their own modules, imported when one of their commands runs.
LAZY = {
    "segments": Lazy(
        "siyu.cli.layers:segments_app", "Segments (人群): define, preview, recompute. 人群圈选。"
    ),
    "tags": Lazy("siyu.cli.layers:tags_app", "Tags (标签): groups, tagging, rules. 标签管理。"),
    "stages": Lazy(
        "siyu.cli.stages:stages_app", "Journey stages (旅程阶段): assign, history, flow. 用户旅程阶段。"
    ),
    "rfm": Lazy(
        "siyu.cli.stages:rfm_app",
        "RFM scores and segments; without a sub-command, compute them. RFM 分层（无子命令时计算）。",
    ),
    "events": Lazy(
        "siyu.cli.events:events_app",
        "Event catalogue: display names and property labels. 事件目录：事件与属性的显示名。",
    ),
    "content": Lazy(
        "siyu.cli.content:content_app",
        "Content library: templates, materials, previews. 内容库：模板、素材与预览。",
    ),
    "coupons": Lazy(
        "siyu.cli.coupons:coupons_app",
        "Coupons: campaigns, codes, issue, redeem, funnel, abuse. 优惠券：活动、券码、发放、核销。",
    ),
    "referrals": Lazy(
        "siyu.cli.referrals:referrals_app",
        "Referral campaigns (裂变): codes, referrals, rewards. 裂变活动：邀请码、推荐、奖励。",
    ),
    "distribution": Lazy(
        "siyu.cli.distribution:distribution_app",
        "Distribution: promoters, binding, commissions, settlement, payouts. 分销：推广员、佣金、结算。",
    ),
    "journeys": Lazy(
        "siyu.cli.journeys:journeys_app", "SOP journeys (旅程): create, start, pause, report. 自动化旅程。"
    ),
    "providers": Lazy(
        "siyu.cli.journeys:providers_app",
        "Channel providers: WeCom, SMS, smart SMS, SMTP, webhook. 渠道服务商账号。",
    ),
    "analytics": Lazy(
        "siyu.cli.analytics.app:analytics_app",
        "Analyses: activity, retention, funnels, CLV, attribution, experiments… 数据分析。",
    ),
    "import": Lazy(
        "siyu.cli.imports:import_app",
        "Import contacts or events from CSV, Excel (.xlsx) or JSONL files. 导入文件。",
    ),
    "users": Lazy("siyu.cli.users:users_app", "Console users and roles. 控制台用户与角色。"),
    "api-keys": Lazy("siyu.cli.users:api_keys_app", "REST API keys. 接口密钥。"),
    "brand": Lazy("siyu.cli.brand:brand_app", "Brand settings: time zone. 品牌设置：时区。"),
    "retention": Lazy(
        "siyu.cli.retention:retention_app", "Retention policies: how long data is kept. 数据保留策略。"
    ),
    "audit": Lazy("siyu.cli.retention:audit_app", "The audit log. 审计日志。"),
    "groups": Lazy(
        "siyu.cli.community:groups_app",
        "Customer groups (客户群): list, show, sync, live codes, messages. 客户群与群活码。",
    ),
    "community": Lazy(
        "siyu.cli.community:community_app",
        "Communities: the 1% / 9% / 90% pyramid and group health. 社群运营：金字塔与群健康。",
    ),
    "privacy": Lazy(
        "siyu.cli.privacy:privacy_app",
        "PIPL: do-not-contact list and deletion receipts. 个人信息保护：勿扰名单与删除回执。",
    ),
    "wecom": Lazy(
        "siyu.cli.wecom:wecom_app",
        "WeCom: contact ways, figures, sync, callbacks, corp tags. 企业微信渠道。",
    ),
    "staff": Lazy(
        "siyu.cli.wecom_ways:staff_app", "Staff (导购): figures and customer transfers. 员工数据与客户继承。"
    ),
    "orders": Lazy(
        "siyu.cli.orders:orders_app",
        "Orders and subscriptions (周期购): list, import, refund, report. 订单与周期购。",
    ),
    "loyalty": Lazy(
        "siyu.cli.loyalty:loyalty_app",
        "Membership and points (会员积分): enrol, balance, award, spend, ledger, verify, tiers. 会员与积分。",
    ),
    "checkins": Lazy(
        "siyu.cli.loyalty_engage:checkins_app",
        "Daily check-ins (签到): check in, history, settings. 每日签到。",
    ),
    "tasks": Lazy(
        "siyu.cli.loyalty_engage:tasks_app",
        "Tasks and badges (任务与勋章): define, run, badges. 任务与勋章。",
    ),
    "catalogue": Lazy(
        "siyu.cli.loyalty_engage:catalogue_app",
        "The points catalogue (积分商城): items and redemptions. 积分商城。",
    ),
    "birthdays": Lazy(
        "siyu.cli.loyalty_engage:birthdays_app", "The birthday gift (生日礼): run today's gifts. 生日礼。"
    ),
    # a command, not a group: its docstring is its full help, this line its entry in the list
    "worker": Lazy(
        "siyu.cli.journeys:worker",
        "Run the journey worker: enrol, run due steps, send the outbox (until Ctrl-C). 运行旅程执行器。",
    ),
}

app = typer.Typer(
    help="siyu (私域): own your customer relationships. 运营私域：画像、分层、旅程与分析。",
    no_args_is_help=True,
    add_completion=False,
    cls=lazy_group(LAZY),
)
db_app = typer.Typer(help="System of record schema. 数据库结构。", no_args_is_help=True)
#: The PIPL rights on one person, beside ``contacts show`` (their module loads when they run).
CONTACT_RIGHTS = {
    "export": Lazy(
        "siyu.cli.privacy:contacts_export",
        "Everything held about one person, identifiers in clear (PIPL copy; audited). 导出个人副本。",
    ),
    "correct": Lazy(
        "siyu.cli.privacy:contacts_correct",
        "Correct traits or replace a wrong identifier (audited). 更正属性或标识。",
    ),
    "delete": Lazy(
        "siyu.cli.privacy:contacts_delete",
        "Erase one person everywhere and print the receipt (PIPL art. 47). 删除个人信息并出具回执。",
    ),
}
contacts_app = typer.Typer(
    help="Contacts and profiles. 联系人与画像。", no_args_is_help=True, cls=lazy_group(CONTACT_RIGHTS)
)
sources_app = typer.Typer(help="Ingest sources and write keys. 数据源与写入密钥。", no_args_is_help=True)
channels_app = typer.Typer(help="Channels and entry codes. 渠道与活码。", no_args_is_help=True)
warehouse_app = typer.Typer(help="The analytics warehouse. 数据仓库。", no_args_is_help=True)
keys_app = typer.Typer(help="PII encryption keys. 加密密钥。", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (contacts_app, "contacts"),
    (sources_app, "sources"),
    (channels_app, "channels"),
    (warehouse_app, "warehouse"),
    (keys_app, "keys"),
):
    app.add_typer(sub, name=name)


def _show_version(value: bool) -> None:
    if value:
        out.print(f"siyu {siyu.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Print the version. 显示版本。"
        ),
    ] = False,
) -> None:
    """Options of ``siyu`` itself (its help is the app's, above)."""


_client = open_client
_print_json = print_json
_fail = fail


# --- db -------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(as_json: JsonOpt = False) -> None:
    """Migrate the system of record to the latest schema. 升级数据库结构。"""
    from siyu.store.engine import current_revision

    with _client() as c:
        rev = current_revision(c.ctx.db.engine)
    if as_json:
        _print_json({"revision": rev})
    else:
        out.print(t("migrated", rev=rev))


# --- serve / demo ---------------------------------------------------------------------------
#: One size for ``siyu demo`` and ``siyu serve --demo``: both load the same brand.
DEMO_CONTACTS = 5000


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Bind address. 监听地址。")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port. 端口。")] = 8000,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load demo data first when empty. 空库时先生成演示数据。")
    ] = False,
    demo_contacts: Annotated[int, typer.Option(help="Demo size. 演示联系人数。")] = DEMO_CONTACTS,
    workers: Annotated[
        int, typer.Option(help="Server processes (use the second core). 服务进程数。", min=1)
    ] = 1,
) -> None:
    """Migrate, then serve the API (and feed the warehouse). 启动服务。"""
    import uvicorn

    from siyu.api.app import create_app

    client = _client()
    if demo:
        try:
            _run_demo(client, demo_contacts, 90, 42, as_json=False)
        except ValueError:  # another brand's data: serve it, leave it alone
            out.print(t("demo_exists", contacts=client.stats()["contacts"]))
    first = client.users.ensure_first_owner(actor="serve")
    if first:
        url = f"http://{host}:{port}/console"
        # soft_wrap: a wrapped line would break the password in two on a narrow terminal
        out.print(t("first_login", url=url, username=first[0], password=first[1]), soft_wrap=True)
    out.print(t("serving", host=host, port=port))
    if workers > 1:
        client.close()
        uvicorn.run(
            "siyu.api.app:serve_app", factory=True, workers=workers, host=host, port=port, log_level="warning"
        )
        return
    uvicorn.run(create_app(client, feed_warehouse=True), host=host, port=port, log_level="warning")


def _run_demo(client: Siyu, contacts: int, days: int, seed: int, as_json: bool) -> dict[str, Any]:
    from siyu.demo.generator import DemoConfig, load

    started = time.perf_counter()
    summary = load(client.ctx, DemoConfig(contacts=contacts, days=days, seed=seed))
    result = {**summary, "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        _print_json(result)
    elif summary["existing"]:
        out.print(t("demo_already", contacts=summary["contacts"], **summary["created"]))
    else:
        out.print(
            t(
                "demo_done",
                contacts=summary["contacts"],
                events=summary["events"],
                merges=summary["merges"],
                seconds=result["seconds"],
            )
        )
    return result


@app.command()
def demo(
    contacts: Annotated[int, typer.Option(help="Persons to generate. 生成人数。", min=1)] = DEMO_CONTACTS,
    days: Annotated[int, typer.Option(help="Days of history. 历史天数。", min=1)] = 90,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same brand). 随机种子。")] = 42,
    as_json: JsonOpt = False,
) -> None:
    """Load the deterministic demo brand: people, events up to now, tags, segments, templates
    and running SOPs; again on a demo brand adds only what is missing. 生成可复现的演示品牌数据。"""
    from siyu.warehouse.store import WarehouseBusy

    with _client() as client:
        try:
            _run_demo(client, contacts, days, seed, as_json)
        except (ValueError, WarehouseBusy) as exc:
            raise _fail(str(exc)) from exc


# --- contacts -------------------------------------------------------------------------------
@contacts_app.command("show")
def contacts_show(
    identifier: Annotated[
        str, typer.Argument(help="Phone, email, type:value or id:N. 手机号、邮箱或 类型:值。")
    ],
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show PII unmasked (audited). 显示明文（记审计）。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show a contact's profile: identifiers (masked), traits, tags, touches, recent events and
    changed traits. 查看联系人画像：标识、属性、标签、触点、近期行为与属性变更。"""
    from siyu.profiles.views import LookupError_

    with _client() as client:
        try:
            data = client.contact(identifier, reveal=reveal, actor="cli")
        except LookupError_ as exc:
            raise _fail(t("not_found", what=str(exc))) from exc
    if as_json:
        _print_json(data)
        return
    from siyu.cli.profile_view import print_profile

    print_profile(data)


@contacts_app.command("consent")
def contacts_consent(
    identifier: Annotated[str, typer.Argument(help="Phone, email, type:value or id:N.")],
    purpose: Annotated[str, typer.Option(help="marketing, service or analytics. 用途。")],
    grant: Annotated[bool, typer.Option("--grant/--withdraw", help="Grant or withdraw. 授权或撤回。")],
    channel: Annotated[str, typer.Option(help="Channel kind or *. 渠道。")] = "*",
    source: Annotated[str, typer.Option(help="Where the consent was given. 来源。")] = "cli",
) -> None:
    """Record a consent grant or withdrawal. 记录授权。"""
    from siyu.consent.service import ConsentError
    from siyu.profiles.views import LookupError_

    with _client() as client:
        try:
            client.set_consent(identifier, purpose, grant, channel, source)
        except (LookupError_, ConsentError) as exc:
            raise _fail(str(exc)) from exc
    out.print(t("consent_recorded"))


# --- sources and channels -------------------------------------------------------------------
@sources_app.command("create")
def sources_create(
    name: Annotated[str, typer.Argument(help="Source name. 名称。")],
    channel: Annotated[str | None, typer.Option(help="Channel key for first touch. 渠道。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an ingest source and print its write key. 创建数据源。"""
    from siyu.sources.service import SourceError

    with _client() as client:
        try:
            data = client.create_source(name, channel)
        except (SourceError, ValueError) as exc:
            raise _fail(str(exc)) from exc
    if as_json:
        _print_json(data)
    else:
        out.print(t("source_created", name=data["name"], key=data["write_key"]))


@channels_app.command("create")
def channels_create(
    key: Annotated[str, typer.Argument(help="Channel key, e.g. wecom-main. 渠道标识。")],
    kind: Annotated[str, typer.Option(help="wecom, sms, store, douyin, … 类型。")],
    name: Annotated[str | None, typer.Option(help="Display name. 名称。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a channel. 新建渠道。"""
    from siyu.sources.service import SourceError

    with _client() as client:
        try:
            data = client.create_channel(key, kind, name)
        except (SourceError, ValueError) as exc:
            raise _fail(str(exc)) from exc
    _print_json(data) if as_json else out.print(t("channel_created", key=data["key"], kind=data["kind"]))


@channels_app.command("entry-code")
def channels_entry_code(
    channel: Annotated[str, typer.Argument(help="Channel key. 渠道标识。")],
    state: Annotated[str, typer.Option(help="The state string (≤ 30 chars). 活码 state。")],
    name: Annotated[str | None, typer.Option(help="Display name. 名称。")] = None,
    wecom_provider: Annotated[
        str | None, typer.Option(help="WeCom provider: a real contact way. 企业微信服务商（联系我二维码）。")
    ] = None,
    wecom_staff: Annotated[
        str | None, typer.Option(help="Staff userids, comma-separated. 接待成员 userid，逗号分隔。")
    ] = None,
    skip_verify: Annotated[
        bool, typer.Option("--skip-verify", help="Add without the staff's confirmation. 无需验证直接添加。")
    ] = False,
    welcome_template: Annotated[
        str | None, typer.Option(help="Welcome message template key. 欢迎语模板。")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option(help="Tag key for everyone it brings (repeat). 自动打标签。")
    ] = None,
    acquisition_link: Annotated[
        bool, typer.Option("--acquisition-link", help="A 获客助手 link instead of a QR. 获客链接。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an entry code / acquisition link. 新建活码或获客链接。"""
    from siyu.sources.service import SourceError
    from siyu.wecom.provider import WeComUnavailable
    from siyu.wecom.ways import WaysError

    wecom = bool(wecom_provider or wecom_staff or acquisition_link)
    with _client() as client:
        try:
            if wecom:
                data = client.create_entry_code(
                    channel,
                    state,
                    name,
                    wecom_provider=wecom_provider,
                    wecom_staff=[u for u in (wecom_staff or "").split(",") if u.strip()],
                    acquisition_link=acquisition_link,
                    skip_verify=skip_verify,
                    welcome_template=welcome_template,
                    tags=list(tag or []),
                )
            else:
                data = client.create_entry_code(channel, state, name)
        except (SourceError, WaysError, WeComUnavailable, ValueError) as exc:
            raise _fail(str(exc)) from exc
    _print_json(data) if as_json else out.print(t("entry_code_created", state=data["state"]))


# --- stats, warehouse, keys -----------------------------------------------------------------
@app.command()
def stats(as_json: JsonOpt = False) -> None:
    """Counts of contacts, events, identities, merges. 数据概览。"""
    with _client() as client:
        data = client.stats()
    if as_json:
        _print_json(data)
        return
    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in data.items():
        table.add_row(k, str(v))
    out.print(table)


def _warehouse(rebuild: bool, as_json: bool) -> None:
    from siyu.warehouse.store import WarehouseBusy

    with _client() as client:
        try:
            result = client.feed_warehouse(rebuild=rebuild)
        except WarehouseBusy as exc:
            raise _fail(str(exc)) from exc
    data = {"events": result.events, "contacts": result.contacts, "merges": result.merges}
    _print_json(data) if as_json else out.print(t("warehouse_fed", **data))


@warehouse_app.command("feed")
def warehouse_feed(as_json: JsonOpt = False) -> None:
    """Ship new events to the warehouse. 同步新事件。"""
    _warehouse(False, as_json)


@warehouse_app.command("rebuild")
def warehouse_rebuild(as_json: JsonOpt = False) -> None:
    """Rebuild the warehouse from the system of record. 从业务库重建数据仓库。"""
    _warehouse(True, as_json)


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Re-encrypt PII with the first configured key. 用新密钥重新加密。"""
    from siyu.ingest.dead_letters import rewrap
    from siyu.profiles.keys import rotate

    with _client() as client, client.ctx.db.session() as s:
        count = rotate(s, client.ctx.keyring)
        files = rewrap(client.ctx.settings.dead_letter_dir, client.ctx.keyring)  # encrypted too
    if as_json:
        _print_json({"identities": count, "dead_letter_files": files})
    else:
        out.print(t("keys_rotated", count=count))


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new random key for SIYU_SECRET_KEY. 生成新密钥。"""
    from siyu.profiles.pii import generate_key

    out.print(generate_key())


if __name__ == "__main__":  # pragma: no cover
    app()
