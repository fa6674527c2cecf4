"""`siyu content …`: the content library (内容库) — templates, materials, previews."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from siyu.cli.common import JsonOpt, err, fail, open_client, out, print_json
from siyu.client import Siyu
from siyu.content.files import MaterialFiles, check_size, file_dict
from siyu.content.schemas import ContentError
from siyu.content.service import ContentService, material_dict, template_dict
from siyu.content.sms import count_sms
from siyu.content.variables import variable_catalogue
from siyu.i18n import t
from siyu.profiles.views import LookupError_, find_contact_id
from siyu.segments.documents import read_document, to_yaml
from siyu.segments.schemas import SegmentDefinitionError

content_app = typer.Typer(no_args_is_help=True)  # its help: LAZY in cli/main.py
templates_app = typer.Typer(help="Message templates. 消息模板。", no_args_is_help=True)
materials_app = typer.Typer(
    help="Materials: images, link and mini-program cards. 素材。", no_args_is_help=True
)
content_app.add_typer(templates_app, name="templates")
content_app.add_typer(materials_app, name="materials")

USER_ERRORS = (ContentError, LookupError_, SegmentDefinitionError)
FileArg = Annotated[
    Path, typer.Argument(help="JSON or YAML file: one document or a list. JSON 或 YAML 文件。")
]
KeyArg = Annotated[str, typer.Argument(help="Template key. 模板标识。")]


@contextmanager
def work() -> Iterator[tuple[Siyu, Session, ContentService]]:
    """A unit of work on the content library; user errors become a clean failure."""
    with open_client() as c:
        try:
            with c.ctx.db.session() as s:
                yield c, s, ContentService(s)
        except USER_ERRORS as exc:
            raise fail(str(exc)) from exc


def show(data: Any, as_json: bool, text: Callable[[], None]) -> None:
    if as_json:
        print_json(data)
    else:
        text()


def documents(file: Path) -> list[Any]:
    doc = read_document(file)
    return doc if isinstance(doc, list) else [doc]


# --- templates ------------------------------------------------------------------------------------
@templates_app.command("list")
def templates_list(
    channel: Annotated[str | None, typer.Option(help="wecom_private, sms, email, … 渠道。")] = None,
    scenario: Annotated[str | None, typer.Option(help="Scenario. 场景。")] = None,
    stage: Annotated[str | None, typer.Option(help="Journey stage. 旅程阶段。")] = None,
    tag: Annotated[str | None, typer.Option(help="Template tag. 标签。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Templates in the library. 模板列表。"""
    with work() as (_, _s, svc):
        rows = [template_dict(r) for r in svc.list_templates(channel, scenario, stage, tag)]

    def text() -> None:
        table = Table()
        for col in ("key", "name", "channel", "scenario", "stage", "variants", "tags"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["key"],
                r["name"],
                r["channel"],
                r["scenario"] or "-",
                r["stage"] or "-",
                ", ".join(r["variants"]) or "-",
                ", ".join(r["tags"]) or "-",
            )
        out.print(table)

    show(rows, as_json, text)


@templates_app.command("show")
def templates_show(key: KeyArg, as_json: JsonOpt = False) -> None:
    """A template (YAML unless --json). 查看模板。"""
    with work() as (_, _s, svc):
        data = template_dict(svc.get_template(key))
    show(data, as_json, lambda: out.print(to_yaml(data), end=""))


