"""Console pages: the content library (内容库). Templates filtered by channel, scenario, stage
and tag, the materials, and a template's page with a preview rendered for one chosen contact
through the content capability (as ``POST /api/v1/content/templates/{key}/preview``).

A preview shows one contact's data, so it needs content.write, like the API route."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.channels.base import MESSAGE_CHANNELS
from siyu.console.content_form import EDITOR_CHANNELS, contact_query, explain
from siyu.console.permissions import RouteTable
from siyu.console.web import render, user_language
from siyu.console.web import text as _t
from siyu.content.schemas import ContentError
from siyu.content.service import ContentService, material_dict, template_dict
from siyu.content.sms import short_link_length, sms_counts
from siyu.profiles import views

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/content"): P.CONTENT_READ,
    ("GET", "/console/content/templates/{key}"): P.CONTENT_READ,
    ("POST", "/console/content/templates/{key}/preview"): P.CONTENT_WRITE,
}


@router.get("/content")
def content_library(
    request: Request,
    channel: str | None = None,
    scenario: str | None = None,
    stage: str | None = None,
    tag: str | None = None,
    deleted: str | None = None,
    material_saved: str | None = None,
    material_deleted: str | None = None,
) -> HTMLResponse:
    notice = {"deleted": deleted, "material_saved": material_saved, "material_deleted": material_deleted}
    return library_page(request, channel, scenario, stage, tag, notice=notice)


def library_page(
    request: Request,
    channel: str | None = None,
    scenario: str | None = None,
    stage: str | None = None,
    tag: str | None = None,
    status: int = 200,
    notice: dict[str, str | None] | None = None,
) -> HTMLResponse:
    """The library; ``notice`` says what just happened (``material_error``: a problem to show)."""
    chosen = {
        "channel": channel or None,
        "scenario": scenario or None,
        "stage": stage or None,
        "tag": tag or None,
    }
    with unit_of_work(request) as session:
        svc = ContentService(session)
        everything = [template_dict(t) for t in svc.list_templates()]
        shown = [template_dict(t) for t in svc.list_templates(**chosen)]
        materials = [material_dict(m) for m in svc.list_materials()]
    # the filters offer what the library holds
    options = {
        "channel": [c for c in MESSAGE_CHANNELS if any(t["channel"] == c for t in everything)],
        "scenario": sorted({t["scenario"] for t in everything if t["scenario"]}),
        "stage": sorted({t["stage"] for t in everything if t["stage"]}),
        "tag": sorted({tag for t in everything for tag in t["tags"]}),
    }
    return render(
        request,
        "content.html",
        status=status,
        templates=shown,
        total=len(everything),
        materials=materials,
        options=options,
        chosen=chosen,
        channels=EDITOR_CHANNELS,
        notice=notice or {},
    )


def _template_page(request: Request, key: str, status: int = 200, **context: Any) -> HTMLResponse:
    with unit_of_work(request) as session:
        tpl = template_dict(ContentService(session).get_template(key))
    return render(
        request,
        "content_template.html",
        status=status,
        tpl=tpl,
        body_json=json.dumps(tpl["body"], ensure_ascii=False, indent=2),
        variants_json=json.dumps(tpl["variants"], ensure_ascii=False, indent=2) if tpl["variants"] else "",
        **context,
    )


@router.get("/content/templates/{key}")
def content_template(request: Request, key: str, saved: str | None = None) -> HTMLResponse:
    return _template_page(request, key, form={"contact": "", "variant": ""}, saved=bool(saved))


def _preview(request: Request, key: str, contact: str, variant: str | None) -> dict[str, Any]:
    client = get_client(request)
    with unit_of_work(request) as session:
        cid = views.find_contact_id(client.ctx.profiles(session), client.ctx.parser, contact_query(contact))
        svc = ContentService(session)
        rendered = svc.preview(key, cid, client.ctx.keyring, variant)
        sms = sms_counts(
            svc.get_template(key).channel, rendered.content, short_link_length(client.ctx.settings.public_url)
        )
        session.rollback()  # a preview writes nothing
    return {"contact_id": cid, **rendered.to_dict(), "sms": sms}


@router.post("/content/templates/{key}/preview")
async def content_preview(request: Request, key: str) -> HTMLResponse:
    form = await request.form()
    contact = str(form.get("contact") or "").strip()
    variant = str(form.get("variant") or "").strip() or None
    kept = {"contact": contact, "variant": variant or ""}
    try:
        result = await run_in_threadpool(_preview, request, key, contact, variant)
    except views.LookupError_ as exc:
        error = _t(request, "not_found", what=str(exc))
        return await run_in_threadpool(lambda: _template_page(request, key, 404, form=kept, error=error))
    except ContentError as exc:
        error = _t(request, "invalid_input", what=explain(str(exc), user_language(request)))
        return await run_in_threadpool(lambda: _template_page(request, key, 422, form=kept, error=error))
    content = result["content"]
    return await run_in_threadpool(
        lambda: _template_page(
            request,
            key,
            form=kept,
            preview=result,
            preview_json=json.dumps(content, ensure_ascii=False, indent=2),
        )
    )
