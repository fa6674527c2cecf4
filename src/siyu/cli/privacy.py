"""`siyu contacts export|correct|delete` and `siyu privacy …`: PIPL rights from the terminal.

The CLI acts with the database's own authority (whoever can open it can do anything); the
audit log names the actor ``cli``. Identifiers go in as arguments here, but the audit entries
the capability writes name only the contact id (copy, correction) or a deletion id (erasure).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from pydantic import ValidationError

from siyu.cli.common import JsonOpt, fail, open_client, out, print_json, print_table
from siyu.i18n import t
from siyu.privacy.schemas import PrivacyError
from siyu.profiles.views import LookupError_

privacy_app = typer.Typer(
    help="PIPL: do-not-contact list and deletion receipts. 个人信息保护：勿扰名单与删除回执。",
    no_args_is_help=True,
)
Who = Annotated[str, typer.Argument(help="Phone, email, type:value or id:N. 手机号、邮箱或 类型:值。")]


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise fail(f"{what} {item!r}: expected NAME=VALUE", 2)
        pairs[key.strip()] = value
    return pairs


def contacts_export(
    identifier: Who,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file. 写入文件。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Everything held about one person, identifiers in clear (PIPL copy; audited). 导出个人副本。"""
    with open_client() as c:
        try:
            data = c.privacy.export(identifier, actor="cli")
        except LookupError_ as exc:
            raise fail(t("not_found", what=str(exc))) from exc
    if output is not None:
        output.write_bytes(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2))
        out.print(t("copy_written", path=str(output)))
    elif as_json:
        print_json(data)
    else:
        kinds = [(k, len(v)) for k, v in data.items() if isinstance(v, list)]
        print_table(["kind", "rows"], kinds)


def contacts_correct(
    identifier: Who,
    set_: Annotated[list[str], typer.Option("--set", help="Trait NAME=VALUE (repeat). 设置属性。")] = [],  # noqa: B006
    unset: Annotated[list[str], typer.Option("--unset", help="Trait to remove (repeat). 删除属性。")] = [],  # noqa: B006
    replace: Annotated[
        list[str],
        typer.Option("--replace", help="Identifier TYPE:OLD=NEW (phone:1380…=1391…). 替换标识。"),
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Correct traits or replace a wrong identifier (audited). 更正属性或标识。"""
    identifiers: list[dict[str, Any]] = []
    for item in replace:
        head, sep, new = item.partition("=")
        kind, colon, old = head.partition(":")
        if not sep or not colon:
            raise fail(f"--replace {item!r}: expected TYPE:OLD=NEW", 2)
        identifiers.append({"type": kind.strip(), "old": old, "new": new})
    with open_client() as c:
        try:
            data = c.privacy.correct(identifier, _pairs(set_, "--set"), unset, identifiers, actor="cli")
        except (LookupError_, PrivacyError) as exc:
            raise fail(str(exc)) from exc
        except ValidationError as exc:
            raise fail(str(exc.errors()[0]["msg"]), 2) from exc
    if as_json:
        print_json(data)
    else:
        out.print(t("contact_corrected", id=data["contact_id"]))


def contacts_delete(identifier: Who, as_json: JsonOpt = False) -> None:
    """Erase one person everywhere and print the receipt (PIPL art. 47). 删除个人信息并出具回执。"""
    with open_client() as c:
        try:
            receipt = c.privacy.delete(identifier, actor="cli")
        except LookupError_ as exc:
            raise fail(t("not_found", what=str(exc))) from exc
    if as_json:
        print_json(receipt)
        return
    out.print(t("contact_deleted", **receipt))
    print_table(["kind", "rows"], sorted(receipt["counts"].items()))


@privacy_app.command("dnc")
def dnc_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest N. 最新 N 条。")] = 200,
    as_json: JsonOpt = False,
) -> None:
    """The do-not-contact list (blind indexes, never values). 勿扰名单。"""
    with open_client() as c:
        rows = c.privacy.do_not_contact(limit)
    if as_json:
        print_json(rows)
        return
    cols = ["id", "type", "lookup", "channel", "reason", "deletion_id", "created_at"]
    print_table(cols, [[r[k] for k in cols] for r in rows])


@privacy_app.command("dnc-remove")
def dnc_remove(entry_id: Annotated[int, typer.Argument(help="Entry id. 条目编号。")]) -> None:
    """Take an entry off the do-not-contact list (audited). 移除勿扰条目。"""
    with open_client() as c:
        try:
            c.privacy.remove_do_not_contact(entry_id, actor="cli")
        except PrivacyError as exc:
            raise fail(str(exc)) from exc
    out.print(t("dnc_removed", id=entry_id))


@privacy_app.command("deletions")
def deletions(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest N. 最新 N 条。")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Receipts of past erasures. 删除回执。"""
    with open_client() as c:
        rows = c.privacy.deletions(limit)
    if as_json:
        print_json(rows)
        return
    cols = ["deletion_id", "at", "actor", "total", "digest"]
    print_table(cols, [[r[k] for k in cols] for r in rows])
