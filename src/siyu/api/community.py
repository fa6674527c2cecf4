"""REST endpoints for customer groups, group live codes, group messages and the community
pyramid. Thin: parse, call the Python API (``s.community``), return its plain data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1")


class SyncBody(BaseModel):
    provider: str | None = Field(default=None, description="WeCom provider key (default: the default one).")


class JoinWayBody(BaseModel):
    state: str = Field(
        description="≤ 30 characters; members who join through the code carry it.", max_length=30
    )
    chat_ids: list[str] = Field(description="1 to 5 customer groups (chat ids).", max_length=5)
    name: str | None = Field(default=None, max_length=200)
    provider: str | None = None
    auto_create_room: bool = Field(default=True, description="WeCom opens a new group when all are full.")
    room_base_name: str | None = Field(default=None, max_length=40)
    room_base_id: int | None = None
    swap_threshold: int = Field(default=480, ge=1, le=500, description="Swap a group out at this size.")


class JoinWayUpdate(BaseModel):
    chat_ids: list[str] = Field(description="The code's new 1 to 5 groups.", max_length=5)


class GroupMessageBody(BaseModel):
    text: str = Field(default="", description="Message text (≤ 4,000 bytes).")
    attachments: list[dict[str, Any]] = Field(default_factory=list, max_length=9)
    chat_ids: list[str] | None = Field(default=None, description="Groups; omit for every group.")
    provider: str | None = None


class SopBody(BaseModel):
    key: str = Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(max_length=200)
    trigger: str = Field(description="group_created, joined_code (with state) or schedule.")
    steps: list[dict[str, Any]] = Field(
        description="{day, at, text} or {every, weekday, at, text}.", max_length=30
    )
    state: str | None = Field(
        default=None, max_length=30, description="The live code (joined_code, schedule)."
    )
    provider: str | None = None


@router.get("/groups", tags=["community"], summary="Customer groups with their health score")
def groups_list(request: Request, include_dismissed: bool = False) -> list[dict[str, Any]]:
    return get_client(request).community.groups(include_dismissed)  # type: ignore[no-any-return]


@router.post("/groups/sync", tags=["community"], summary="Read every group and member from WeCom")
def groups_sync(body: SyncBody, request: Request) -> dict[str, Any]:
    return get_client(request).community.sync(body.provider)  # type: ignore[no-any-return]


@router.post(
    "/groups/messages",
    tags=["community"],
    summary="A bulk message to groups (one task per owner), honouring the monthly per-group limit",
)
def groups_message(body: GroupMessageBody, request: Request) -> dict[str, Any]:
    content = {"text": body.text, "attachments": body.attachments}
    return get_client(request).community.send_group_message(  # type: ignore[no-any-return]
        content, body.chat_ids, body.provider, actor=actor_of(request)
    )


@router.get("/groups/{chat_id}", tags=["community"], summary="A group: members (masked), roles, health")
def groups_show(chat_id: str, request: Request) -> dict[str, Any]:
    return get_client(request).community.group(chat_id)  # type: ignore[no-any-return]


@router.get(
    "/group-join-ways", tags=["community"], summary="Group live codes (群活码) with joins and history"
)
def join_ways_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).community.join_ways()  # type: ignore[no-any-return]


@router.post("/group-join-ways", tags=["community"], summary="Create a group live code", status_code=201)
def join_ways_create(body: JoinWayBody, request: Request) -> dict[str, Any]:
    return get_client(request).community.create_join_way(  # type: ignore[no-any-return]
        body.name or body.state,
        body.state,
        body.chat_ids,
        body.provider,
        body.auto_create_room,
        body.room_base_name,
        body.room_base_id,
        body.swap_threshold,
        actor=actor_of(request),
    )


@router.post(
    "/group-join-ways/swap", tags=["community"], summary="Swap full groups out of every live code now"
)
def join_ways_swap(request: Request) -> list[dict[str, Any]]:
    return get_client(request).community.swap_full()  # type: ignore[no-any-return]


@router.get("/group-join-ways/{state}", tags=["community"], summary="One group live code")
def join_ways_show(state: str, request: Request) -> dict[str, Any]:
    return get_client(request).community.join_way(state)  # type: ignore[no-any-return]


@router.put("/group-join-ways/{state}", tags=["community"], summary="Replace a live code's groups")
def join_ways_update(state: str, body: JoinWayUpdate, request: Request) -> dict[str, Any]:
    return get_client(request).community.update_join_way(  # type: ignore[no-any-return]
        state, body.chat_ids, actor=actor_of(request)
    )


@router.delete("/group-join-ways/{state}", tags=["community"], summary="Delete a live code", status_code=204)
def join_ways_delete(state: str, request: Request) -> None:
    get_client(request).community.delete_join_way(state, actor=actor_of(request))


@router.get(
    "/community/pyramid",
    tags=["community"],
    summary="Each contact's role (seed / koc / member) brand-wide and per group, or one group's ranking",
)
def pyramid(request: Request, chat_id: str | None = Query(default=None)) -> dict[str, Any]:
    return get_client(request).community.pyramid(chat_id)  # type: ignore[no-any-return]


@router.post("/community/rank", tags=["community"], summary="Recompute every pyramid and the role tags now")
def rank(request: Request) -> dict[str, Any]:
    return get_client(request).community.rank()  # type: ignore[no-any-return]


@router.post(
    "/community/health",
    tags=["community"],
    summary="Check group health; declining groups emit Group Declining",
)
def health(request: Request) -> list[dict[str, Any]]:
    return get_client(request).community.check_health()  # type: ignore[no-any-return]


@router.get("/group-sops", tags=["community"], summary="Group SOP plans with sent / due / limited counts")
def sops_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).community.sops()  # type: ignore[no-any-return]


@router.post("/group-sops", tags=["community"], summary="Create a group SOP plan", status_code=201)
def sops_create(body: SopBody, request: Request) -> dict[str, Any]:
    return get_client(request).community.create_sop(  # type: ignore[no-any-return]
        body.model_dump(exclude_none=True), actor=actor_of(request)
    )


@router.post("/group-sops/run", tags=["community"], summary="Send the due group-SOP steps now")
def sops_run(request: Request) -> dict[str, Any]:
    return get_client(request).community.run_sops()  # type: ignore[no-any-return]
