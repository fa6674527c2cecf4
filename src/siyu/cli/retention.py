"""`siyu retention …` (how long personal data is kept) and `siyu audit verify` (the audit log's
hash chain). Like every command, they act with the database's own authority."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.i18n import t
from siyu.retention.service import RetentionError

retention_app = typer.Typer(
    help="Retention policies: how long data is kept. 数据保留策略。", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit log. 审计日志。", no_args_is_help=True)

OFF = ("off", "none", "0", "关")


def _number(option: str, value: str | None) -> tuple[bool, int | None]:
    """(given, value) of a ``N|off`` option."""
    if value is None:
        return False, None
    if value.strip().lower() in OFF:
        return True, None
    try:
        return True, int(value)
    except ValueError:
        raise fail(t("retention_bad_number", option=option, value=value), 2) from None


def _event_rules(given: list[str]) -> list[dict[str, Any]]:
    if len(given) == 1 and given[0].strip().lower() in OFF:
        return []
    rules = []
    for index, item in enumerate(given):
        name, sep, days = item.rpartition("=")
        if not sep or not name.strip():
            raise fail(t("retention_bad_rule", index=index, value=item), 2)
        try:
            rules.append({"event": name.strip(), "days": int(days)})
        except ValueError:
            raise fail(t("retention_bad_rule", index=index, value=item), 2) from None
    return rules


def _duration(value: int | None, unit: str) -> str:
    return t("retention_off") if value is None else t(f"retention_{unit}", n=value)


@retention_app.command("show")
def show(as_json: JsonOpt = False) -> None:
    """The policies and the last run. 查看保留策略与上次执行。"""
    with open_client() as c:
        data = c.retention.show()
    if as_json:
        print_json(data)
        return
    p = data["policies"]
    rows = [[t("retention_events_rule", event=r["event"]), _duration(r["days"], "days")] for r in p["events"]]
    if not rows:
        rows = [[t("retention_events"), t("retention_off")]]
    rows += [
        [t("retention_contacts"), _duration(p["inactive_contacts_years"], "years")],
        [t("retention_outbox"), _duration(p["outbox_body_days"], "days")],
        [t("retention_audit"), _duration(p["audit_years"], "years")],
    ]
    print_table([t("retention_policy"), t("retention_keep")], rows)
    last = data["last_run"]
    out.print(t("retention_last_run", at=last["finished_at"]) if last else t("retention_never_run"))


@retention_app.command("set")
def set_policies(
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--events",
            help="NAME=DAYS, repeatable; * is every other event; 'off' deletes no events. "
            "事件保留天数，可重复；* 表示其余事件。",
        ),
    ] = None,
    contacts_years: Annotated[
        str | None,
        typer.Option("--inactive-contacts-years", help="Years, or off. 不活跃联系人保留年数。"),
    ] = None,
    outbox_days: Annotated[
        str | None, typer.Option("--outbox-body-days", help="Days after delivery, or off. 消息正文保留天数。")
    ] = None,
    audit_years: Annotated[
        str | None, typer.Option("--audit-years", help="Years, or off. 审计日志保留年数。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change the policies given; the others stay. 修改保留策略（未给出的不变）。"""
    changes: dict[str, Any] = {}
    if events is not None:
        changes["events"] = _event_rules(events)
    for key, option, value in (
        ("inactive_contacts_years", "--inactive-contacts-years", contacts_years),
        ("outbox_body_days", "--outbox-body-days", outbox_days),
        ("audit_years", "--audit-years", audit_years),
    ):
        given, number = _number(option, value)
        if given:
            changes[key] = number
    with open_client() as c:
        try:
            policies = c.retention.set(actor="cli", **changes)
        except RetentionError as exc:
            raise fail(str(exc), 2) from exc
    if as_json:
        print_json(policies)
    else:
        out.print(t("retention_saved"))


@retention_app.command("run")
def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would go. 只统计将删除的数量。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply the policies now; prints what each removed. 立即执行保留策略。"""
    with open_client() as c:
        result = c.retention.run(dry_run=dry_run, actor="cli")
    if as_json:
        print_json(result)
    else:
        removed = result["removed"]
        rows = [[t("retention_events_rule", event=k), n] for k, n in removed["events"].items()]
        rows += [
            [t("retention_contacts"), removed["inactive_contacts"]],
            [t("retention_outbox"), removed["outbox_bodies"]],
            [t("retention_audit"), removed["audit_entries"]],
        ]
        head = t("retention_would_remove") if dry_run else t("retention_removed")
        print_table([t("retention_policy"), head], rows)
        for error in result["errors"]:
            out.print(t("error", what=error))
    if result["errors"]:
        raise typer.Exit(1)


@audit_app.command("verify")
def verify(as_json: JsonOpt = False) -> None:
    """Check the audit log's hash chain; exit 1 when broken. 校验审计日志是否被篡改。"""
    with open_client() as c:
        result = c.audit.verify()
    if as_json:
        print_json(result)
    elif result["ok"]:
        out.print(t("audit_intact", entries=result["entries"]))
    else:
        b = result["broken"]
        shown = "-" if b["id"] is None else b["id"]
        what = t(f"audit_problem_{b['problem']}", id=shown, seq=b["seq"])
        out.print(t("audit_broken", id=shown, what=what))
    if not result["ok"]:
        raise typer.Exit(1)
