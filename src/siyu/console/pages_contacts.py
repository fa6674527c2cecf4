"""Contacts (客户): search, the 360° profile, revealing one contact's PII, tag and untag.

Handlers parse the request, call the profiles/tags capabilities in one unit of work and render.
PII stays masked unless a user holding ``pii.reveal`` posts the reveal form; the clear values
then come only from ``views.profile(..., reveal=True)``, which writes the audit entry.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from siyu.api.deps import get_client, unit_of_work
from siyu.api.files import file_response
from siyu.auth.roles import Permission as P
from siyu.console.event_text import describe_timeline
from siyu.console.pages_loyalty import profile_card
from siyu.console.permissions import RouteTable
from siyu.console.texts import tr
from siyu.console.web import PageError, principal_of, render
from siyu.console.web import user_language as _lang
from siyu.journeys.service import JourneyError
from siyu.profiles.detect import redact_reference
from siyu.profiles.listing import SORTS, ContactFilter, ListError, is_last4, list_contacts
from siyu.profiles.search import SearchResult, contact_rows, search_contacts
from siyu.profiles.timeline import profile_360
from siyu.segments.repository import SegmentRepository
from siyu.segments.schemas import STAGES
from siyu.sources.service import SourcesService
from siyu.tags.schemas import TagError
from siyu.tags.service import TagService

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/contacts"): P.CONTACTS_READ,
    ("GET", "/console/contacts/{contact_id}"): P.CONTACTS_READ,
    # each action checks its own permission (tag: contacts.write, enrol: journeys.write)
    ("POST", "/console/contacts/bulk"): P.CONTACTS_READ,
    ("POST", "/console/contacts/{contact_id}/reveal"): P.PII_REVEAL,
    ("POST", "/console/contacts/{contact_id}/tags"): P.CONTACTS_WRITE,
    ("POST", "/console/contacts/{contact_id}/tags/remove"): P.CONTACTS_WRITE,
}
PAGE_SIZE = 50
#: Messages a redirect back to the profile may ask for (never free text from the URL).
DONE = {
    "tag_added": "contacts_tag_added",
    "tag_removed": "contacts_tag_removed",
    "tag_already": "contacts_tag_already",
    "tag_not_held": "contacts_tag_not_held",
}
#: Filter fields of the list (URL parameters and the bulk form's hidden fields).
FILTER_FIELDS = tuple(f.name for f in fields(ContactFilter))
BULK_DONE = {"tagged": "contacts_bulk_tagged", "enrolled": "contacts_bulk_enrolled"}
#: Tag source recorded for changes made here; ``detail`` says they came from the console.
TAG_SOURCE, TAG_DETAIL = "manual", "console"


def _filter(params: dict[str, str]) -> ContactFilter:
    try:
        return ContactFilter.parse(params)
    except ListError as exc:
        raise PageError(422, "invalid_input", {"what": str(exc)}) from None


@router.get("/contacts")
def contacts(request: Request, q: str = "", page: int = 1, go: bool = False) -> Response:
    page = max(page, 1)
    client = get_client(request)
    flt = _filter({k: v for k, v in request.query_params.items() if k in FILTER_FIELDS})
    listed = flt.active or is_last4(q) or flt.sort != "-created"
    with unit_of_work(request) as session:
        profiles = client.ctx.profiles(session)
        if listed:  # filters, a sort or a phone's last four digits: the list query
            ids, total = list_contacts(
                session,
                profiles,
                client.ctx.parser,
                flt,
                client.ctx.timezone(session),  # this session: a second one waits on SQLite
                PAGE_SIZE,
                (page - 1) * PAGE_SIZE,
            )
            found = SearchResult(ids, total, "filter")
        else:
            found = search_contacts(
                session, profiles, client.ctx.parser, q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
            )
        rows = contact_rows(session, profiles, found.ids)
        options = {
            "channels": [(c.key, c.name) for c in SourcesService(session).channels()],
            "segments": [(sg.key, sg.name) for sg in SegmentRepository(session).all()],
            "tags": [t["key"] for t in TagService(session).list()],
        }
    journeys = [j for j in client.journeys.list() if j.get("status") == "active"]
    if go and found.exact and rows:  # e.g. a quick lookup box elsewhere: straight to the profile
        return RedirectResponse(f"/console/contacts/{rows[0]['id']}", status_code=303)
    pages = max(1, -(-found.total // PAGE_SIZE))
    done = request.query_params.get("done", "")
    flash = None
    if done in BULK_DONE:
        flash = tr(BULK_DONE[done], _lang(request), n=request.query_params.get("n", "0"))
    return render(
        request,
        "contacts.html",
        q=q,
        q_shown=redact_reference(q),  # headings repeat a searched phone masked, like the results
        q_private=redact_reference(q) != q,
        rows=rows,
        found=found,
        page=page,
        pages=pages,
        page_size=PAGE_SIZE,
        flt=flt,
        args=flt.query_args(),
        options=options,
        journeys=journeys,
        stages=STAGES,
        sorts=SORTS,
        flash=flash,
    )


@router.post("/contacts/bulk")
async def contacts_bulk(request: Request) -> Response:
    """One bulk action on the ticked rows (scope=selected) or on every contact the list's
    filter matches (scope=all): tag, enrol in a journey, or export."""
    form = await request.form()
    principal = principal_of(request)
    lang = _lang(request)
    action = str(form.get("action", ""))
    flt = _filter({k: str(form.get(k, "")) for k in FILTER_FIELDS})
    ids: list[int] | None = None
    if form.get("scope") != "all" or form.get("scope_lock"):
        try:
            ids = [int(v) for v in form.getlist("ids")]
        except ValueError:
            raise PageError(422, "invalid_input", {"what": tr("contacts_bulk_pick", lang)}) from None
        if not ids:
            raise PageError(422, "invalid_input", {"what": tr("contacts_bulk_pick", lang)})
    client = get_client(request)
    back = "/console/contacts?" + urlencode(flt.query_args())
    if action == "export":
        if not principal.can(P.CONTACTS_READ):
            raise PageError(403, "forbidden", {"role": principal.role, "permission": P.CONTACTS_READ.value})
        fmt = "csv" if form.get("format") == "csv" else "xlsx"
        file = await run_in_threadpool(client.contacts.export, fmt, ids, flt, False, principal.actor, lang)
        return file_response(file, "contacts")
    try:
        if action == "tag":
            _need(principal, P.CONTACTS_WRITE)
            key = str(form.get("bulk_tag", "")).strip()
            if not key:
                raise TagError(tr("contacts_tag_required", lang))
            res = await run_in_threadpool(
                lambda: client.contacts.tag(key, ids, flt, principal.actor, principal.can(P.TAGS_WRITE))
            )
            return RedirectResponse(f"{back}&done=tagged&n={res['added']}", status_code=303)
        if action == "enrol":
            _need(principal, P.JOURNEYS_WRITE)
            journey = str(form.get("journey", ""))
            res = await run_in_threadpool(lambda: client.contacts.enrol(journey, ids, flt, principal.actor))
            return RedirectResponse(f"{back}&done=enrolled&n={res['enrolled']}", status_code=303)
    except (TagError, JourneyError, ListError) as exc:
        raise PageError(422, "invalid_input", {"what": str(exc)}) from None
    raise PageError(422, "invalid_input", {"what": tr("contacts_bulk_pick", lang)})


def _need(principal: Any, permission: P) -> None:
    if not principal.can(permission):
        raise PageError(403, "forbidden", {"role": principal.role, "permission": permission.value})


def _profile_page(
    request: Request,
    contact_id: int,
    reveal: bool = False,
    status: int = 200,
    **extra: Any,
) -> Response:
    client = get_client(request)
    principal = principal_of(request)
    with unit_of_work(request) as session:
        profiles = client.ctx.profiles(session)
        survivor = profiles.repo.survivor_of(contact_id)
        if survivor is None:
            raise PageError(
                404, "not_found", {"what": tr("contacts_contact_n", _lang(request), id=contact_id)}
            )
        if survivor != contact_id:  # merged away: the person lives on as the survivor
            return RedirectResponse(f"/console/contacts/{survivor}?merged_from={contact_id}", status_code=303)
        data = profile_360(session, profiles, contact_id, reveal=reveal, actor=principal.actor)
        describe_timeline(session, data["timeline"], _lang(request))
        loyalty = profile_card(session, contact_id, _lang(request))
    return render(
        request, "contacts_profile.html", status=status, c=data, revealed=reveal, loyalty=loyalty, **extra
    )


@router.get("/contacts/{contact_id}")
def contact_profile(
    request: Request, contact_id: int, done: str = "", tag: str = "", merged_from: int | None = None
) -> Response:
    lang = _lang(request)
    flash = None
    if done in DONE:
        flash = tr(DONE[done], lang, tag=tag)
    elif merged_from is not None:
        flash = tr("contacts_merged_redirect", lang, old=merged_from, id=contact_id)
    return _profile_page(request, contact_id, flash=flash)


@router.post("/contacts/{contact_id}/reveal")
def contact_reveal(request: Request, contact_id: int) -> Response:
    """The profile with identities in clear, for this response only (audited as pii.revealed)."""
    return _profile_page(request, contact_id, reveal=True)


def _tag_change(request: Request, contact_id: int, tag: str, remove: bool) -> Response:
    principal = principal_of(request)
    key = tag.strip()
    lang = _lang(request)
    try:
        if not key:
            raise TagError(tr("contacts_tag_required", lang))
        with unit_of_work(request) as session:
            svc = TagService(session)
            if remove:
                result = svc.remove(key, [contact_id], TAG_SOURCE, actor=principal.actor, detail=TAG_DETAIL)
            else:
                # Users who may define tags create a new one by using it; others pick existing tags.
                result = svc.apply(
                    key,
                    [contact_id],
                    TAG_SOURCE,
                    actor=principal.actor,
                    detail=TAG_DETAIL,
                    create=principal.can(P.TAGS_WRITE),
                )
            if result.unknown_contacts:
                raise PageError(404, "not_found", {"what": tr("contacts_contact_n", lang, id=contact_id)})
    except TagError as exc:
        return _profile_page(
            request,
            contact_id,
            status=422,
            error=tr("contacts_tag_failed", lang, what=str(exc)),
            tag_input=key,
            tag_action="remove" if remove else "add",
        )
    if remove:
        done = "tag_removed" if result.removed else "tag_not_held"
    else:
        done = "tag_added" if result.added else "tag_already"
    query = urlencode({"done": done, "tag": key})
    return RedirectResponse(f"/console/contacts/{contact_id}?{query}", status_code=303)


@router.post("/contacts/{contact_id}/tags")
def contact_tag(request: Request, contact_id: int, tag: str = Form("")) -> Response:
    return _tag_change(request, contact_id, tag, remove=False)


@router.post("/contacts/{contact_id}/tags/remove")
def contact_untag(request: Request, contact_id: int, tag: str = Form("")) -> Response:
    return _tag_change(request, contact_id, tag, remove=True)
