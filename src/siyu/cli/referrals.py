"""`siyu referrals …`: referral (裂变) campaigns, a contact's code and link, the referrals of a
campaign with their status and fraud reasons, and the lifecycle job. ``--json`` prints what
scripts read (``campaigns create FILE --json`` → ``{"key": …}``; ``code`` → ``{"code", "state",
"url"}``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.i18n import language
from siyu.profiles.views import LookupError_
from siyu.referrals.schemas import ReferralError, ReferralNotFound

referrals_app = typer.Typer(help="Referral campaigns (裂变). 裂变活动。", no_args_is_help=True)
campaigns_app = typer.Typer(help="Referral campaigns. 裂变活动。", no_args_is_help=True)
referrals_app.add_typer(campaigns_app, name="campaigns")

TEXTS: dict[str, tuple[str, str]] = {
    "saved": ("已保存裂变活动 {key}", "Saved referral campaign {key}"),
    "status": ("裂变活动 {key} 现为 {status}", "Referral campaign {key} is now {status}"),
    "code": ("邀请码 {code}\n链接 {url}", "Code {code}\nLink {url}"),
    "ran": ("已处理：{done}", "Done: {done}"),
    "bad_file": ("{file}：{reason}", "{file}: {reason}"),
    "bad_time": ("--now：无法识别时间 {value!r}", "--now: cannot read {value!r} as a time"),
}
Opt = typer.Option


def _t(key: str, **params: Any) -> str:
    zh, en = TEXTS[key]
    return (zh if language() == "zh" else en).format(**params)


def _run(as_json: bool, work: Callable[[Any], Any]) -> Any:
    """Run ``work(client)``; a refused request ends the command naming the field (exit 2; 1
    when nothing of that name exists), as JSON too with ``--json``."""
    try:
        with open_client() as c:
            return work(c)
    except (ReferralError, LookupError_) as exc:
        if as_json and isinstance(exc, ReferralError):
            print_json(exc.as_json())
        code = 1 if isinstance(exc, ReferralNotFound | LookupError_) else 2
        raise fail(str(exc), code) from None


def _read(file: str) -> dict[str, Any]:
    import orjson
    import yaml

    path = Path(file)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else orjson.loads(text)
    except (OSError, yaml.YAMLError, orjson.JSONDecodeError) as exc:
        raise fail(_t("bad_file", file=file, reason=exc), 2) from None
    if not isinstance(data, dict):
        raise fail(_t("bad_file", file=file, reason="a mapping with key, name, kind, target, rewards"), 2)
    return data


def _campaign_table(rows: list[dict[str, Any]]) -> None:
    print_table(
        ["key", "name", "kind", "status", "hold_days", "budget", "spent"],
        [
            (r["key"], r["name"], r["kind"], r["status"], r["hold_days"], r["budget"], r["spent"])
            for r in rows
        ],
    )


@campaigns_app.command("create")
def create(
    file: Annotated[
        str, typer.Argument(help="A YAML or JSON definition (docs/referrals.md). 活动定义文件。")
    ],
    as_json: JsonOpt = False,
) -> None:
    """Create a campaign from a file (a draft unless it says status). 新建裂变活动。"""
    data = _read(file)
    row = _run(as_json, lambda c: c.referrals.create(data, actor="cli"))
    print_json(row) if as_json else out.print(_t("saved", key=row["key"]))


@campaigns_app.command("update")
def update(
    key: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")],
    file: Annotated[str, typer.Argument(help="A YAML or JSON file of the fields to change. 要修改的字段。")],
    as_json: JsonOpt = False,
) -> None:
    """Change a campaign (the whole definition is checked again). 修改裂变活动。"""
    data = _read(file)
    row = _run(as_json, lambda c: c.referrals.update(key, data, actor="cli"))
    print_json(row) if as_json else out.print(_t("saved", key=row["key"]))


@campaigns_app.command("list")
def list_campaigns(
    status: Annotated[
        str | None, Opt("--status", help="draft, active, paused or ended. 按状态筛选。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The referral campaigns. 裂变活动列表。"""
    rows = _run(as_json, lambda c: c.referrals.campaigns(status))
    print_json(rows) if as_json else _campaign_table(rows)


