"""REST endpoints of the event catalogue: display names and property labels per event name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from siyu.api.deps import get_client
from siyu.api.security import actor_of
from siyu.events.schemas import EventDefinitionUpdate

router = APIRouter(prefix="/api/v1")


@router.get("/event-catalogue", tags=["events"], summary="Every event name seen, with its labels")
def catalogue_list(request: Request) -> list[dict[str, Any]]:
    return get_client(request).events.list()


@router.post("/event-catalogue/learn", tags=["events"], summary="Add event names and properties seen")
def catalogue_learn(request: Request) -> dict[str, int]:
    return get_client(request).events.learn()


@router.get("/event-catalogue/{name:path}", tags=["events"], summary="One event's labels")
def catalogue_get(name: str, request: Request) -> dict[str, Any]:
    return get_client(request).events.get(name)


@router.put("/event-catalogue/{name:path}", tags=["events"], summary="Edit an event's labels")
def catalogue_update(name: str, body: EventDefinitionUpdate, request: Request) -> dict[str, Any]:
    return get_client(request).events.update(
        name, body.model_dump(exclude_unset=True), actor=actor_of(request)
    )