@templates_app.command("create")
def templates_create(
    file: FileArg,
    update: Annotated[
        bool, typer.Option("--update", help="Replace templates that exist. 已存在则更新。")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create templates from a file (all or none). 从文件创建模板。"""
    results = []
    with work() as (_, _s, svc):
        for doc in documents(file):
            key = doc.get("key") if isinstance(doc, dict) else None
            if update and isinstance(key, str) and svc.template(key) is not None:
                row, action = svc.update_template(key, doc, actor="cli"), "updated"
            else:
                row, action = svc.create_template(doc, actor="cli"), "created"
            results.append({"key": row.key, "channel": row.channel, "action": action})

    def text() -> None:
        for r in results:
            out.print(t(f"template_{r['action']}", key=r["key"], channel=r["channel"]))

    show(results, as_json, text)


@templates_app.command("delete")
def templates_delete(key: KeyArg) -> None:
    """Delete a template. 删除模板。"""
    with work() as (_, _s, svc):
        svc.delete_template(key, actor="cli")
    out.print(t("template_deleted", key=key))


# --- preview --------------------------------------------------------------------------------------
@content_app.command("preview")
def preview(
    key: KeyArg,
    contact: Annotated[str, typer.Argument(help="id:42, a phone, an email or type:value. 联系人。")],
    variant: Annotated[str | None, typer.Option(help="A/B variant. 变体。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Render a template for one contact; nothing is sent or written. 预览个性化内容。"""
    with work() as (c, s, svc):
        cid = find_contact_id(c.ctx.profiles(s), c.ctx.parser, contact)
        rendered = svc.preview(key, cid, c.ctx.keyring, variant)
        s.rollback()  # a preview writes nothing
    data = {"template": key, "contact_id": cid, "variant": variant, **rendered.to_dict()}

    def text() -> None:
        out.print(to_yaml(rendered.content), end="")
        for problem in rendered.errors:
            err.print(t("render_error", what=problem), style="yellow")

    show(data, as_json, text)


# --- materials ------------------------------------------------------------------------------------
@materials_app.command("list")
def materials_list(
    kind: Annotated[str | None, typer.Option(help="image, link or miniprogram. 类型。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Materials in the library. 素材列表。"""
    with work() as (_, _s, svc):
        rows = [material_dict(m) for m in svc.list_materials(kind)]

    def text() -> None:
        table = Table()
        for col in ("key", "kind", "title"):
            table.add_column(col)
        for r in rows:
            table.add_row(r["key"], r["kind"], str(r["data"].get("title", "-")))
        out.print(table)

    show(rows, as_json, text)


@materials_app.command("create")
def materials_create(file: FileArg, as_json: JsonOpt = False) -> None:
    """Create materials from a file (all or none). 从文件创建素材。"""
    with work() as (_, _s, svc):
        rows = [material_dict(svc.create_material(doc, actor="cli")) for doc in documents(file)]

    def text() -> None:
        for r in rows:
            out.print(t("material_created", key=r["key"], kind=r["kind"]))

    show(rows, as_json, text)


@materials_app.command("upload")
def materials_upload(
    file: Annotated[Path, typer.Argument(help="A JPG or PNG image, at most 2 MB. 图片文件。")],
    key: Annotated[
        str | None, typer.Option(help="Also create this material with the image. 同时创建素材。")
    ] = None,
    kind: Annotated[
        str, typer.Option(help="image or miniprogram (the image is its cover). 类型。")
    ] = "image",
    title: Annotated[str | None, typer.Option(help="Mini-program card title. 小程序标题。")] = None,
    appid: Annotated[str | None, typer.Option(help="Mini-program appid. 小程序 appid。")] = None,
    page: Annotated[str | None, typer.Option(help="Mini-program page path. 小程序页面路径。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload an image; with --key, make it a material. 上传图片素材。"""
    with work() as (_, s, svc):
        try:
            check_size(file.stat().st_size)
            data = file.read_bytes()
        except OSError as exc:
            raise ContentError(f"file: cannot read {file}: {exc.strerror}") from None
        stored = file_dict(MaterialFiles(s).store(data, file.name, actor="cli"))
        material = None
        if key:
            extra = {"title": title, "appid": appid, "page": page} if kind == "miniprogram" else {}
            doc = {
                "key": key,
                "kind": kind,
                "data": {"file": stored["id"], **{k: v for k, v in extra.items() if v}},
            }
            material = material_dict(svc.create_material(doc, actor="cli"))
    result = {"file": stored, "material": material}

    def text() -> None:
        out.print(t("file_uploaded", name=stored["filename"], size=stored["size"], id=stored["id"][:12]))
        if material:
            out.print(t("material_created", key=material["key"], kind=material["kind"]))

    show(result, as_json, text)


@materials_app.command("delete")
def materials_delete(
    key: Annotated[str, typer.Argument(help="Material key. 素材标识。")], as_json: JsonOpt = False
) -> None:
    """Delete a material no template uses. 删除素材。"""
    with work() as (_, _s, svc):
        svc.delete_material(key, actor="cli")
    show({"key": key, "deleted": True}, as_json, lambda: out.print(t("material_deleted", key=key)))


@content_app.command("variables")
def variables(as_json: JsonOpt = False) -> None:
    """Variables templates can use: built-ins, traits, event properties. 可用变量。"""
    with work() as (_, s, _svc):
        data = variable_catalogue(s)

    def text() -> None:
        out.print(", ".join(data["builtins"]))
        out.print("contact." + ", contact.".join(data["traits"]) if data["traits"] else "")
        for name, props in data["events"].items():
            out.print(f"{name}: " + ", ".join(f"trigger.{p}" for p in props))

    show(data, as_json, text)


@content_app.command("sms-count")
def sms_count(
    text_: Annotated[str, typer.Argument(metavar="TEXT", help="The SMS text. 短信正文。")],
    sign: Annotated[str | None, typer.Option(help="Signature, e.g. 品牌. 签名。")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Characters and billed parts of an SMS (70, then 67 per part). 短信计费条数。"""
    data = count_sms(text_, sign).to_dict()
    show(data, as_json, lambda: out.print(t("sms_count", **data)))