@campaigns_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")], as_json: JsonOpt = False
) -> None:
    """A campaign with its counts by status. 活动详情。"""
    row = _run(as_json, lambda c: c.referrals.campaign(key))
    if as_json:
        print_json(row)
        return
    _campaign_table([row])
    print_table(["status", "n"], list(row["counts"].items()))


def _mover(action: str) -> Callable[..., None]:
    def command(
        key: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")], as_json: JsonOpt = False
    ) -> None:
        row = _run(as_json, lambda c: c.referrals.move(key, action, actor="cli"))
        print_json(row) if as_json else out.print(_t("status", key=key, status=row["status"]))

    return command


campaigns_app.command("activate", help="Start (or resume) a campaign. 启动活动。")(_mover("activate"))
campaigns_app.command("pause", help="Pause a campaign: no new referrals. 暂停活动。")(_mover("pause"))
campaigns_app.command("end", help="End a campaign. 结束活动。")(_mover("end"))


@referrals_app.command("code")
def code(
    campaign: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")],
    identifier: Annotated[str, typer.Argument(help="Contact: id:N, phone, email or type:value. 联系人。")],
    as_json: JsonOpt = False,
) -> None:
    """The contact's code, WeCom state and link (joining them if needed). 邀请码与链接。"""
    row = _run(as_json, lambda c: c.referrals.code(campaign, identifier, actor="cli"))
    print_json(row) if as_json else out.print(_t("code", code=row["code"], url=row["url"]))


@referrals_app.command("list")
def list_referrals(
    campaign: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")],
    status: Annotated[
        str | None, Opt("--status", help="pending, qualified, approved, flagged or voided. 按状态筛选。")
    ] = None,
    limit: Annotated[int, Opt("--limit", min=1, max=100_000, help="At most this many. 最多条数。")] = 1000,
    as_json: JsonOpt = False,
) -> None:
    """The campaign's referrals with status and fraud reasons. 推荐记录。"""
    rows = _run(as_json, lambda c: c.referrals.list(campaign, status, limit))
    if as_json:
        print_json(rows)
        return
    print_table(
        ["id", "inviter", "invitee", "gen", "via", "status", "score", "reasons"],
        [
            (r["id"], r["inviter_id"], r["invitee_id"], r["generation"], r["via"], r["status"] + (
                f" ({r['void_reason']})" if r["void_reason"] else ""), r["fraud_score"],
             ", ".join(str(x.get("code")) for x in r["reasons"]) or None)
            for r in rows
        ],
    )  # fmt: skip


@referrals_app.command("rewards")
def rewards(
    campaign: Annotated[str, typer.Argument(help="Campaign key. 活动标识。")], as_json: JsonOpt = False
) -> None:
    """Rewards paid, withheld (with the reason) or reversed. 奖励发放记录。"""
    rows = _run(as_json, lambda c: c.referrals.rewards(campaign))
    if as_json:
        print_json(rows)
        return
    print_table(
        ["contact", "milestone", "side", "kind", "status", "reason", "value"],
        [
            (r["contact_id"], r["milestone"], r["side"], r["kind"], r["status"], r["reason"], r["value"])
            for r in rows
        ],
    )


@referrals_app.command("run")
def run(
    campaign: Annotated[str | None, Opt("--campaign", help="Only this campaign. 只处理该活动。")] = None,
    now: Annotated[
        str | None, Opt("--now", help="Run as of this ISO time (tests, catch-up). 指定时间。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The lifecycle job now: qualify, void, approve and pay. 处理推荐状态与奖励。"""
    when = None
    if now:
        try:
            when = datetime.fromisoformat(now)
        except ValueError:
            raise fail(_t("bad_time", value=now), 2) from None
    done = _run(as_json, lambda c: c.referrals.run(now=when, campaign=campaign))
    print_json(done) if as_json else out.print(_t("ran", done=done))


# stats, leaderboard, tree and the review queue live in their own module, on the same group
from siyu.cli.referral_insights import register as _register_insights  # noqa: E402

_register_insights(referrals_app)

# the poster command (siyu referrals poster CAMPAIGN CODE --out FILE)
from siyu.cli.referral_posters import register as _register_poster  # noqa: E402

_register_poster(referrals_app)
