"""REST endpoints for the contacts list: filter and sort it, and act on the picked contacts or
on every contact a filter matches (tag, enrol in a journey, export as CSV/XLSX).

Exports are masked unless the body asks for ``reveal`` and the caller holds ``pii.export``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.files import file_response
from siyu.api.security import actor_of, require, signed_in
from siyu.auth.roles import Permission

router = APIRouter(prefix="/api/v1")


class Selection(BaseModel):
    """Either ``ids`` (picked rows) or ``filter`` (every contact it matches)."""

    ids: list[int] | None = Field(default=None, max_length=100_000)
    filter: dict[str, str] = Field(
        default_factory=dict,
        description="q, channel, stage, tag, segment, created_from, created_to, seen_from, seen_to "
        "(dates YYYY-MM-DD in the brand's time zone, both ends included).",
    )


class TagIn(Selection):
    tag: str = Field(min_length=1, max_length=201)
    create: bool = False


class EnrolIn(Selection):
    journey: str


class ExportIn(Selection):
    format: str = Field(default="csv", pattern="^(csv|xlsx)$")
    reveal: bool = False
    lang: str = Field(default="zh", pattern="^(zh|en)$")


@router.get("/lists/contacts", tags=["contacts"], summary="The filtered, sorted contacts list (masked)")
def contacts_list(
    request: Request,
    q: str = "",
    channel: str = "",
    stage: str = "",
    tag: str = "",
    segment: str = "",
    created_from: str = "",
    created_to: str = "",
    seen_from: str = "",
    seen_to: str = "",
    sort: str = "-created",
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    flt = {k: v for k, v in locals().items() if k not in ("request", "limit", "offset") and v}
    out = get_client(request).contacts.list(flt, limit, offset)
    for row in out["rows"]:
        row["created_at"] = row["created_at"].isoformat()
    return out


@router.post("/lists/contacts/tag", tags=["contacts"], summary="Tag the picked or all filtered contacts")
def contacts_tag(body: TagIn, request: Request) -> dict[str, Any]:
    return get_client(request).contacts.tag(
        body.tag, body.ids, body.filter, actor=actor_of(request), create=body.create
    )


@router.post(
    "/lists/contacts/enrol",
    tags=["contacts"],
    summary="Enrol picked or filtered contacts in a journey",
)
def contacts_enrol(body: EnrolIn, request: Request) -> dict[str, Any]:
    return get_client(request).contacts.enrol(body.journey, body.ids, body.filter, actor=actor_of(request))


@router.post(
    "/lists/contacts/export",
    tags=["contacts"],
    summary="The picked or all filtered contacts as CSV (UTF-8 BOM) or XLSX; masked unless reveal",
    response_class=Response,
)
def contacts_export(body: ExportIn, request: Request) -> Response:
    principal = require(request, Permission.PII_EXPORT) if body.reveal else signed_in(request)
    file = get_client(request).contacts.export(
        body.format, body.ids, body.filter, reveal=body.reveal, actor=principal.actor, lang=body.lang
    )
    return file_response(file, "contacts")
