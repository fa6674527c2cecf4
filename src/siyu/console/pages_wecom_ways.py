"""Console pages for WeCom: contact ways and 获客助手 links with their real QR and figures
(create, edit, delete), staff with their figures, and the sync with its progress.

Forms post back here; a refused form is drawn again with the reason (422/409, so the write is
not logged as done), a successful one redirects (303) so a reload does not submit twice."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.channels.wecom_api import WeComError
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT
from siyu.console.web import PageError, principal_of, render, text
from siyu.sources.service import SourcesService
from siyu.store.models import ChannelProvider, ContentTemplate, Tag
from siyu.wecom.provider import WeComUnavailable
from siyu.wecom.staff import StaffNotFound, list_staff
from siyu.wecom.sync import SyncError
from siyu.wecom.ways import WaysConflict, WaysError, WaysNotFound

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/wecom"): P.CHANNELS_READ,
    ("POST", "/console/wecom/codes"): P.CHANNELS_MANAGE,
    ("GET", "/console/wecom/codes/{state}"): P.CHANNELS_READ,
    ("POST", "/console/wecom/codes/{state}"): P.CHANNELS_MANAGE,
    ("POST", "/console/wecom/codes/{state}/delete"): P.CHANNELS_MANAGE,
    ("GET", "/console/wecom/staff"): P.CHANNELS_READ,
    ("GET", "/console/wecom/staff/{userid}"): P.CHANNELS_READ,
    ("GET", "/console/wecom/sync"): P.CHANNELS_READ,
    ("POST", "/console/wecom/sync"): P.CHANNELS_MANAGE,
}
TABS = (
    ("wecom_tab_codes", "/console/wecom"),
    ("wecom_tab_staff", "/console/wecom/staff"),
    ("wecom_tab_sync", "/console/wecom/sync"),
)


def _t(request: Request) -> Any:
    return partial(text, request)


def _why(request: Request, exc: Exception) -> str:
    """A refusal in the reader's language: WeCom's errcode in words when the page knows it."""
    t = _t(request)
    cause = exc.__cause__
    if isinstance(cause, WeComError) and f"wecom_err_{cause.errcode}" in TEXT:
        detail = t("wecom_refused_code", code=cause.errcode, words=t(f"wecom_err_{cause.errcode}"))
    else:
        detail = str(exc)
    return str(t("wecom_refused", detail=detail))


def _pickers(request: Request) -> dict[str, Any]:
    """What the create/edit forms choose from: channels, WeCom providers, staff, welcome
    templates (WeCom channels) and tags."""
    with unit_of_work(request) as s:
        providers = list(s.scalars(select(ChannelProvider.key).where(ChannelProvider.kind == "wecom")))
        templates = [
            {"key": k, "name": n}
            for k, n in s.execute(
                select(ContentTemplate.key, ContentTemplate.name)
                .where(ContentTemplate.channel.like("wecom%"))
                .order_by(ContentTemplate.key)
            )
        ]
        tags = list(s.scalars(select(Tag.key).order_by(Tag.key)))
        staff = [x for x in list_staff(s) if not x["left"]]
        every = SourcesService(s).channels()
        channels = [{"key": c.key, "name": c.name} for c in [c for c in every if c.kind == "wecom"] or every]
    return {
        "providers": providers,
        "templates": templates,
        "tags": tags,
        "staff": staff,
        "channels": channels,
    }


def _codes_page(
    request: Request, status: int = 200, flash: str | None = None, error: str | None = None, form: Any = None
) -> HTMLResponse:
    client = get_client(request)
    ways = {w["state"]: w for w in client.wecom.ways()}
    rows = [{**ways[f["state"]], "f": f} for f in client.wecom.figures()]
    return render(
        request,
        "wecom_codes.html",
        status=status,
        tabs=TABS,
        codes=rows,
        flash=flash,
        error=error,
        form=form or {},
        **_pickers(request),
    )


@router.get("/wecom")
def codes_page(request: Request, created: str = "", deleted: str = "") -> HTMLResponse:
    t = _t(request)
    flash = (
        t("wecom_created", state=created)
        if created
        else t("wecom_deleted", state=deleted)
        if deleted
        else None
    )
    return _codes_page(request, flash=flash)


def _way_form(raw: Any) -> dict[str, Any]:
    return {
        "channel": str(raw.get("channel") or "").strip(),
        "state": str(raw.get("state") or "").strip(),
        "name": str(raw.get("name") or "").strip(),
        "kind": str(raw.get("kind") or "contact_way"),
        "provider": str(raw.get("provider") or "").strip(),
        "staff": [str(s) for s in raw.getlist("staff") if str(s).strip()],
        "skip_verify": bool(raw.get("skip_verify")),
        "welcome_template": str(raw.get("welcome_template") or "").strip(),
        "tags": [str(s) for s in raw.getlist("tags") if str(s).strip()],
    }


@router.post("/wecom/codes")
async def create_code(request: Request) -> Response:
    form = _way_form(await request.form())
    try:
        get_client(request).wecom.create_way(
            form["channel"],
            form["state"],
            form["provider"],
            form["staff"],
            kind=form["kind"],
            name=form["name"] or None,
            skip_verify=form["skip_verify"],
            welcome_template=form["welcome_template"] or None,
            tags=form["tags"],
            actor=principal_of(request).actor,
        )
    except (WaysError, WeComUnavailable) as exc:
        status = 409 if isinstance(exc, WaysConflict) else 422
        return _codes_page(request, status, error=_why(request, exc), form=form)
    return RedirectResponse(f"/console/wecom?created={quote(form['state'])}", status_code=303)


def _code_page(
    request: Request, state: str, status: int = 200, flash: str | None = None, error: str | None = None
) -> HTMLResponse:
    client = get_client(request)
    try:
        way = client.wecom.way(state)
    except WaysNotFound as exc:
        raise PageError(404, "not_found", {"what": state}) from exc
    figures = client.wecom.figures([state], by_day=True)[0]
    pickers = _pickers(request)
    return render(
        request,
        "wecom_code.html",
        status=status,
        tabs=TABS,
        way=way,
        f=figures,
        flash=flash,
        error=error,
        **pickers,
    )


@router.get("/wecom/codes/{state}")
def code_page(request: Request, state: str, saved: str = "") -> HTMLResponse:
    return _code_page(request, state, flash=_t(request)("wecom_updated", state=state) if saved else None)


@router.post("/wecom/codes/{state}")
async def update_code(request: Request, state: str) -> Response:
    form = _way_form(await request.form())
    try:
        get_client(request).wecom.update_way(
            state,
            name=form["name"] or None,
            staff=form["staff"],
            skip_verify=form["skip_verify"],
            welcome_template=form["welcome_template"],
            tags=form["tags"],
            actor=principal_of(request).actor,
        )
    except WaysNotFound as exc:
        raise PageError(404, "not_found", {"what": state}) from exc
    except (WaysError, WeComUnavailable) as exc:
        return _code_page(request, state, 422, error=_why(request, exc))
    return RedirectResponse(f"/console/wecom/codes/{quote(state)}?saved=1", status_code=303)


@router.post("/wecom/codes/{state}/delete")
def delete_code(request: Request, state: str) -> Response:
    try:
        get_client(request).wecom.delete_way(state, actor=principal_of(request).actor)
    except WaysNotFound as exc:
        raise PageError(404, "not_found", {"what": state}) from exc
    except (WaysError, WeComUnavailable) as exc:
        return _code_page(request, state, 422, error=_why(request, exc))
    return RedirectResponse(f"/console/wecom?deleted={quote(state)}", status_code=303)


@router.get("/wecom/staff")
def staff_page(request: Request) -> HTMLResponse:
    return render(request, "wecom_staff.html", tabs=TABS, staff=get_client(request).staff.list())


@router.get("/wecom/staff/{userid}")
def staff_member_page(request: Request, userid: str) -> HTMLResponse:
    try:
        member = get_client(request).staff.show(userid)
    except StaffNotFound as exc:
        raise PageError(404, "not_found", {"what": userid}) from exc
    known = {x["errcode"] for x in member["transfers"] if f"wecom_err_{x['errcode']}" in TEXT}
    return render(request, "wecom_staff_member.html", tabs=TABS, m=member, known_errcodes=known)


@router.get("/wecom/sync")
def sync_page(request: Request, started: str = "") -> HTMLResponse:
    client = get_client(request)
    runs = client.wecom.sync_runs()
    with unit_of_work(request) as s:
        providers = list(s.scalars(select(ChannelProvider.key).where(ChannelProvider.kind == "wecom")))
    return render(
        request,
        "wecom_sync.html",
        tabs=TABS,
        runs=runs,
        providers=providers,
        running=any(r["status"] == "running" for r in runs),
        flash=_t(request)("wecom_sync_started") if started else None,
    )


@router.post("/wecom/sync")
async def start_sync(request: Request) -> Response:
    raw = await request.form()
    mode = "incremental" if raw.get("mode") == "incremental" else "full"
    try:
        get_client(request).wecom.start_sync(str(raw.get("provider") or "") or None, mode)
    except (SyncError, WeComUnavailable) as exc:
        raise PageError(422, "invalid_input", {"what": str(exc)}) from exc
    return RedirectResponse("/console/wecom/sync?started=1", status_code=303)
