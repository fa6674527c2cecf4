"""`siyu segments …` and `siyu tags …`: knowing and layering customers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from siyu.cli.common import JsonOpt, err, fail, open_client, out, print_json, print_table
from siyu.client import Siyu
from siyu.i18n import t
from siyu.profiles.views import LookupError_
from siyu.segments.documents import read_document, to_yaml
from siyu.segments.schemas import SegmentDefinitionError
from siyu.segments.service import SegmentError
from siyu.tags.service import TagError
from siyu.warehouse.store import WarehouseBusy

segments_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
tags_app = typer.Typer(no_args_is_help=True)
tag_rules_app = typer.Typer(help="Automatic tagging rules. 自动打标规则。", no_args_is_help=True)
tags_app.add_typer(tag_rules_app, name="rules")

#: Errors a user can fix; anything else is a bug and keeps its traceback.
USER_ERRORS = (SegmentDefinitionError, SegmentError, TagError, LookupError_, WarehouseBusy, ValueError)
T = TypeVar("T")


@contextmanager
def client() -> Iterator[Siyu]:
    with open_client() as c:
        try:
            yield c
        except USER_ERRORS as exc:
            raise fail(str(exc)) from exc


def show(data: Any, as_json: bool, text: Callable[[], None]) -> None:
    if as_json:
        print_json(data)
    else:
        text()


FileArg = Annotated[Path, typer.Argument(help="JSON or YAML file. JSON 或 YAML 文件。")]


# --- segments -----------------------------------------------------------------------------------
@segments_app.command("create")
def segments_create(file: FileArg, as_json: JsonOpt = False) -> None:
    """Create a segment from a file and compute its members. 创建人群并计算成员。"""
    with client() as c:
        data = c.segments.create(read_document(file))
    show(data, as_json, lambda: out.print(t("segment_created", key=data["key"], members=data["members"])))


@segments_app.command("preview")
def segments_preview(
    file: FileArg,
    sample: Annotated[int, typer.Option(help="Sample size. 样本数。", min=0, max=1000)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Count and sample of a definition, without saving it. 预览人数与样本。"""
    with client() as c:
        data = c.segments.preview(read_document(file), sample)
    show(data, as_json, lambda: out.print(t("segment_preview", count=data["count"], sample=data["sample"])))


@segments_app.command("list")
def segments_list(as_json: JsonOpt = False) -> None:
    """Every segment with its size. 人群列表。"""
    with client() as c:
        rows = c.segments.list()

    cols = ("key", "name", "kind", "members", "computed_at")
    show(rows, as_json, lambda: print_table(cols, ([r[c] for c in cols] for r in rows)))


@segments_app.command("show")
def segments_show(
    key: Annotated[str, typer.Argument(help="Segment key. 人群标识。")],
    as_json: JsonOpt = False,
) -> None:
    """A segment and its definition (YAML unless --json). 查看人群定义。"""
    with client() as c:
        data = c.segments.get(key)
    show(data, as_json, lambda: out.print(to_yaml(data), end=""))


@segments_app.command("members")
def segments_members(
    key: Annotated[str, typer.Argument(help="Segment key. 人群标识。")],
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Rows. 行数。")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip. 跳过。")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Contact ids in a segment. 人群成员。"""
    with client() as c:
        ids = c.segments.members(key, limit, offset)
    show(ids, as_json, lambda: out.print("\n".join(str(i) for i in ids)))


@segments_app.command("recompute")
def segments_recompute(
    key: Annotated[
        str | None, typer.Argument(help="Segment key (default: every dynamic one). 人群标识。")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Evaluate everyone. 全量重算。")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recompute dynamic segments (incrementally unless --full). 重算动态人群。"""
    with client() as c:
        results = c.segments.recompute(key, full)

    def text() -> None:
        for r in results:
            out.print(
                t(
                    "segment_recomputed",
                    key=r["segment"],
                    mode=r["mode"],
                    members=r["members"],
                    entered=r["entered_count"],
                    exited=r["exited_count"],
                    seconds=r["seconds"],
                )
            )

    show(results, as_json, text)


@segments_app.command("delete")
def segments_delete(key: Annotated[str, typer.Argument(help="Segment key. 人群标识。")]) -> None:
    """Delete a segment (not while another refers to it). 删除人群。"""
    with client() as c:
        c.segments.delete(key, actor="cli")
    out.print(t("segment_deleted", key=key))


