"""`siyu events …`: the event catalogue (display names and property labels per event name)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from siyu.cli.common import JsonOpt, fail, out
from siyu.cli.layers import USER_ERRORS, show
from siyu.cli.layers import client as _client
from siyu.client import Siyu
from siyu.events.schemas import CatalogueNotFound
from siyu.i18n import language
from siyu.i18n_errors import explain_validation

events_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
NameArg = Annotated[str, typer.Argument(help="Event name, e.g. 'Order Completed'. 事件名。")]


@contextmanager
def client() -> Iterator[Siyu]:
    with _client() as c:
        try:
            yield c
        except ValidationError as exc:  # a bad edit, worded in the reader's language with its field
            raise fail(explain_validation(exc, language())) from exc
        except (CatalogueNotFound, *USER_ERRORS) as exc:
            raise fail(str(exc)) from exc


@events_app.command("list")
def events_list(as_json: JsonOpt = False) -> None:
    """Every event seen, with its display names and volume. 事件目录。"""
    with client() as c:
        data = c.events.list()

    def text() -> None:
        table = Table()
        for column in ("event", "中文", "English", "volume"):
            table.add_column(column, justify="right" if column == "volume" else "left")
        for row in data:
            table.add_row(row["name"], row["display_zh"] or "", row["display_en"] or "", f"{row['volume']:,}")
        out.print(table)

    show(data, as_json, text)


@events_app.command("show")
def events_show(name: NameArg, as_json: JsonOpt = False) -> None:
    """One event's labels and property labels. 查看事件的显示名与属性名。"""
    with client() as c:
        data = c.events.get(name)

    def text() -> None:
        out.print(f"{data['name']}: {data['display_zh'] or '-'} / {data['display_en'] or '-'}")
        out.print(f"  summary: {data['summary_zh'] or '-'} / {data['summary_en'] or '-'}")
        for key, spec in data["properties"].items():
            out.print(
                f"  {key}: {spec.get('zh') or '-'} / {spec.get('en') or '-'} ({spec.get('kind') or 'text'})"
            )

    show(data, as_json, text)


@events_app.command("set")
def events_set(
    name: NameArg,
    zh: Annotated[str | None, typer.Option("--zh", help="Chinese display name. 中文显示名。")] = None,
    en: Annotated[str | None, typer.Option("--en", help="English display name. 英文显示名。")] = None,
    summary_zh: Annotated[
        str | None, typer.Option(help="Chinese summary, e.g. '[{amount}][（{items}件）]'. 中文摘要模板。")
    ] = None,
    summary_en: Annotated[str | None, typer.Option(help="English summary template. 英文摘要模板。")] = None,
    prop: Annotated[
        list[str] | None,
        typer.Option(
            "--property",
            help="KEY=中文[/English][:kind], kind text|number|money|stage|channel; repeatable. 属性名。",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Edit an event's display names, summary and property labels. 编辑事件的显示名与属性名。"""
    change: dict[str, object] = {
        k: v
        for k, v in {
            "display_zh": zh,
            "display_en": en,
            "summary_zh": summary_zh,
            "summary_en": summary_en,
        }.items()
        if v is not None
    }
    if prop:
        change["properties"] = dict(_property(p) for p in prop)
    with client() as c:
        data = c.events.update(name, change, actor="cli")
    show(
        data,
        as_json,
        lambda: out.print(f"{data['name']}: {data['display_zh'] or '-'} / {data['display_en'] or '-'}"),
    )


def _property(text: str) -> tuple[str, dict[str, str]]:
    key, sep, rest = text.partition("=")
    if not sep or not key.strip():
        raise fail(f"--property {text!r}: expected KEY=中文[/English][:kind]")
    labels, _, kind = rest.partition(":")
    zh, _, en = labels.partition("/")
    spec = {"zh": zh.strip(), "en": en.strip(), "kind": kind.strip()}
    return key.strip(), {k: v for k, v in spec.items() if v}


@events_app.command("learn")
def events_learn(as_json: JsonOpt = False) -> None:
    """Add the event names and property keys seen so far. 从数据中补充事件目录。"""
    with client() as c:
        data = c.events.learn()
    show(
        data,
        as_json,
        lambda: out.print(
            f"{data['events']} events, {data['added']} new, {data['new_properties']} new properties"
        ),
    )
