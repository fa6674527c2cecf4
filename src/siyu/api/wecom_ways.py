"""REST for WeCom contact ways and 获客助手 links, their figures, the sync, staff and transfers.

Errors answer in words: a bad field is 422 naming it, an unknown code or staff member 404, and
a WeCom refusal 422 with WeCom's errcode and what it means."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1")


class WayCreate(BaseModel):
    channel: str = Field(description="Channel key the code belongs to.")
    state: str = Field(description="≤ 30 characters; comes back in the add-customer callback.")
    provider: str = Field(description="WeCom provider key.")
    staff: list[str] = Field(description="Staff userids (one: a single contact way; several: multi).")
    kind: Literal["contact_way", "acquisition_link"] = "contact_way"
    name: str | None = None
    campaign: str | None = None
    skip_verify: bool = True
    welcome_template: str | None = None
    tags: list[str] = Field(default_factory=list)


class WayUpdate(BaseModel):
    name: str | None = None
    staff: list[str] | None = None
    skip_verify: bool | None = None
    welcome_template: str | None = Field(default=None, description="'' removes the template.")
    tags: list[str] | None = None


class SyncRequest(BaseModel):
    provider: str | None = Field(default=None, description="Default: the only (or default) wecom provider.")
    mode: Literal["full", "incremental"] = "full"
    wait: bool = Field(
        default=True, description="false: start it and answer at once (202); poll /wecom/sync-runs."
    )


class TransferRequest(BaseModel):
    provider: str | None = None
    handover_userid: str
    takeover_userid: str
    external_userids: list[str] = Field(description="Customers; sent to WeCom 100 at a time.")
    message: str | None = Field(default=None, description="transfer_success_msg shown to the customer.")


@router.get("/wecom/entry-codes", tags=["wecom"], summary="Entry codes with their WeCom fields")
def list_ways(request: Request, include_deleted: bool = True) -> list[dict[str, Any]]:
    return get_client(request).wecom.ways(include_deleted)


@router.post("/wecom/entry-codes", tags=["wecom"], status_code=201, summary="Make a contact way or link")
def create_way(request: Request, body: WayCreate) -> dict[str, Any]:
    """Calls add_contact_way (or customer_acquisition/create_link) and records the entry code;
    nothing is left half-made when either side fails."""
    return get_client(request).wecom.create_way(
        body.channel,
        body.state,
        body.provider,
        body.staff,
        body.kind,
        body.name,
        body.skip_verify,
        body.welcome_template,
        body.tags,
        body.campaign,
        actor=actor_of(request),
    )


@router.get("/wecom/entry-codes/{state}", tags=["wecom"], summary="One entry code")
def get_way(request: Request, state: str) -> dict[str, Any]:
    return get_client(request).wecom.way(state)


@router.patch("/wecom/entry-codes/{state}", tags=["wecom"], summary="Change a contact way or link")
def update_way(request: Request, state: str, body: WayUpdate) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return get_client(request).wecom.update_way(state, actor=actor_of(request), **changes)


@router.delete("/wecom/entry-codes/{state}", tags=["wecom"], summary="Delete it at WeCom (figures stay)")
def delete_way(request: Request, state: str) -> dict[str, Any]:
    return get_client(request).wecom.delete_way(state, actor=actor_of(request))


@router.post(
    "/wecom/entry-codes/{state}/link-customers",
    tags=["wecom"],
    summary="Attribute an acquisition link's customers",
)
def link_customers(request: Request, state: str) -> dict[str, int]:
    return get_client(request).wecom.pull_link_customers(state)


@router.get(
    "/wecom/figures", tags=["wecom"], summary="Per-code adds, deletions within 24 h / 7 days, net adds"
)
def figures(
    request: Request,
    state: list[str] | None = Query(default=None),
    start: date | None = None,
    end: date | None = None,
    by_day: bool = False,
) -> list[dict[str, Any]]:
    """Days are the brand's local days; ``scans`` is null where unknown (never 0)."""
    return get_client(request).wecom.figures(state or None, start, end, by_day)


@router.post("/wecom/sync", tags=["wecom"], summary="Sync staff and existing customers")
async def sync(request: Request, body: SyncRequest) -> Any:
    client = get_client(request)
    if body.wait:
        return await run_in_threadpool(client.wecom.sync, body.provider, body.mode)
    from fastapi.responses import JSONResponse

    started = await run_in_threadpool(client.wecom.start_sync, body.provider, body.mode)
    return JSONResponse(started, status_code=202)


@router.get("/wecom/sync-runs", tags=["wecom"], summary="Recent syncs with their progress")
def sync_runs(request: Request, provider: str | None = None) -> list[dict[str, Any]]:
    return get_client(request).wecom.sync_runs(provider)


@router.get("/staff", tags=["wecom"], summary="Staff with customers, adds and losses")
def staff_list(request: Request, provider: str | None = None) -> list[dict[str, Any]]:
    return get_client(request).staff.list(provider)


@router.get("/staff/{userid}", tags=["wecom"], summary="A staff member's per-day figures")
def staff_show(
    request: Request,
    userid: str,
    provider: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> dict[str, Any]:
    return get_client(request).staff.show(userid, provider, start, end)


@router.get("/wecom/transfers", tags=["wecom"], summary="Customer transfers and their results")
def transfers(
    request: Request, provider: str | None = None, userid: str | None = None
) -> list[dict[str, Any]]:
    return get_client(request).staff.transfers(provider, userid)


@router.post("/wecom/transfers", tags=["wecom"], status_code=201, summary="Transfer customers (在职继承)")
def transfer(request: Request, body: TransferRequest) -> list[dict[str, Any]]:
    """One row per customer: ``waiting`` (WeCom accepted) or ``failed`` with the reason (the
    90-day limit is checked before WeCom is asked)."""
    return get_client(request).staff.transfer(
        body.provider,
        body.handover_userid,
        body.takeover_userid,
        body.external_userids,
        body.message,
        actor=actor_of(request),
    )


@router.post("/wecom/transfers/poll", tags=["wecom"], summary="Ask WeCom for transfer results")
def poll_transfers(request: Request, provider: str | None = None) -> dict[str, int]:
    return get_client(request).staff.poll_transfers(provider)
