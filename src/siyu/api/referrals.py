"""REST endpoints for referral (裂变) campaigns: definitions, status moves, a contact's code and
link, the referrals and rewards of a campaign, and the lifecycle job. Thin: parse, call
``client.referrals``, return its plain data (money as strings in yuan, times ISO 8601 UTC).
A refused definition answers 422 with ``errors: [{field, reason}]``, every bad field at once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from siyu.api.deps import get_client

router = APIRouter(prefix="/api/v1/referrals", tags=["referrals"])

Definition = Annotated[
    dict[str, Any],
    Body(
        description="A campaign definition (docs/referrals.md): key, name, kind (task, group, "
        "first_order), target, rewards, caps, budget, hold_days, fraud_mode, fraud_threshold, "
        "window_days, void_on_delete_hours, starts_at, ends_at.",
    ),
]


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact: Annotated[str, Field(description="id:N, a phone, an email or type:value")]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign: str | None = None
    now: datetime | None = None


@router.get("/campaigns", summary="The referral campaigns")
def campaigns(request: Request, status: str | None = None) -> list[dict[str, Any]]:
    return get_client(request).referrals.campaigns(status)


@router.post("/campaigns", status_code=201, summary="Create a referral campaign (a draft unless status says)")
def create(body: Definition, request: Request) -> dict[str, Any]:
    return get_client(request).referrals.create(body, actor="api")


@router.get("/campaigns/{key}", summary="One campaign with its counts by status")
def campaign(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).referrals.campaign(key)


@router.patch("/campaigns/{key}", summary="Change fields (the whole definition is checked again)")
def update(key: str, body: Definition, request: Request) -> dict[str, Any]:
    return get_client(request).referrals.update(key, body, actor="api")


@router.post("/campaigns/{key}/codes", summary="A contact's code, WeCom state and link (joining them)")
def code(key: str, body: CodeIn, request: Request) -> dict[str, Any]:
    return get_client(request).referrals.code(key, body.contact, actor="api")


@router.post(
    "/campaigns/{key}/{action}",
    summary="activate, pause or end a campaign (declared after /codes, which it would shadow)",
)
def move(key: str, action: str, request: Request) -> dict[str, Any]:
    return get_client(request).referrals.move(key, action, actor="api")


@router.get("/campaigns/{key}/participants", summary="The campaign's participants and their codes")
def participants(
    key: str,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    return get_client(request).referrals.participants(key, limit, offset)


@router.get("/campaigns/{key}/referrals", summary="Referrals with status and fraud reasons")
def referrals(
    key: str,
    request: Request,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    return get_client(request).referrals.list(key, status, limit, offset)


@router.get("/campaigns/{key}/rewards", summary="Rewards paid, withheld (with the reason) or reversed")
def rewards(
    key: str, request: Request, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000
) -> list[dict[str, Any]]:
    return get_client(request).referrals.rewards(key, limit)


@router.post("/run", summary="Run the lifecycle job now: qualify, void, approve and pay")
def run(request: Request, body: RunIn | None = None) -> dict[str, int]:
    body = body or RunIn()
    return get_client(request).referrals.run(now=body.now, campaign=body.campaign)
