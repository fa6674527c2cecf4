"""REST endpoints for distribution (分销, ``/api/v1/distribution/…``). Thin: parse, call the
Python API (``s.distribution``), return its plain data. A contact is named like everywhere
else: a phone, an email, ``type:value`` or ``id:N``; a promoter by their code."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.errors import wants_chinese
from siyu.api.files import file_response
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1/distribution")
TAGS: list[str | Any] = ["distribution"]


class ApplyBody(BaseModel):
    contact: str = Field(description="Phone, email, type:value or id:N.", max_length=200)
    note: str | None = Field(default=None, max_length=200)


class DecideBody(BaseModel):
    note: str | None = Field(default=None, max_length=200, description="Why (shown to operators).")


class PromoterUpdate(BaseModel):
    openid: str | None = Field(default=None, max_length=128, description="WeChat Pay receiver openid.")


class BindBody(BaseModel):
    contact: str = Field(description="Phone, email, type:value or id:N.", max_length=200)
    code: str = Field(max_length=32, description="The promoter's code.")


@router.get("/settings", tags=TAGS, summary="Distribution settings")
def settings(request: Request) -> dict[str, Any]:
    return get_client(request).distribution.settings()  # type: ignore[no-any-return]


@router.patch(
    "/settings",
    tags=TAGS,
    summary="Change settings (all checked before any applies; level-1 + level-2 ≤ 100%)",
)
def settings_set(body: dict[str, Any], request: Request) -> dict[str, Any]:
    return get_client(request).distribution.set_settings(body, actor=actor_of(request))  # type: ignore[no-any-return]


@router.get("/promoters", tags=TAGS, summary="Promoters, newest first")
def promoters(
    request: Request,
    status: str | None = Query(default=None, description="pending, approved or rejected."),
    limit: int = Query(default=200, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=100_000_000),
) -> list[dict[str, Any]]:
    return get_client(request).distribution.promoters(status, limit, offset)  # type: ignore[no-any-return]


@router.post("/promoters", tags=TAGS, summary="Apply to become a promoter", status_code=201)
def apply(body: ApplyBody, request: Request) -> dict[str, Any]:
    return get_client(request).distribution.apply(body.contact, actor=actor_of(request), note=body.note)  # type: ignore[no-any-return]


@router.post("/promoters/{code}/approve", tags=TAGS, summary="Approve a promoter")
def approve(code: str, request: Request, body: DecideBody | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return get_client(request).distribution.approve(code, actor=actor_of(request), note=note)  # type: ignore[no-any-return]


@router.post("/promoters/{code}/reject", tags=TAGS, summary="Reject a promoter")
def reject(code: str, request: Request, body: DecideBody | None = None) -> dict[str, Any]:
    note = body.note if body else None
    return get_client(request).distribution.reject(code, actor=actor_of(request), note=note)  # type: ignore[no-any-return]


@router.patch("/promoters/{code}", tags=TAGS, summary="Set the promoter's WeChat Pay receiver openid")
def promoter_update(code: str, body: PromoterUpdate, request: Request) -> dict[str, Any]:
    return get_client(request).distribution.set_openid(code, body.openid, actor=actor_of(request))  # type: ignore[no-any-return]


@router.get("/promoters/{code}/dashboard", tags=TAGS, summary="Sales, commissions by state, downline")
def dashboard(code: str, request: Request) -> dict[str, Any]:
    return get_client(request).distribution.dashboard(code)  # type: ignore[no-any-return]


@router.post("/bindings", tags=TAGS, summary="Bind a contact to a promoter (as their link would)")
def bind(body: BindBody, request: Request) -> dict[str, Any]:
    return get_client(request).distribution.bind(body.contact, body.code)  # type: ignore[no-any-return]


@router.get("/commissions", tags=TAGS, summary="The commission ledger, newest first")
def commissions(
    request: Request,
    promoter: str | None = Query(default=None, max_length=32, description="A promoter's code."),
    state: str | None = Query(default=None, description="pending, frozen or settled."),
    limit: int = Query(default=200, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=100_000_000),
) -> list[dict[str, Any]]:
    return get_client(request).distribution.commissions(promoter, state, limit, offset)  # type: ignore[no-any-return]


@router.post("/settle", tags=TAGS, summary="Run the settlement job (freeze, then settle)")
def settle(request: Request) -> dict[str, int]:
    return get_client(request).distribution.settle()  # type: ignore[no-any-return]


@router.get("/verify", tags=TAGS, summary="Check pending + frozen + settled = earned − reversed")
def verify(request: Request) -> dict[str, Any]:
    return get_client(request).distribution.verify()  # type: ignore[no-any-return]


@router.get("/export", tags=TAGS, summary="Settlement sheet (CSV with BOM, or XLSX)")
def export(request: Request, format: str = Query(default="csv", description="csv or xlsx.")) -> Response:
    lang = "zh" if wants_chinese(request) else "en"
    file = get_client(request).distribution.export(format, lang)
    return file_response(file, "佣金结算" if lang == "zh" else "settlement")


@router.post("/payouts", tags=TAGS, summary="Pay settled commissions through WeChat Pay profit sharing")
def payout(request: Request) -> dict[str, Any]:
    return get_client(request).distribution.payout()  # type: ignore[no-any-return]
