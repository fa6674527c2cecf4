"""Console pages of the event catalogue (事件目录): every event name seen, how it reads in
Chinese and English, and its property labels, editable by those who edit segments.

A refused form is drawn again with the problem named and what was typed kept (422); a saved
one redirects (303)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.web import PageError, principal_of, render, user_language
from siyu.events.schemas import KINDS, CatalogueError, CatalogueNotFound
from siyu.events.service import EventCatalogue
from siyu.i18n_errors import explain_validation

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/settings/events"): P.ANALYTICS_READ,
    ("GET", "/console/settings/events/{name:path}"): P.ANALYTICS_READ,
    ("POST", "/console/settings/events/{name:path}"): P.SEGMENTS_WRITE,
}


@router.get("/settings/events")
def events_page(request: Request) -> Response:
    return render(request, "settings_events.html", events=get_client(request).events.list())


@router.get("/settings/events/{name:path}")
def event_page(request: Request, name: str, saved: bool = False) -> Response:
    try:
        event = get_client(request).events.get(name)
    except CatalogueNotFound:
        raise PageError(404, "not_found", {"what": name}) from None
    return render(request, "settings_event.html", event=event, kinds=KINDS, saved=saved, error=None)


@router.post("/settings/events/{name:path}")
async def event_save(request: Request, name: str) -> Response:
    form = await request.form()
    field = lambda k: str(form.get(k) or "")  # noqa: E731
    change: dict[str, Any] = {k: field(k) for k in ("display_zh", "display_en", "summary_zh", "summary_en")}
    change["properties"] = {
        key: {
            "zh": field(f"p_zh_{i}") or None,
            "en": field(f"p_en_{i}") or None,
            "kind": field(f"p_kind_{i}") or None,
        }
        for i, key in enumerate(form.getlist("p_key"))
        if isinstance(key, str) and key
    }
    try:
        with unit_of_work(request) as session:
            EventCatalogue(session).update(name, change, principal_of(request).actor)
    except ValidationError as exc:
        error = explain_validation(exc, user_language(request))
    except CatalogueError as exc:
        error = str(exc)
    else:
        return RedirectResponse(f"/console/settings/events/{quote(name)}?saved=1", status_code=303)
    typed = {**change, "name": name, "properties": change["properties"]}
    return render(
        request, "settings_event.html", status=422, event=typed, kinds=KINDS, saved=False, error=error
    )
