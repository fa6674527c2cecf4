"""Console pages: the content editor — create, edit and delete templates per channel with a
live preview for a chosen contact, and materials (素材) with uploaded images.

Thin like every page: the form becomes a template document (console/content_form.py) and the
content capability checks and saves it, as ``POST /api/v1/content/templates`` does. Problems
come back in the reader's language naming the field (卡片 · 按钮1 · 文字：必填) and the form keeps
what was typed.

Uploads go to ``POST /console/content/files`` as the raw image (content.js sends it with the
CSRF header): the guard has checked the session and the permission before the handler reads
a byte of the body, and the body is refused past 2 MB (api/content.py ``read_upload``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from siyu.api.content import file_response, read_upload, store_upload
from siyu.api.deps import get_client, unit_of_work
from siyu.api.security import actor_of
from siyu.auth.roles import Permission as P
from siyu.console.content_form import (
    EDITOR_CHANNELS,
    FormProblem,
    contact_query,
    document_from_form,
    explain,
    form_from_template,
    problem_text,
    trait_labels,
)
from siyu.console.pages_content import library_page
from siyu.console.permissions import RouteTable
from siyu.console.web import ENV, render, user_language
from siyu.console.web import text as _t
from siyu.content.files import UploadTooLarge
from siyu.content.schemas import ContentError
from siyu.content.service import (
    ContentConflict,
    ContentNotFound,
    ContentService,
    material_dict,
    template_dict,
)
from siyu.content.sms import PER_PART, SINGLE_PART, short_link_length, sms_counts
from siyu.content.variables import variable_catalogue
from siyu.events.service import EventCatalogue
from siyu.profiles import views
from siyu.segments.schemas import STAGES

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/content/new"): P.CONTENT_WRITE,
    ("POST", "/console/content/new"): P.CONTENT_WRITE,
    ("GET", "/console/content/templates/{key}/edit"): P.CONTENT_WRITE,
    ("POST", "/console/content/templates/{key}/edit"): P.CONTENT_WRITE,
    ("POST", "/console/content/templates/{key}/delete"): P.CONTENT_WRITE,
    ("POST", "/console/content/draft-preview"): P.CONTENT_WRITE,
    ("POST", "/console/content/materials"): P.CONTENT_WRITE,
    ("POST", "/console/content/materials/{key}/delete"): P.CONTENT_WRITE,
    ("POST", "/console/content/files"): P.CONTENT_WRITE,
    ("GET", "/console/content/files/{file_id}"): P.CONTENT_READ,
}
MATERIAL_FIELDS = ("title", "url", "desc", "appid", "page", "file")


def _attachments(form: FormData) -> list[str]:
    return [str(v) for v in form.getlist("attachments") if str(v).strip()]


def _editor(
    request: Request, values: dict[str, Any], editing: str | None, status: int = 200, problem: str = ""
) -> HTMLResponse:
    with unit_of_work(request) as session:
        materials = [material_dict(m) for m in ContentService(session).list_materials()]
        catalogue = variable_catalogue(session)
        lang = user_language(request)
        # the trigger's events and properties as the event catalogue names them (下单 · 金额)
        labels = EventCatalogue(session).labels(catalogue["events"])
        event_labels = {
            name: {"title": label.title(lang), "props": {p: label.property_label(p, lang) for p in props}}
            for name, props in catalogue["events"].items()
            for label in [labels[name]]
        }
    return render(
        request,
        "content_editor.html",
        status=status,
        v=values,
        editing=editing,
        problem=problem,
        trait_labels=trait_labels(catalogue["traits"], user_language(request)),
        materials=materials,
        catalogue=catalogue,
        event_labels=event_labels,
        stages=STAGES,
        channels=EDITOR_CHANNELS,
        sms_limits={"single": SINGLE_PART, "per_part": PER_PART},
    )


def _values(form: FormData) -> dict[str, Any]:
    """What was typed, to show again with an error."""
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    values["attachments"] = _attachments(form)
    values["transactional"] = bool(form.get("transactional"))
    values["fallback_links"] = bool(form.get("fallback_links"))
    return values


@router.get("/content/new")
def new_template(request: Request, channel: str = "wecom_private") -> HTMLResponse:
    chosen = channel if channel in EDITOR_CHANNELS else "wecom_private"
    blank = form_from_template({"channel": chosen})
    blank["fallback_links"] = True
    return _editor(request, blank, None)


@router.get("/content/templates/{key}/edit")
def edit_template(request: Request, key: str) -> HTMLResponse:
    with unit_of_work(request) as session:
        tpl = template_dict(ContentService(session).get_template(key))
    return _editor(request, form_from_template(tpl), key)


def _save(request: Request, form: FormData, editing: str | None) -> str:
    doc = document_from_form(form, _attachments(form))
    with unit_of_work(request) as session:
        svc = ContentService(session)
        if editing is None:
            row = svc.create_template(doc, actor=actor_of(request))
        else:
            doc.pop("key", None)
            row = svc.update_template(editing, doc, actor=actor_of(request))
        return row.key


async def _submit(request: Request, editing: str | None) -> Response:
    form = await request.form()
    lang = user_language(request)
    try:
        key = await run_in_threadpool(_save, request, form, editing)
    except FormProblem as exc:
        error, status = problem_text(exc, lang), 422
    except ContentError as exc:
        error, status = explain(str(exc), lang), 409 if isinstance(exc, ContentConflict) else 422
    else:
        return RedirectResponse(f"/console/content/templates/{key}?saved=1", status_code=303)
    values = _values(form)
    return await run_in_threadpool(lambda: _editor(request, values, editing, status, error))


@router.post("/content/new")
async def create_template(request: Request) -> Response:
    return await _submit(request, None)


@router.post("/content/templates/{key}/edit")
async def update_template(request: Request, key: str) -> Response:
    return await _submit(request, key)


@router.post("/content/templates/{key}/delete")
def delete_template(request: Request, key: str) -> Response:
    with unit_of_work(request) as session:
        svc = ContentService(session)
        name = svc.get_template(key).name
        svc.delete_template(key, actor=actor_of(request))
    return _back({"deleted": name}, "")


def _draft(request: Request, form: FormData) -> dict[str, Any]:
    client = get_client(request)
    doc = document_from_form(form, _attachments(form))
    query = contact_query(str(form.get("contact") or ""))
    with unit_of_work(request) as session:
        cid = views.find_contact_id(client.ctx.profiles(session), client.ctx.parser, query)
        svc = ContentService(session)
        rendered = svc.preview_draft(doc, cid, client.ctx.keyring, str(form.get("variant") or "") or None)
        session.rollback()
    return {
        "contact_id": cid,
        **rendered.to_dict(),
        "sms": sms_counts(
            doc["channel"], rendered.content, short_link_length(client.ctx.settings.public_url)
        ),
    }


@router.post("/content/draft-preview")
async def draft_preview(request: Request) -> JSONResponse:
    """The editor's live preview: the form as typed, rendered for one contact; answers JSON with
    the preview as HTML (the same partial as the template page) so the page shows it as is."""
    form = await request.form()
    lang = user_language(request)
    try:
        result = await run_in_threadpool(_draft, request, form)
    except views.LookupError_ as exc:
        return JSONResponse({"error": _t(request, "not_found", what=str(exc))}, status_code=404)
    except FormProblem as exc:
        return JSONResponse({"error": problem_text(exc, lang)}, status_code=422)
    except ContentError as exc:
        return JSONResponse({"error": explain(str(exc), lang)}, status_code=422)
    channel = str(form.get("channel") or "")
    html = ENV.get_template("content_preview.html").render(
        t=lambda key, **p: _t(request, key, **p), preview=result, channel=channel
    )
    return JSONResponse({"html": html, "errors": result["errors"], "sms": result["sms"]})


# --- materials ------------------------------------------------------------------------------------
def _back(params: dict[str, str], anchor: str = "#materials") -> RedirectResponse:
    """Back to the library with what happened (shown by the page in the reader's language)."""
    return RedirectResponse(f"/console/content?{urlencode(params)}{anchor}", status_code=303)


def _save_material(request: Request, form: FormData) -> str:
    kind = str(form.get("kind") or "")
    data = {k: str(form.get(k) or "").strip() for k in MATERIAL_FIELDS}
    key = str(form.get("key") or "").strip()
    doc = {"key": key, "kind": kind, "data": {k: v for k, v in data.items() if v}}
    with unit_of_work(request) as session:
        return ContentService(session).create_material(doc, actor=actor_of(request)).key


def _material_problem(request: Request, exc: ContentError) -> HTMLResponse:
    """The library again, with the problem in the reader's language (409 key taken or in use)."""
    status = 404 if isinstance(exc, ContentNotFound) else 409 if isinstance(exc, ContentConflict) else 422
    error = explain(str(exc), user_language(request))
    return library_page(request, status=status, notice={"material_error": error})


@router.post("/content/materials")
async def create_material(request: Request) -> Response:
    form = await request.form()
    try:
        key = await run_in_threadpool(_save_material, request, form)
    except ContentError as exc:
        return await run_in_threadpool(_material_problem, request, exc)
    return _back({"material_saved": key})


@router.post("/content/materials/{key}/delete")
def delete_material(request: Request, key: str) -> Response:
    try:
        with unit_of_work(request) as session:
            ContentService(session).delete_material(key, actor=actor_of(request))
    except ContentError as exc:
        return _material_problem(request, exc)
    return _back({"material_deleted": key})


@router.post("/content/files")
async def upload_file(request: Request, filename: str = "image") -> JSONResponse:
    try:
        data = await read_upload(request)
        stored = await run_in_threadpool(store_upload, request, data, filename[:200])
    except ContentError as exc:
        status = 413 if isinstance(exc, UploadTooLarge) else 415
        return JSONResponse({"error": explain(str(exc), user_language(request))}, status_code=status)
    return JSONResponse(stored, status_code=201)


@router.get("/content/files/{file_id}")
def serve_file(request: Request, file_id: str) -> Response:
    return file_response(request, file_id)
