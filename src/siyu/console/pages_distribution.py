"""Console pages for distribution (分销): promoters with their approval actions (the main
page), the settings form, the commission ledger, one promoter's dashboard and the settlement
sheet download.

Everyone who reads contacts sees these pages; deciding on promoters needs contacts.write; the
settings (they move money) are changed by who manages channels (admins); the settlement sheet
names people, so it needs pii.export. A refused form is drawn again (HTTP 422) with the field
named in the reader's language and what was typed kept."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client, unit_of_work
from siyu.api.files import file_response
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import PageError, principal_of, render, user_language
from siyu.distribution.settings import FIELDS, DistributionError
from siyu.distribution.views import names_of
from siyu.exports.tabular import ExportFormatError

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/distribution"): P.CONTACTS_READ,
    ("POST", "/console/distribution/promoters/{code}/approve"): P.CONTACTS_WRITE,
    ("POST", "/console/distribution/promoters/{code}/reject"): P.CONTACTS_WRITE,
    ("GET", "/console/distribution/promoters/{code}"): P.CONTACTS_READ,
    ("GET", "/console/distribution/settings"): P.CONTACTS_READ,
    ("POST", "/console/distribution/settings"): P.CHANNELS_MANAGE,
    ("GET", "/console/distribution/commissions"): P.CONTACTS_READ,
    ("GET", "/console/distribution/export"): P.PII_EXPORT,
}
TABS = (
    ("dist_tab_promoters", "/console/distribution"),
    ("dist_tab_commissions", "/console/distribution/commissions"),
    ("dist_tab_settings", "/console/distribution/settings"),
)
STATUSES = ("pending", "approved", "rejected")
STATES = ("pending", "frozen", "settled")


def error_text(exc: DistributionError, lang: str) -> str:
    """A refused request in the reader's language, naming the field by its label."""
    field = exc.field or ""
    label = tr(f"dist_f_{field}", lang) if f"dist_f_{field}" in TEXT else field
    key = f"dist_err_{exc.code}" if f"dist_err_{exc.code}" in TEXT else "dist_err_other"
    text = tr(key, lang, field=label)
    return text if lang == "zh" else f"{text} ({str(exc).split(': ', 1)[-1]})"


def percent(value: Any) -> str:
    """A stored fraction as the percentage typed on the form (``0.1000`` → ``10``); what the
    user typed (``40``, ``abc``) is shown back as typed."""
    text = str(value)
    if text.endswith("%"):
        return text[:-1]
    try:
        d = Decimal(text) * 100
    except InvalidOperation:
        return text
    return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d.normalize()}"


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    return render(request, template, status=status, tabs=TABS, **context)


# --- promoters ---------------------------------------------------------------------------------
@router.get("/distribution")
def promoters_page(request: Request, status: str = "", done: str = "") -> HTMLResponse:
    dist = get_client(request).distribution
    status = status if status in STATUSES else ""
    people = dist.promoters(status or None, limit=500)
    with unit_of_work(request) as s:
        names = names_of(s, [p["contact_id"] for p in people])
    lang = user_language(request)
    flash = tr(f"dist_done_{done}", lang) if f"dist_done_{done}" in TEXT else None
    return _page(
        request,
        "distribution.html",
        promoters=people,
        names=names,
        shown_status=status,
        statuses=STATUSES,
        settings=dist.settings(),
        flash=flash,
    )


async def _decide(request: Request, code: str, approve: bool) -> Response:
    form = await request.form()
    note = str(form.get("note") or "").strip() or None
    dist, actor = get_client(request).distribution, principal_of(request).actor
    try:
        (dist.approve if approve else dist.reject)(code, actor=actor, note=note)
    except DistributionError as exc:
        raise PageError(404, "invalid_input", {"what": error_text(exc, user_language(request))}) from None
    return RedirectResponse(
        f"/console/distribution?done={'approved' if approve else 'rejected'}", status_code=303
    )


@router.post("/distribution/promoters/{code}/approve")
async def approve(request: Request, code: str) -> Response:
    return await _decide(request, code, True)


@router.post("/distribution/promoters/{code}/reject")
async def reject(request: Request, code: str) -> Response:
    return await _decide(request, code, False)


@router.get("/distribution/promoters/{code}")
def promoter_page(request: Request, code: str) -> HTMLResponse:
    dist = get_client(request).distribution
    try:
        data = dist.dashboard(code)
    except DistributionError as exc:
        raise PageError(404, "invalid_input", {"what": error_text(exc, user_language(request))}) from None
    with unit_of_work(request) as s:
        name = names_of(s, [data["promoter"]["contact_id"]]).get(data["promoter"]["contact_id"])
    return _page(
        request,
        "distribution_promoter.html",
        d=data,
        name=name,
        entries=dist.commissions(code=code, limit=100),
    )


# --- commissions ---------------------------------------------------------------------------------
@router.get("/distribution/commissions")
def commissions_page(request: Request, state: str = "", promoter: str = "") -> HTMLResponse:
    dist = get_client(request).distribution
    state = state if state in STATES else ""
    try:
        entries = dist.commissions(code=promoter.strip() or None, state=state or None, limit=500)
    except DistributionError as exc:
        return _page(
            request,
            "distribution_commissions.html",
            status=404,
            entries=[],
            state=state,
            states=STATES,
            promoter=promoter,
            error=error_text(exc, user_language(request)),
        )
    return _page(
        request,
        "distribution_commissions.html",
        entries=entries,
        state=state,
        states=STATES,
        promoter=promoter,
    )


@router.get("/distribution/export")
def export(request: Request, format: str = "xlsx") -> Response:
    lang = user_language(request)
    try:
        file = get_client(request).distribution.export(format, lang)
    except ExportFormatError:
        raise PageError(422, "invalid_input", {"what": tr("dist_err_format", lang)}) from None
    return file_response(file, tr("dist_export_stem", lang))


# --- settings ------------------------------------------------------------------------------------
def _settings_page(
    request: Request, status: int = 200, typed: dict[str, Any] | None = None, **extra: Any
) -> HTMLResponse:
    current = get_client(request).distribution.settings()
    shown = {**current, **(typed or {})}
    for k in ("level1_rate", "level2_rate", "sharing_ratio"):
        shown[k] = percent(shown[k])
    return _page(request, "distribution_settings.html", status=status, p=shown, **extra)


@router.get("/distribution/settings")
def settings_page(request: Request, saved: int = 0) -> HTMLResponse:
    return _settings_page(request, flash=tr("dist_saved", user_language(request)) if saved else None)


@router.post("/distribution/settings")
async def settings_save(request: Request) -> Response:
    form = await request.form()
    changes: dict[str, Any] = {}
    for k in FIELDS:
        if k in ("enabled", "self_purchase"):
            changes[k] = form.get(k) == "on"
            continue
        value = str(form.get(k) or "").strip()
        if k in ("level1_rate", "level2_rate", "sharing_ratio") and value and not value.endswith("%"):
            value += "%"
        changes[k] = value
    try:
        get_client(request).distribution.set_settings(changes, actor=principal_of(request).actor)
    except DistributionError as exc:
        lang = user_language(request)
        return _settings_page(request, 422, changes, error=error_text(exc, lang), bad=exc.field)
    return RedirectResponse("/console/distribution/settings?saved=1", status_code=303)
