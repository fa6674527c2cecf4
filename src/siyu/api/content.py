"""REST endpoints for the content library, and the public short-link redirect ``/l/{code}``.

Thin: parse, call the content service in a unit of work (committed before answering), return
plain data. Errors map to statuses in ``api.app``: unknown → 404, key taken or in use → 409,
invalid document → 422 with the field path (``body.card.buttons[0].label: …``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from siyu.api.deps import get_client, unit_of_work
from siyu.api.security import actor_of
from siyu.content.files import MAX_BYTES, MaterialFiles, UploadTooLarge, check_size, file_dict
from siyu.content.links import ShortLinkService
from siyu.content.service import ContentService, material_dict, template_dict
from siyu.content.sms import count_sms, short_link_length, sms_counts
from siyu.content.variables import variable_catalogue
from siyu.profiles import views

router = APIRouter(prefix="/api/v1/content", tags=["content"])
public_router = APIRouter()

TEMPLATE_DOC = "A template document (see docs/content.md): key, name, channel, body, … ."


class PreviewIn(BaseModel):
    contact: int | str = Field(description="Contact id, a phone, an email, id:42 or type:value.")
    variant: str | None = None


class DraftPreviewIn(PreviewIn):
    template: dict[str, Any] = Field(description="An unsaved template document (its key is ignored).")


class SmsCountIn(BaseModel):
    text: str = Field(max_length=10_000)
    sign_name: str | None = Field(default=None, max_length=64, description="The signature, e.g. 品牌.")


#: What an upload looks like in the OpenAPI schema: the image's bytes as the request body.
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg")
        },
    }
}
#: Headers of a served upload: never sniffed into HTML, never able to run anything.
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, max-age=86400",
}


async def read_upload(request: Request) -> bytes:
    """The request body, refused once it passes :data:`MAX_BYTES` (by its declared length before
    a byte is read, else while streaming). Called in the handler, so after the route's
    authorisation: nobody unauthenticated makes the server read an upload."""
    declared = request.headers.get("content-length", "")
    check_size(int(declared) if declared.isdigit() else None)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise UploadTooLarge(f"file: more than {MAX_BYTES // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


def store_upload(request: Request, data: bytes, filename: str) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return file_dict(MaterialFiles(session).store(data, filename, actor=actor_of(request)))


def file_response(request: Request, file_id: str) -> Response:
    with unit_of_work(request) as session:
        row = MaterialFiles(session).get(file_id)
        return Response(row.data, media_type=row.content_type, headers=FILE_HEADERS)


@router.get("/templates", summary="Templates, filtered by channel, scenario, stage or tag")
def templates_list(
    request: Request,
    channel: str | None = None,
    scenario: str | None = None,
    stage: str | None = None,
    tag: str | None = None,
) -> list[dict[str, Any]]:
    with unit_of_work(request) as session:
        rows = ContentService(session).list_templates(channel, scenario, stage, tag)
        return [template_dict(t) for t in rows]


@router.post("/templates", status_code=201, summary="Create a template")
def templates_create(
    request: Request, body: dict[str, Any] = Body(description=TEMPLATE_DOC)
) -> dict[str, Any]:
    # The body is validated by the content schemas, so errors name the field in the document.
    with unit_of_work(request) as session:
        return template_dict(ContentService(session).create_template(body, actor=actor_of(request)))


@router.get("/templates/{key}", summary="A template")
def templates_get(key: str, request: Request) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return template_dict(ContentService(session).get_template(key))


@router.put("/templates/{key}", summary="Replace a template (all but its key)")
def templates_update(
    key: str, request: Request, body: dict[str, Any] = Body(description=TEMPLATE_DOC)
) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return template_dict(ContentService(session).update_template(key, body, actor=actor_of(request)))


@router.delete("/templates/{key}", status_code=204, summary="Delete a template")
def templates_delete(key: str, request: Request) -> Response:
    with unit_of_work(request) as session:
        ContentService(session).delete_template(key, actor=actor_of(request))
    return Response(status_code=204)


@router.post("/templates/{key}/preview", summary="Render a template for one contact (nothing is written)")
def templates_preview(key: str, body: PreviewIn, request: Request) -> dict[str, Any]:
    client = get_client(request)
    query = f"id:{body.contact}" if isinstance(body.contact, int) else body.contact
    with unit_of_work(request) as session:
        cid = views.find_contact_id(client.ctx.profiles(session), client.ctx.parser, query)
        svc = ContentService(session)
        rendered = svc.preview(key, cid, client.ctx.keyring, body.variant)
        sms = sms_counts(
            svc.get_template(key).channel, rendered.content, short_link_length(client.ctx.settings.public_url)
        )
        return {"template": key, "contact_id": cid, "variant": body.variant, **rendered.to_dict(), "sms": sms}


@router.post("/preview", summary="Render an unsaved template for one contact (nothing is written)")
def draft_preview(body: DraftPreviewIn, request: Request) -> dict[str, Any]:
    client = get_client(request)
    query = f"id:{body.contact}" if isinstance(body.contact, int) else body.contact
    with unit_of_work(request) as session:
        cid = views.find_contact_id(client.ctx.profiles(session), client.ctx.parser, query)
        rendered = ContentService(session).preview_draft(body.template, cid, client.ctx.keyring, body.variant)
        links = short_link_length(client.ctx.settings.public_url)
        sms = sms_counts(str(body.template.get("channel")), rendered.content, links)
        return {"contact_id": cid, "variant": body.variant, **rendered.to_dict(), "sms": sms}


@router.get("/variables", summary="What templates can use: built-ins, contact traits, event properties")
def variables(request: Request) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return variable_catalogue(session)


@router.post("/sms-count", summary="Characters and billed parts of an SMS (70, then 67 per part)")
def sms_count(body: SmsCountIn) -> dict[str, Any]:
    return count_sms(body.text, body.sign_name).to_dict()


@router.get("/materials", summary="Materials: images, link cards, mini-program cards")
def materials_list(request: Request, kind: str | None = None) -> list[dict[str, Any]]:
    with unit_of_work(request) as session:
        return [material_dict(m) for m in ContentService(session).list_materials(kind)]


@router.post("/materials", status_code=201, summary="Create a material")
def materials_create(
    request: Request, body: dict[str, Any] = Body(description="key, kind (image|link|miniprogram), data")
) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return material_dict(ContentService(session).create_material(body, actor=actor_of(request)))


@router.get("/materials/{key}", summary="A material")
def materials_get(key: str, request: Request) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return material_dict(ContentService(session).get_material(key))


@router.put("/materials/{key}", summary="Replace a material's kind and data")
def materials_update(
    key: str, request: Request, body: dict[str, Any] = Body(description="kind (image|link|miniprogram), data")
) -> dict[str, Any]:
    with unit_of_work(request) as session:
        return material_dict(ContentService(session).update_material(key, body, actor=actor_of(request)))


@router.delete(
    "/materials/{key}", status_code=204, summary="Delete a material (409 while a template uses it)"
)
def materials_delete(key: str, request: Request) -> Response:
    with unit_of_work(request) as session:
        ContentService(session).delete_material(key, actor=actor_of(request))
    return Response(status_code=204)


@router.post(
    "/files",
    status_code=201,
    summary="Upload an image (JPG or PNG, at most 2 MB) as the raw request body",
    openapi_extra=UPLOAD_BODY,
)
async def files_upload(
    request: Request, filename: str = Query("image", max_length=200, description="The file's name.")
) -> dict[str, Any]:
    data = await read_upload(request)
    return await run_in_threadpool(store_upload, request, data, filename)


@router.get(
    "/files/{file_id}",
    summary="An uploaded image",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
def files_get(file_id: str, request: Request) -> Response:
    return file_response(request, file_id)


_NOT_FOUND = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>链接无效 · Link not found</title>
</head><body style="font-family:sans-serif;text-align:center;padding:3em 1em">
<h1>链接不存在或已失效</h1><p>This link does not exist or has expired.</p>
<p style="color:#888">{code}</p></body></html>"""


@public_router.get("/l/{code}", include_in_schema=False)
def short_link(code: str, request: Request) -> Response:
    """Redirect to the link's stored URL (never to anything the request says), counting the
    click. Not cached, so every click reaches us."""
    with unit_of_work(request) as session:
        url = ShortLinkService(session).click(
            code, request.headers.get("user-agent"), request.client.host if request.client else None
        )
    if url is None:
        return HTMLResponse(_NOT_FOUND.format(code=escape(code[:32])), status_code=404)
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
