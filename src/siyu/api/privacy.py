"""PIPL rights over REST: a person's copy, corrections, erasure with a receipt, the
do-not-contact list and past receipts.

The person is named in the JSON body, never in the path: the ``AuditWrites`` middleware writes
every write's path parameters into the audit log, which outlives an erased person, and paths
end up in access logs. Copy and erasure need ``privacy.export`` / ``privacy.delete`` (owner and
admin); corrections need ``contacts.write``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of
from siyu.privacy.schemas import DoNotContactEntry, IdentifierReplacement, Receipt

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


class Person(BaseModel):
    identifier: str = Field(max_length=300, description="Phone, email, type:value or id:N.")


class CorrectionIn(Person):
    traits: dict[str, Any] = Field(default_factory=dict, max_length=200, description="Traits to set.")
    remove: list[str] = Field(default_factory=list, max_length=200, description="Traits to remove.")
    identifiers: list[IdentifierReplacement] = Field(default_factory=list, max_length=20)


@router.post("/export", summary="Everything held about one person, identifiers in clear (audited)")
def export(body: Person, request: Request) -> dict[str, Any]:
    return get_client(request).privacy.export(body.identifier, actor=actor_of(request))


@router.post("/correct", summary="Correct traits or replace an identifier (audited)")
def correct(body: CorrectionIn, request: Request) -> dict[str, Any]:
    return get_client(request).privacy.correct(
        body.identifier,
        body.traits,
        body.remove,
        [i.model_dump() for i in body.identifiers],
        actor=actor_of(request),
    )


@router.post("/delete", response_model=Receipt, summary="Erase one person everywhere; returns the receipt")
async def delete(body: Person, request: Request) -> Any:
    """The warehouse copy goes with the server's next feed (``warehouse: pending``): the
    server's feeder is the one process that may rewrite the warehouse file."""
    client = get_client(request)
    return await run_in_threadpool(client.privacy.delete, body.identifier, actor_of(request), None)


@router.get("/deletions", summary="Receipts of past erasures")
def deletions(request: Request, limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
    return get_client(request).privacy.deletions(limit)


@router.get("/do-not-contact", response_model=list[DoNotContactEntry], summary="The do-not-contact list")
def do_not_contact(
    request: Request, limit: int = Query(200, ge=1, le=10_000), before_id: int | None = None
) -> Any:
    return get_client(request).privacy.do_not_contact(limit, before_id)


@router.delete("/do-not-contact/{entry_id}", status_code=204, summary="Take an entry off the list")
def remove_do_not_contact(entry_id: int, request: Request) -> None:
    get_client(request).privacy.remove_do_not_contact(entry_id, actor=actor_of(request))
