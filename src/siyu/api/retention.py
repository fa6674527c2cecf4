"""REST endpoints for retention policies and the audit log's chain check.

Thin: parse, call the Python API, return its plain data. Policies are replaced as a whole
(PUT); a field that is ``null`` turns that policy off.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from siyu.api.deps import get_client
from siyu.api.security import actor_of
from siyu.retention.schemas import RetentionPolicies

router = APIRouter(prefix="/api/v1")


@router.get("/retention", tags=["retention"], summary="The retention policies and the last run")
def retention_show(request: Request) -> dict[str, Any]:
    return get_client(request).retention.show()


@router.put("/retention", tags=["retention"], summary="Replace the retention policies (null turns one off)")
def retention_set(body: RetentionPolicies, request: Request) -> dict[str, Any]:
    return get_client(request).retention.set(actor=actor_of(request), **body.model_dump(mode="json"))


@router.post(
    "/retention/run",
    tags=["retention"],
    summary="Apply the policies now (dry_run=true only counts); the counts removed per policy",
)
def retention_run(request: Request, dry_run: bool = False) -> dict[str, Any]:
    return get_client(request).retention.run(dry_run=dry_run, actor=actor_of(request))


@router.get(
    "/audit/verify",
    tags=["users"],
    summary="Check the audit log's hash chain: ok, or the first broken entry and what is wrong",
)
def audit_verify(request: Request) -> dict[str, Any]:
    return get_client(request).audit.verify()
