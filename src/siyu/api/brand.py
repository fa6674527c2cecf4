"""REST endpoints for the brand's settings: its time zone.

Thin: parse, call the Python API, return its plain data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from siyu.api.deps import get_client
from siyu.api.security import actor_of

router = APIRouter(prefix="/api/v1")


class TimezoneBody(BaseModel):
    timezone: str = Field(description="IANA time zone name, e.g. Asia/Shanghai.", max_length=64)


@router.get(
    "/settings/timezone",
    tags=["settings"],
    summary="The brand's time zone and where it comes from (environment, stored, default)",
)
def timezone_show(request: Request) -> dict[str, Any]:
    return get_client(request).timezone()


@router.put(
    "/settings/timezone",
    tags=["settings"],
    summary="Store the brand's time zone (SIYU_TIMEZONE, when set, still wins)",
)
def timezone_set(body: TimezoneBody, request: Request) -> dict[str, Any]:
    return get_client(request).set_timezone(body.timezone, actor=actor_of(request))
