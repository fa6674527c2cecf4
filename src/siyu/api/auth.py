"""Users, API keys, the audit log and the caller's own identity over REST."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from siyu.api.deps import unit_of_work
from siyu.api.security import signed_in
from siyu.audit import service as audit
from siyu.auth.roles import ROLES
from siyu.auth.schemas import key_dict as key_out
from siyu.auth.schemas import user_dict as user_out
from siyu.auth.service import AuthService

router = APIRouter(prefix="/api/v1", tags=["users"])

Role = Literal["owner", "admin", "operator", "analyst", "viewer"]


@router.get("/me", summary="Who is calling, with which role and permissions")
def me(request: Request) -> dict[str, Any]:
    p = signed_in(request)
    return {
        "actor": p.actor,
        "role": p.role,
        "username": p.username,
        "permissions": sorted(x.value for x in ROLES[p.role]),
    }


class UserIn(BaseModel):
    username: str
    password: str = Field(min_length=10)
    role: Role
    name: str = ""
    language: Literal["zh", "en"] = "zh"


class UserPatch(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=10)


@router.get("/users", summary="Console users")
def list_users(request: Request) -> list[dict[str, Any]]:
    with unit_of_work(request) as session:
        return [user_out(u) for u in AuthService(session).users()]


@router.post("/users", status_code=201, summary="Create a console user")
def create_user(body: UserIn, request: Request) -> dict[str, Any]:
    p = signed_in(request)
    with unit_of_work(request) as session:
        user = AuthService(session).create_user(
            body.username, body.password, body.role, p.actor, body.name, body.language, granter_role=p.role
        )
        return user_out(user)


@router.patch("/users/{username}", summary="Change a user's role, disable them or set a password")
def update_user(username: str, body: UserPatch, request: Request) -> dict[str, Any]:
    p = signed_in(request)
    with unit_of_work(request) as session:
        user = AuthService(session).update_user(
            username, p.actor, body.role, body.disabled, body.password, granter_role=p.role
        )
        return user_out(user)


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role


@router.get("/api-keys", summary="API keys (the keys themselves are never shown again)")
def list_keys(request: Request) -> list[dict[str, Any]]:
    with unit_of_work(request) as session:
        return [key_out(k) for k in AuthService(session).api_keys()]


@router.post("/api-keys", status_code=201, summary="Create an API key; the answer holds it, once")
def create_key(body: KeyIn, request: Request) -> dict[str, Any]:
    p = signed_in(request)
    with unit_of_work(request) as session:
        key, secret = AuthService(session).create_api_key(body.name, body.role, p.actor, granter_role=p.role)
        return {**key_out(key), "key": secret}


@router.delete(
    "/api-keys/{key_id}",
    summary="Revoke an API key (takes effect on the next request)",
    description="Only a key whose role's permissions the caller holds (403 otherwise).",
)
def revoke_key(key_id: int, request: Request) -> dict[str, Any]:
    p = signed_in(request)
    with unit_of_work(request) as session:
        return key_out(AuthService(session).revoke_api_key(key_id, p.actor, granter_role=p.role))


@router.get("/audit", summary="The audit log, newest first")
def audit_log(
    request: Request,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    if not 1 <= limit <= 1000:
        raise HTTPException(422, "limit: between 1 and 1000")
    with unit_of_work(request) as session:
        rows = audit.entries(session, target_type, target_id, action, limit)
        return [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "details": e.details,
            }
            for e in rows
        ]
