"""REST endpoints for journeys, channel providers, provider callbacks and email unsubscribe.
Thin: parse, call the Python API or a capability, return plain data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from siyu.api.deps import get_client, unit_of_work
from siyu.api.security import actor_of, signed_in
from siyu.auth.roles import Permission
from siyu.channels.inbound import CallbackRefused, receive_callback, unsubscribe_email

router = APIRouter(prefix="/api/v1")
public_router = APIRouter()


class EnrolIn(BaseModel):
    contacts: list[int | str] = Field(min_length=1, max_length=100_000)
    label: str = Field(default="api", max_length=200)


class TimelineIn(BaseModel):
    timeline: dict[str, Any] = Field(
        description="key, name, audience (tag|segment|stage), audience_value, rows "
        "[{day, at, channel, template, unless_event}], exit_event (docs/journeys.md)"
    )
    start: bool = False


class ValidateIn(BaseModel):
    document: dict[str, Any] | None = Field(default=None, description="A journey document.")
    timeline: dict[str, Any] | None = Field(default=None, description="Or a timeline SOP.")
    key: str | None = Field(default=None, description="When editing: the journey's key.")


class ProviderIn(BaseModel):
    key: str
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    secrets: dict[str, Any] = Field(default_factory=dict)
    default: bool = False


@router.get("/journeys", tags=["journeys"], summary="Every journey with its state")
def journeys_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).journeys.list()


@router.post("/journeys", tags=["journeys"], status_code=201, summary="Create a journey (draft)")
def journeys_create(body: dict[str, Any], request: Request) -> dict[str, Any]:
    # Validated by the journey language itself, so errors name the field (422 with `path`).
    return get_client(request).journeys.create(body, actor=actor_of(request))


@router.get("/journeys/editor/options", tags=["journeys"], summary="The editors' picker choices")
def journeys_editor_options(request: Request) -> dict[str, Any]:
    return get_client(request).journeys.editor_options()


@router.get(
    "/journeys/editor/preview", tags=["journeys"], summary="Who holds an audience now (count, masked names)"
)
def journeys_editor_preview(kind: str, value: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.preview(kind, value)


@router.post(
    "/journeys/editor/validate",
    tags=["journeys"],
    summary="Every problem of a journey document or timeline, each with its field",
)
def journeys_editor_validate(body: ValidateIn, request: Request) -> dict[str, Any]:
    journeys = get_client(request).journeys
    if body.timeline is not None:
        return journeys.validate_timeline(body.timeline)
    return journeys.validate(body.document or {}, key=body.key)


@router.post(
    "/journeys/timelines",
    tags=["journeys"],
    summary="Create a journey from a timeline SOP, or a new version of it (also while running)",
)
def journeys_timeline_save(body: TimelineIn, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.save_timeline(
        body.timeline, start=body.start, actor=actor_of(request)
    )


@router.get("/journeys/{key}/timeline", tags=["journeys"], summary="A journey as a timeline SOP")
def journeys_timeline(key: str, request: Request) -> dict[str, Any]:
    timeline = get_client(request).journeys.timeline(key)
    if timeline is None:
        raise HTTPException(409, f"journey {key!r} is more than a timeline; edit its document")
    return timeline


@router.get(
    "/journeys/{key}/steps/{step}/contacts",
    tags=["journeys"],
    summary="Who is waiting at a step (names and phones masked)",
)
def journeys_step_contacts(key: str, step: str, request: Request, limit: int = 100, offset: int = 0) -> dict:
    return get_client(request).journeys.waiting(
        key, step, limit=min(max(limit, 1), 1000), offset=max(offset, 0)
    )


@router.get(
    "/journeys/{key}/steps/{step}/contacts.csv",
    tags=["journeys"],
    summary="Who is waiting at a step as CSV (UTF-8 BOM; masked unless the caller has pii.export; audited)",
)
def journeys_step_contacts_csv(key: str, step: str, request: Request) -> Response:
    principal = signed_in(request)
    data = get_client(request).journeys.export_waiting(
        key, step, reveal=principal.can(Permission.PII_EXPORT), actor=principal.actor
    )
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{key}-{step}.csv"'},
    )


@router.get("/journeys/{key}", tags=["journeys"], summary="A journey and its definition")
def journeys_get(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.get(key)


@router.get(
    "/journeys/{key}/versions",
    tags=["journeys"],
    summary="Saved versions, newest first: who, when, steps added/removed/changed",
)
def journeys_versions(key: str, request: Request) -> list[dict[str, Any]]:
    return get_client(request).journeys.versions(key)


@router.get("/journeys/{key}/versions/{version}", tags=["journeys"], summary="One saved version's document")
def journeys_version(key: str, version: int, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.version(key, version)


@router.put("/journeys/{key}", tags=["journeys"], summary="A new version of a journey (also while running)")
def journeys_update(key: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
    return get_client(request).journeys.update(key, body, actor=actor_of(request))


@router.post("/journeys/{key}/start", tags=["journeys"], summary="Start or resume a journey")
def journeys_start(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.start(key, actor=actor_of(request))


@router.post("/journeys/{key}/pause", tags=["journeys"], summary="Pause a journey")
def journeys_pause(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.pause(key, actor=actor_of(request))


@router.post("/journeys/{key}/archive", tags=["journeys"], summary="Archive a journey")
def journeys_archive(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.archive(key, actor=actor_of(request))


@router.get("/journeys/{key}/stats", tags=["journeys"], summary="Per-step and per-variant report")
def journeys_stats(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.stats(key)


@router.get("/journeys/{key}/steps", tags=["journeys"], summary="The step graph")
def journeys_steps(key: str, request: Request) -> list[dict[str, Any]]:
    return get_client(request).journeys.steps(key)


@router.post(
    "/journeys/{key}/enrol", tags=["journeys"], summary="Enrol contacts (ids or phone/email queries)"
)
def journeys_enrol(key: str, body: EnrolIn, request: Request) -> dict[str, Any]:
    return get_client(request).journeys.enrol(key, body.contacts, label=body.label)


@router.get("/providers", tags=["providers"], summary="Provider accounts (secrets never shown)")
def providers_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).providers.list()


@router.post("/providers", tags=["providers"], status_code=201, summary="Add a provider account")
def providers_create(body: ProviderIn, request: Request) -> dict[str, Any]:
    return get_client(request).providers.add(
        body.key, body.kind, body.config, body.secrets, body.default, actor=actor_of(request)
    )


@router.delete("/providers/{key}", tags=["providers"], status_code=204, summary="Delete a provider account")
def providers_delete(key: str, request: Request) -> None:
    get_client(request).providers.delete(key, actor=actor_of(request))


@router.post(
    "/providers/{key}/callbacks/{kind}",
    tags=["providers"],
    summary="Delivery receipts (kind=receipts) or inbound messages (kind=inbound) pushed by a provider",
)
async def providers_callback(key: str, kind: str, request: Request, token: str = "") -> dict[str, int]:
    body = await request.body()
    ctx = get_client(request).ctx
    with unit_of_work(request) as s:
        try:
            return receive_callback(s, ctx.keyring, ctx.profiles(s), ctx.parser, key, kind, token, body)
        except CallbackRefused as exc:
            raise HTTPException(exc.status, str(exc)) from exc


_UNSUBSCRIBED = """<!doctype html><meta charset="utf-8"><title>退订 Unsubscribed</title>
<p>您已退订营销邮件。You have been unsubscribed from marketing email.</p>"""


@public_router.api_route("/u/{token}", methods=["GET", "POST"], include_in_schema=False)
def unsubscribe(token: str, request: Request) -> HTMLResponse:
    """One-click email unsubscribe (RFC 8058 POST, or a click)."""
    ctx = get_client(request).ctx
    with unit_of_work(request) as s:
        if unsubscribe_email(s, ctx.keyring, ctx.profiles(s), token) is not None:
            return HTMLResponse(_UNSUBSCRIBED)
    raise HTTPException(404, "unknown unsubscribe link")
