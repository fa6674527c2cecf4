"""Who is calling, may they, and the audit trail of what they changed.

Two ways in: ``Authorization: Bearer sk_…`` (API keys, for programs) and the console's session
cookie (for the browser's own fetch calls). A cookie-authenticated write must also carry the
session's CSRF token in ``X-CSRF-Token`` (or the form field ``csrf_token`` for console forms):
a cookie is sent by the browser to any site's request, a token only by our own pages.
"""

from __future__ import annotations

import contextlib
import hmac
from typing import Any
from urllib.parse import unquote

from fastapi import HTTPException, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from siyu.api.deps import get_client
from siyu.api.permissions import ANY, PUBLIC, ROUTES
from siyu.audit import service as audit
from siyu.auth.roles import Permission
from siyu.auth.service import AuthService, Principal
from siyu.profiles.detect import redact_reference
from siyu.profiles.views import LookupError_, find_contact_id

SESSION_COOKIE = "siyu_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Path parameters that name a contact by any identifier (``/contacts/13912340001/consent``).
CONTACT_PARAMS = frozenset({"query"})


def resolve_principal(request: Request) -> Principal | None:
    """The caller, from a bearer key or the session cookie; cached on the request."""
    if hasattr(request.state, "principal"):
        return request.state.principal  # type: ignore[no-any-return]
    client = get_client(request)
    header = request.headers.get("authorization", "")
    principal: Principal | None = None
    with client.ctx.db.session() as session:
        service = AuthService(session)
        if header[:7].lower() == "bearer ":
            principal = service.key_principal(header[7:].strip())
            if principal is None:
                raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        elif token := request.cookies.get(SESSION_COOKIE):
            principal = service.session_principal(token, client.ctx.settings.session_hours)
    request.state.principal = principal
    request.state.via_cookie = principal is not None and principal.session_id is not None
    return principal


def actor_of(request: Request) -> str:
    """The audit log's name for the caller (``user:…`` or ``key:…``), for capability calls."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal.actor if principal else "api"


def csrf_ok(principal: Principal, supplied: str | None) -> bool:
    return bool(supplied and principal.csrf_token and hmac.compare_digest(supplied, principal.csrf_token))


def signed_in(request: Request) -> Principal:
    """The caller; 401 (with the Bearer challenge) when nobody is signed in."""
    principal = resolve_principal(request)
    if principal is None:
        raise HTTPException(
            401,
            "sign in or send an API key (Authorization: Bearer sk_…)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require(request: Request, permission: Permission) -> Principal:
    """The caller when they hold ``permission``; 401 when nobody is signed in, 403 otherwise."""
    principal = signed_in(request)
    if not principal.can(permission):
        raise HTTPException(403, f"your role ({principal.role}) lacks the permission {permission.value}")
    return principal


def authorise(request: Request) -> None:
    """Router dependency for /api/v1: the permission the route table names, and CSRF for
    cookie-authenticated writes. A route missing from the table is refused (fail closed)."""
    route = request.scope.get("route")
    needed = ROUTES.get((request.method, getattr(route, "path", "")))
    if needed == PUBLIC:
        return
    if needed is None:
        raise HTTPException(403, "this route has no permission assigned; refused")
    principal = signed_in(request) if needed == ANY else require(request, Permission(needed))
    writes = request.method not in SAFE_METHODS
    if writes and request.state.via_cookie and not csrf_ok(principal, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, "CSRF token missing or wrong; reload the page and try again")


class AuditWrites(BaseHTTPMiddleware):
    """Every successful write through the API or the console leaves an audit entry naming who,
    which operation and on what. Written after the handler committed, in its own transaction:
    the capability's own audit entries (merges, reveals, users, keys) are in the same
    transaction as the change; this one is the interface-level trail of every write."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        principal: Principal | None = getattr(request.state, "principal", None)
        if request.method in SAFE_METHODS or response.status_code >= 400 or principal is None:
            return response
        route = request.scope.get("route")
        path = getattr(route, "path", request.url.path)
        client = get_client(request)
        params = request.scope.get("path_params", {})
        # Never an identifier in clear: a contact reached by phone or email is recorded by its
        # id, and every path segment or parameter that looks like PII is masked.
        details: dict[str, Any] = {
            "status": response.status_code,
            **{k: redact_reference(str(v)) for k, v in params.items()},
        }
        with client.ctx.db.session() as session:
            for name in CONTACT_PARAMS.intersection(params):
                with contextlib.suppress(LookupError_, ValueError):
                    profiles = client.ctx.profiles(session)
                    details["contact_id"] = find_contact_id(profiles, client.ctx.parser, str(params[name]))
            target = "/".join(redact_reference(unquote(part)) for part in request.url.path.split("/"))
            audit.record(session, principal.actor, f"{request.method} {path}", "http", target[:100], details)
        return response
