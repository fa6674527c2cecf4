"""REST endpoints for membership and points (``/api/v1/loyalty/…``). Thin: parse, call the
Python API (``s.loyalty``), return its plain data. A member is named like a contact: a phone, an
email, ``type:value`` or ``id:N``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1/loyalty")
TAGS: list[str | Any] = ["loyalty"]


class EnrolBody(BaseModel):
    contact: str = Field(description="Phone, email, type:value or id:N.", max_length=200)
    source: str | None = Field(default=None, max_length=64, description="Where they enrolled.")
    consent: bool = Field(default=True, description="They agreed to the member terms (required).")


class AwardBody(BaseModel):
    points: int = Field(description="Points to award (1 to 100,000,000).")
    reason: str = Field(max_length=200)
    external_id: str | None = Field(default=None, max_length=200, description="A repeat changes nothing.")
    source: str = Field(default="manual", max_length=32, description="Earning source (sets the validity).")


class SpendBody(BaseModel):
    points: int = Field(description="Points to spend (1 to 100,000,000).")
    reason: str = Field(default="spend", max_length=200)
    external_id: str | None = Field(default=None, max_length=200, description="A repeat changes nothing.")


class TierBody(BaseModel):
    key: str = Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(max_length=64)
    name_en: str | None = Field(default=None, max_length=64)
    rank: int | None = Field(default=None, ge=0, le=1000)
    threshold: str = Field(default="0", description="Points earned or ¥ spent in the window.")
    multiplier: str = Field(default="1", description="Points multiplier of the tier.")
    upgrade_coupon: str | None = Field(default=None, max_length=64)
    birthday_coupon: str | None = Field(default=None, max_length=64)
    birthday_points: int = Field(default=0, ge=0)


class TierUpdate(BaseModel):
    name: str | None = Field(default=None, max_length=64)
    name_en: str | None = Field(default=None, max_length=64)
    rank: int | None = Field(default=None, ge=0, le=1000)
    threshold: str | None = None
    multiplier: str | None = None
    upgrade_coupon: str | None = Field(default=None, max_length=64)
    birthday_coupon: str | None = Field(default=None, max_length=64)
    birthday_points: int | None = Field(default=None, ge=0)


class JobsBody(BaseModel):
    only: list[str] | None = Field(default=None, description="release, notify, expire, review_tiers.")


@router.get("/programme", tags=TAGS, summary="The programme's settings (points rules, tiers basis)")
def programme(request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.programme()  # type: ignore[no-any-return]


@router.patch("/programme", tags=TAGS, summary="Change settings (all checked before any applies)")
def programme_set(body: dict[str, Any], request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.set_programme(body, actor=actor_of(request))  # type: ignore[no-any-return]


@router.get("/tiers", tags=TAGS, summary="Tiers, lowest first")
def tiers(request: Request) -> list[dict[str, Any]]:
    return get_client(request).loyalty.tiers()  # type: ignore[no-any-return]


@router.post("/tiers", tags=TAGS, summary="Add a tier (thresholds rise with rank)", status_code=201)
def tier_add(body: TierBody, request: Request) -> dict[str, Any]:
    values = body.model_dump(exclude={"key"}, exclude_none=True)
    return get_client(request).loyalty.add_tier(body.key, actor=actor_of(request), **values)  # type: ignore[no-any-return]


@router.patch("/tiers/{key}", tags=TAGS, summary="Change a tier")
def tier_update(key: str, body: TierUpdate, request: Request) -> dict[str, Any]:
    values = body.model_dump(exclude_none=True)
    return get_client(request).loyalty.update_tier(key, actor=actor_of(request), **values)  # type: ignore[no-any-return]


@router.get("/members", tags=TAGS, summary="Members, newest first, with tier and points")
def members(
    request: Request,
    tier: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    return get_client(request).loyalty.members(tier=tier, limit=limit, offset=offset)  # type: ignore[no-any-return]


@router.post(
    "/members", tags=TAGS, summary="Enrol a contact (开卡); returns the member card", status_code=201
)
def enrol(body: EnrolBody, request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.enrol(  # type: ignore[no-any-return]
        body.contact, source=body.source, consent=body.consent, actor=actor_of(request)
    )


@router.get("/members/{query}", tags=TAGS, summary="A member card: number, tier, balances, progress")
def card(query: str, request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.member(query)  # type: ignore[no-any-return]


@router.get("/members/{query}/balance", tags=TAGS, summary="Points: active, pending, spent, expired, tier")
def balance(query: str, request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.balance(query)  # type: ignore[no-any-return]


@router.get("/members/{query}/ledger", tags=TAGS, summary="Every points movement, newest first")
def ledger(
    query: str,
    request: Request,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> list[dict[str, Any]]:
    return get_client(request).loyalty.ledger(query, limit=limit, offset=offset)  # type: ignore[no-any-return]


@router.post("/members/{query}/award", tags=TAGS, summary="Award points (idempotent by external_id)")
def award(query: str, body: AwardBody, request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.award(  # type: ignore[no-any-return]
        query,
        body.points,
        body.reason,
        external_id=body.external_id,
        source=body.source,
        actor=actor_of(request),
    )


@router.post("/members/{query}/spend", tags=TAGS, summary="Spend points (409 when too few)")
def spend(query: str, body: SpendBody, request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.spend(  # type: ignore[no-any-return]
        query, body.points, reason=body.reason, external_id=body.external_id, actor=actor_of(request)
    )


@router.get("/verify", tags=TAGS, summary="Prove the ledger: every balance equals its entries")
def verify(request: Request) -> dict[str, Any]:
    return get_client(request).loyalty.verify()  # type: ignore[no-any-return]


@router.post("/jobs", tags=TAGS, summary="Run the release, notice, expiry and tier-review jobs")
def jobs(body: JobsBody, request: Request) -> dict[str, int]:
    return get_client(request).loyalty.run_jobs(only=body.only)  # type: ignore[no-any-return]
