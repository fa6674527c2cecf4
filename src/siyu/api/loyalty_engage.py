"""REST endpoints for check-ins, tasks and badges, the points catalogue and the birthday gift
(``/api/v1/loyalty/…``). Thin: parse, call the Python API (``s.engage``), return its plain data.
A member is named like a contact: a phone, an email, ``type:value`` or ``id:N``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1/loyalty")
TAGS: list[str | Any] = ["loyalty"]
Contact = Field(description="Phone, email, type:value or id:N.", max_length=200)


class CheckinBody(BaseModel):
    contact: str = Contact


class CheckinSettings(BaseModel):
    points: int = Field(default=0, description="Points per check-in.")
    milestones: dict[str, int] = Field(default_factory=dict, description='Extra points by streak: {"7": 20}.')


class TaskBody(BaseModel):
    key: str = Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(max_length=200)
    condition: dict[str, Any] = Field(
        description='{"event": "Order Completed", "count": 1, "where": {…}} or {"profile": ["name", "city"]}.'
    )
    reward_points: int = Field(default=0)
    reward_coupon: str | None = Field(default=None, max_length=64, description="Coupon template key.")
    badge: str | None = Field(default=None, max_length=64)


class ItemBody(BaseModel):
    key: str = Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(max_length=200)
    kind: str = Field(default="coupon", description="coupon or gift.")
    points: int = Field(description="Points it costs.")
    coupon_template: str | None = Field(default=None, max_length=64)
    stock: int | None = Field(default=None, description="Units on offer; empty: unlimited.")
    per_member_limit: int | None = Field(default=None, description="At most this many per member.")


class RedeemBody(BaseModel):
    contact: str = Contact
    item: str = Field(max_length=64)
    external_id: str | None = Field(default=None, max_length=150, description="A repeat changes nothing.")


# --- check-ins -------------------------------------------------------------------------------------
@router.get("/checkins/settings", tags=TAGS, summary="Check-in rewards: points and streak milestones")
def checkin_settings(request: Request) -> dict[str, Any]:
    return get_client(request).engage.checkin_settings()  # type: ignore[no-any-return]


@router.put("/checkins/settings", tags=TAGS, summary="Set the check-in rewards (errors name the field)")
def checkin_settings_set(body: CheckinSettings, request: Request) -> dict[str, Any]:
    client = get_client(request)
    return client.engage.set_checkin_settings(body.model_dump(), actor=actor_of(request))  # type: ignore[no-any-return]


@router.post("/checkins", tags=TAGS, summary="Check a member in for their local today (idempotent per day)")
def checkin(body: CheckinBody, request: Request) -> dict[str, Any]:
    return get_client(request).engage.checkin(body.contact, actor=actor_of(request))  # type: ignore[no-any-return]


@router.get("/checkins/{query}", tags=TAGS, summary="A member's recent check-ins")
def checkins(
    query: str, request: Request, limit: int = Query(default=60, ge=1, le=1000)
) -> list[dict[str, Any]]:
    return get_client(request).engage.checkins(query, limit=limit)  # type: ignore[no-any-return]


# --- tasks -----------------------------------------------------------------------------------------
@router.get("/tasks", tags=TAGS, summary="Tasks, their rewards and completions")
def tasks(request: Request) -> list[dict[str, Any]]:
    return get_client(request).engage.tasks()  # type: ignore[no-any-return]


@router.post("/tasks", tags=TAGS, summary="Add a task", status_code=201)
def task_add(body: TaskBody, request: Request) -> dict[str, Any]:
    values = body.model_dump(exclude={"key"})
    return get_client(request).engage.add_task(body.key, actor=actor_of(request), **values)  # type: ignore[no-any-return]


@router.patch("/tasks/{key}", tags=TAGS, summary="Change a task (only the fields given)")
def task_update(key: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
    return get_client(request).engage.update_task(key, actor=actor_of(request), **body)  # type: ignore[no-any-return]


@router.post("/tasks/run", tags=TAGS, summary="Evaluate the tasks on events since the last run")
def tasks_run(request: Request) -> dict[str, Any]:
    return get_client(request).engage.run_tasks()  # type: ignore[no-any-return]


@router.get("/badges/{query}", tags=TAGS, summary="A member's completed tasks and badges")
def badges(query: str, request: Request) -> list[dict[str, Any]]:
    return get_client(request).engage.badges(query)  # type: ignore[no-any-return]


# --- catalogue -------------------------------------------------------------------------------------
@router.get("/catalogue", tags=TAGS, summary="The points catalogue")
def catalogue(request: Request, active_only: bool = False) -> list[dict[str, Any]]:
    return get_client(request).engage.catalogue(active_only=active_only)  # type: ignore[no-any-return]


@router.post(
    "/catalogue", tags=TAGS, summary="Add a catalogue item (points → coupon or gift)", status_code=201
)
def item_add(body: ItemBody, request: Request) -> dict[str, Any]:
    values = body.model_dump(exclude={"key"})
    return get_client(request).engage.add_item(body.key, actor=actor_of(request), **values)  # type: ignore[no-any-return]


@router.patch("/catalogue/{key}", tags=TAGS, summary="Change a catalogue item (only the fields given)")
def item_update(key: str, body: dict[str, Any], request: Request) -> dict[str, Any]:
    return get_client(request).engage.update_item(key, actor=actor_of(request), **body)  # type: ignore[no-any-return]


@router.post("/redemptions", tags=TAGS, summary="Redeem points for an item (spend + coupon, idempotent)")
def redeem(body: RedeemBody, request: Request) -> dict[str, Any]:
    client = get_client(request)
    return client.engage.redeem(  # type: ignore[no-any-return]
        body.contact, body.item, external_id=body.external_id, actor=actor_of(request)
    )


@router.get("/redemptions", tags=TAGS, summary="Recent redemptions (of one member with contact=…)")
def redemptions(
    request: Request, contact: str | None = None, limit: int = Query(default=100, ge=1, le=1000)
) -> list[dict[str, Any]]:
    return get_client(request).engage.redemptions(contact, limit=limit)  # type: ignore[no-any-return]


# --- birthdays -------------------------------------------------------------------------------------
@router.post("/birthdays/run", tags=TAGS, summary="Give today's birthday gifts (once a year each)")
def birthdays_run(request: Request) -> dict[str, int]:
    return get_client(request).engage.run_birthdays()  # type: ignore[no-any-return]
