"""REST endpoints for referral insights (``/api/v1/referrals/…``, next to the campaigns'):
a campaign's stats, leaderboard and tree, a fraud re-scoring pass, and the review queue.
Thin: parse, call the Python API (``s.referral_insights``), return its plain data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1/referrals")
TAGS: list[str | Any] = ["referrals"]


class ApproveBody(BaseModel):
    note: str | None = Field(default=None, max_length=500, description="Why (kept in the audit log).")


class VoidBody(BaseModel):
    reason: str = Field(
        default="fraud",
        max_length=32,
        description="fraud, self_referral, deleted_staff, duplicate or other (stored as void_reason).",
    )
    note: str | None = Field(default=None, max_length=500, description="Why (kept in the audit log).")


@router.get("/campaigns/{key}/stats", tags=TAGS, summary="K-factor, generations, cycle time, cost, LTV")
def stats(key: str, request: Request) -> dict[str, Any]:
    return get_client(request).referral_insights.stats(key)  # type: ignore[no-any-return]


@router.get("/campaigns/{key}/leaderboard", tags=TAGS, summary="Inviters ranked, names masked (张**)")
def board(key: str, request: Request, limit: int = Query(default=20, ge=1, le=500)) -> list[dict[str, Any]]:
    return get_client(request).referral_insights.leaderboard(key, limit=limit)  # type: ignore[no-any-return]


@router.get("/campaigns/{key}/tree", tags=TAGS, summary="The referral tree, nested, seeds first")
def referral_tree(
    key: str, request: Request, max_nodes: int = Query(default=2000, ge=1, le=20000)
) -> dict[str, Any]:
    return get_client(request).referral_insights.tree(key, max_nodes=max_nodes)  # type: ignore[no-any-return]


@router.post("/campaigns/{key}/rescore", tags=TAGS, summary="Re-score every referral's fraud risk")
def rescore(key: str, request: Request) -> dict[str, int]:
    return get_client(request).referral_insights.rescore(key)  # type: ignore[no-any-return]


@router.get("/review", tags=TAGS, summary="The fraud review queue: flagged referrals, riskiest first")
def review_list(
    request: Request,
    campaign: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> dict[str, Any]:
    return get_client(request).referral_insights.review_list(campaign, limit=limit, offset=offset)  # type: ignore[no-any-return]


@router.post("/review/{referral_id}/approve", tags=TAGS, summary="Clear a flagged referral (audited)")
def approve(referral_id: int, body: ApproveBody, request: Request) -> dict[str, Any]:
    client = get_client(request)
    return client.referral_insights.approve(referral_id, actor=actor_of(request), note=body.note)  # type: ignore[no-any-return]


@router.post(
    "/review/{referral_id}/void", tags=TAGS, summary="Void a flagged referral with a reason (audited)"
)
def void(referral_id: int, body: VoidBody, request: Request) -> dict[str, Any]:
    client = get_client(request)
    return client.referral_insights.void(  # type: ignore[no-any-return]
        referral_id, reason=body.reason, actor=actor_of(request), note=body.note
    )
