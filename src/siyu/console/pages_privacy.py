"""Personal-information rights (个人信息权利): look a person up, download their copy, correct
a trait or an identifier, erase them and show the receipt; the do-not-contact list and past
receipts. Handlers parse the form, call the Python API / privacy capability and render.

The person is always posted in a form body, never put in a URL: URLs land in access logs and
the audit trail of writes records path parameters, and both outlive an erased person.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import principal_of, render
from siyu.console.web import user_language as _lang
from siyu.privacy.schemas import PrivacyError
from siyu.privacy.service import PrivacyService
from siyu.profiles import views
from siyu.profiles.views import LookupError_

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/privacy"): P.PRIVACY_DELETE,
    ("POST", "/console/privacy/find"): P.PRIVACY_DELETE,
    ("POST", "/console/privacy/export"): P.PRIVACY_EXPORT,
    ("POST", "/console/privacy/correct"): P.CONTACTS_WRITE,
    ("POST", "/console/privacy/delete"): P.PRIVACY_DELETE,
    ("POST", "/console/privacy/dnc/{entry_id}/remove"): P.PRIVACY_DELETE,
}


def _local(iso: str, zone: str) -> str:
    """``2026-05-04T02:00:00+00:00`` → ``2026-05-04 10:00`` in the brand's time zone."""
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def _page(request: Request, q: str = "", status: int = 200, **extra: Any) -> Response:
    client = get_client(request)
    zone = client.ctx.timezone()
    person = None
    if q.strip():
        with unit_of_work(request) as session:
            profiles = client.ctx.profiles(session)
            try:
                cid = views.find_contact_id(profiles, client.ctx.parser, q)
            except LookupError_ as exc:
                extra.setdefault("error", tr("privacy_failed", _lang(request), what=str(exc)))
                status = 404 if status == 200 else status
            else:
                shown = views.profile(session, profiles, cid)  # masked: nothing revealed here
                person = {
                    "id": cid,
                    "name": shown["traits"].get("name") or "",
                    "identifiers": shown["identifiers"],
                    "traits": shown["traits"],
                    "holdings": PrivacyService(session, profiles, client.ctx.parser).holdings(cid),
                }
    dnc = [{**e, "created_at": _local(e["created_at"], zone)} for e in client.privacy.do_not_contact(200)]
    receipts = [{**d, "at": _local(d["at"], zone)} for d in client.privacy.deletions(20)]
    return render(
        request,
        "privacy.html",
        status=status,
        q=q,
        person=person,
        dnc=dnc,
        receipts=receipts,
        zone=zone,
        kinds=TEXT,
        **extra,
    )


@router.get("/privacy")
def privacy(request: Request, done: str = "") -> Response:
    flash = tr("privacy_dnc_removed", _lang(request)) if done == "dnc_removed" else None
    return _page(request, flash=flash)


@router.post("/privacy/find")
def find(request: Request, q: str = Form("", max_length=300)) -> Response:
    return _page(request, q)


@router.post("/privacy/export")
def export(request: Request, q: str = Form(..., max_length=300)) -> Response:
    """The person's copy as a JSON download (audited as pii.exported by the capability)."""
    client = get_client(request)
    try:
        data = client.privacy.export(q, actor=principal_of(request).actor)
    except LookupError_ as exc:
        return _page(request, q, status=404, error=tr("privacy_failed", _lang(request), what=str(exc)))
    body = orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2)
    name = f"contact-{data['contact_id']}-copy.json"
    return Response(
        body, media_type="application/json", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post("/privacy/correct")
def correct(
    request: Request,
    q: str = Form(..., max_length=300),
    trait_name: str = Form("", max_length=128),
    trait_value: str = Form("", max_length=2000),
    id_type: str = Form("", max_length=32),
    id_old: str = Form("", max_length=256),
    id_new: str = Form("", max_length=256),
) -> Response:
    lang = _lang(request)
    traits, remove, identifiers = {}, [], []
    if trait_name.strip():
        if trait_value.strip():
            traits[trait_name.strip()] = trait_value.strip()
        else:
            remove.append(trait_name.strip())
    if id_type.strip() or id_old.strip() or id_new.strip():
        identifiers.append({"type": id_type.strip(), "old": id_old, "new": id_new})
    try:
        done = get_client(request).privacy.correct(
            q, traits, remove, identifiers, actor=principal_of(request).actor
        )
    except (LookupError_, PrivacyError) as exc:
        return _page(request, q, status=422, error=tr("privacy_failed", lang, what=str(exc)))
    # A replaced identifier may have been the one looked up by: show the person by id.
    return _page(
        request, f"id:{done['contact_id']}", flash=tr("privacy_corrected", lang, id=done["contact_id"])
    )


@router.post("/privacy/delete")
def delete(request: Request, q: str = Form(..., max_length=300)) -> Response:
    client = get_client(request)
    try:
        receipt = client.privacy.delete(q, actor=principal_of(request).actor, warehouse_wait_s=None)
    except LookupError_ as exc:
        return _page(request, q, status=404, error=tr("privacy_failed", _lang(request), what=str(exc)))
    receipt["at_local"] = _local(receipt["at"], client.ctx.timezone())
    return _page(request, receipt=receipt)


@router.post("/privacy/dnc/{entry_id}/remove")
def dnc_remove(request: Request, entry_id: int) -> Response:
    try:
        get_client(request).privacy.remove_do_not_contact(entry_id, actor=principal_of(request).actor)
    except PrivacyError as exc:
        return _page(request, status=404, error=tr("privacy_failed", _lang(request), what=str(exc)))
    return RedirectResponse("/console/privacy?done=dnc_removed", status_code=303)
