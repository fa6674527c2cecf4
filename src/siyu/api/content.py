"""REST endpoints for the content library, and the public short-link redirect ``/l/{code}``.

Thin: parse, call the content service in a unit of work (committed before answering), return
plain data. Errors map to statuses in ``api.app``: unknown → 404, key taken or in use → 409,
invalid document → 422 with the field path (``body.card.buttons[0].label: …``).
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from siyu.api.deps import get_client, unit_of_work
from siyu.api.security import actor_of
from siyu.content.links import ShortLinkService
from siyu.content.service import ContentService, material_dict, template_dict
from siyu.profiles import views

router = APIRouter(prefix="/api/v1/content", tags=["content"])
public_router = APIRouter()

TEMPLATE_DOC = "A template document (see docs/content.md): key, name, channel, body, … ."


class PreviewIn(BaseModel):
    contact: int | str = Field(description="Contact id, a phone, an email, id:42 or type:value.")
    variant: str | None = None


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
        rendered = ContentService(session).preview(key, cid, client.ctx.keyring, body.variant)
        return {"template": key, "contact_id": cid, "variant": body.variant, **rendered.to_dict()}


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