@segments_app.command("update")
def segments_update(
    key: Annotated[str, typer.Argument(help="Segment key (kept). 人群标识（不变）。")],
    file: FileArg,
    as_json: JsonOpt = False,
) -> None:
    """Edit a segment: a new version under the same key, recomputed. 编辑人群：保留标识，生成新版本并重算。"""
    with client() as c:
        data = c.segments.update(key, read_document(file), actor="cli")
    show(
        data,
        as_json,
        lambda: out.print(t("segment_updated", key=key, version=data["version"], members=data["members"])),
    )


@segments_app.command("versions")
def segments_versions(
    key: Annotated[str, typer.Argument(help="Segment key. 人群标识。")], as_json: JsonOpt = False
) -> None:
    """Saved versions of a segment, newest first. 人群的历史版本。"""
    with client() as c:
        rows = c.segments.versions(key)

    def text() -> None:
        for v in rows:
            out.print(
                f"v{v['version']}  {v['created_at'][:16].replace('T', ' ')} UTC  {v['actor']}  {v['name']}"
            )

    show(rows, as_json, text)


@segments_app.command("export")
def segments_export(
    key: Annotated[str, typer.Argument(help="Segment key. 人群标识。")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write. 输出文件。")],
    fmt: Annotated[
        str, typer.Option("--format", help="csv (UTF-8 with BOM) or xlsx. 格式：csv 或 xlsx。")
    ] = "csv",
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Phones and emails in clear (audited). 明文导出（记入审计）。")
    ] = False,
    lang: Annotated[str, typer.Option("--lang", help="Header language: zh or en. 表头语言。")] = "zh",
    as_json: JsonOpt = False,
) -> None:
    """Export a segment's members as CSV or XLSX, masked unless --reveal. 导出人群成员（默认脱敏）。"""
    with client() as c:
        file = c.segments.export(key, fmt, reveal=reveal, actor="cli", lang=lang)
    output.write_bytes(file.content)
    data = {
        "segment": key,
        "format": file.suffix,
        "rows": file.rows,
        "masked": not reveal,
        "output": str(output),
    }
    show(data, as_json, lambda: out.print(t("segment_exported", key=key, rows=file.rows, output=output)))


@segments_app.command("sql")
def segments_sql(file: FileArg, as_json: JsonOpt = False) -> None:
    """The warehouse SQL a definition compiles to (values are bound parameters). 查看生成的 SQL。"""
    with client() as c:
        data = c.segments.sql(read_document(file))
    show(data, as_json, lambda: out.print(data["sql"]))


# --- tags ---------------------------------------------------------------------------------------
ContactsArg = Annotated[
    list[str], typer.Argument(help="Contacts: id:42, a phone, an email or type:value. 联系人。")
]
TagArg = Annotated[str, typer.Argument(help="Tag key: name or group/name. 标签。")]
CreateOpt = Annotated[bool, typer.Option("--create", help="Create the tag if missing. 不存在则创建。")]


@tags_app.command("list")
def tags_list(as_json: JsonOpt = False) -> None:
    """Every tag with how many contacts hold it. 标签列表。"""
    with client() as c:
        rows = c.tags.list()

    cols = ("key", "group", "half_life_days", "contacts")
    show(rows, as_json, lambda: print_table(cols, ([r[c] for c in cols] for r in rows)))


@tags_app.command("create")
def tags_create(
    key: TagArg,
    half_life: Annotated[
        float | None, typer.Option(help="Weight half-life in days. 权重半衰期（天）。")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a tag (its group too when missing). 新建标签。"""
    with client() as c:
        data = c.tags.create(key, half_life, actor="cli")
    show(data, as_json, lambda: out.print(t("tag_created", key=data["key"])))


@tags_app.command("group")
def tags_group(
    name: Annotated[str, typer.Argument(help="Group name. 标签组。")],
    exclusive: Annotated[bool, typer.Option("--exclusive", help="One tag per contact. 组内互斥。")] = False,
    description: Annotated[str, typer.Option(help="Description. 说明。")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Create a tag group. 新建标签组。"""
    with client() as c:
        data = c.tags.create_group(name, description, exclusive, actor="cli")
    show(data, as_json, lambda: out.print(t("tag_group_created", name=data["name"])))


@tags_app.command("add")
def tags_add(
    key: TagArg,
    contacts: ContactsArg,
    weight: Annotated[float | None, typer.Option(help="Weight to add (> 0). 权重。")] = None,
    create: CreateOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Tag contacts. 给联系人打标签。"""
    with client() as c:
        data = c.tags.apply(key, contacts, weight, create=create, actor="cli")
    show(
        data,
        as_json,
        lambda: out.print(t("tags_applied", key=key, added=data["added"], reinforced=data["reinforced"])),
    )
    _not_found(data)


def _not_found(data: dict[str, Any]) -> None:
    """Contacts that matched nothing: reported on stderr, exit code 2 (the rest were applied)."""
    for miss in data["not_found"]:
        err.print(t("error", what=miss["error"]))
    if data["not_found"]:
        raise typer.Exit(2)


@tags_app.command("remove")
def tags_remove(key: TagArg, contacts: ContactsArg, as_json: JsonOpt = False) -> None:
    """Remove a tag from contacts. 移除标签。"""
    with client() as c:
        data = c.tags.remove(key, contacts, actor="cli")
    show(data, as_json, lambda: out.print(t("tags_removed", key=key, removed=data["removed"])))
    _not_found(data)


@tags_app.command("import")
def tags_import(
    file: Annotated[Path, typer.Argument(help="CSV with contact,tag[,weight]. CSV 文件。")],
    create: CreateOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Tag contacts in bulk from a CSV file. 批量导入标签。"""
    with client() as c:
        data = c.tags.import_csv(file, create, actor="cli")

    def text() -> None:
        out.print(t("tags_imported", rows=data["rows"], applied=data["applied"], rejected=data["rejected"]))
        for e in data["errors"][:20]:
            out.print(t("rejected_line", line=e["line"], field=e["field"] or "-", reason=e["error"]))

    show(data, as_json, text)
    if data["rejected"]:
        raise typer.Exit(2)


@tags_app.command("segment")
def tags_segment(
    key: TagArg,
    segment: Annotated[str, typer.Argument(help="Segment key. 人群标识。")],
    create: CreateOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Tag every member of a segment. 给人群全部成员打标签。"""
    with client() as c:
        data = c.tags.apply_to_segment(key, segment, create, actor="cli")
    show(
        data,
        as_json,
        lambda: out.print(t("tags_applied", key=key, added=data["added"], reinforced=data["reinforced"])),
    )


@tags_app.command("show")
def tags_show(
    contact: Annotated[str, typer.Argument(help="id:42, a phone, an email or type:value. 联系人。")],
    as_json: JsonOpt = False,
) -> None:
    """A contact's tags (decayed weights) and tag history. 联系人的标签与历史。"""
    with client() as c:
        data = c.tags.of(contact)

    def text() -> None:
        cells = ([r["key"], f"{r['weight']:.3f}", r["source"], r["applied_at"]] for r in data["tags"])
        print_table(("tag", "weight", "source", "applied_at"), cells)

    show(data, as_json, text)


@tag_rules_app.command("create")
def tag_rules_create(
    name: Annotated[str, typer.Argument(help="Rule name. 规则名。")],
    file: FileArg,
    as_json: JsonOpt = False,
) -> None:
    """Create an event or keyword tagging rule from a file. 新建打标规则。"""
    with client() as c:
        data = c.tags.create_rule(name, read_document(file), actor="cli")
    show(data, as_json, lambda: out.print(t("tag_rule_created", name=data["name"])))


@tag_rules_app.command("list")
def tag_rules_list(as_json: JsonOpt = False) -> None:
    """Tagging rules. 打标规则列表。"""
    with client() as c:
        rows = c.tags.rules()
    show(
        rows,
        as_json,
        lambda: [out.print(f"{r['name']}\t{r['kind']}\t{'on' if r['enabled'] else 'off'}") for r in rows],
    )


@tag_rules_app.command("run")
def tag_rules_run(as_json: JsonOpt = False) -> None:
    """Apply the rules to events not yet seen. 对新事件执行打标规则。"""
    with client() as c:
        data = c.tags.run_rules()
    show(data, as_json, lambda: out.print(t("tag_rules_ran", events=data["events"], matched=data["matched"])))
