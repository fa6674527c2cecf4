"""Console pages: users, roles, API keys and the audit log (settings, access part).

Every change goes through ``AuthService`` with ``granter_role=principal.role``, the same call
the REST API makes, so a page can never hand out more than its user holds (an admin cannot make
an owner). A new API key is drawn straight from the POST that made it (never redirected, so the
key is in no URL, history entry or cache) and marked ``no-store``.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client, unit_of_work
from siyu.audit import chain
from siyu.audit import service as audit
from siyu.auth.roles import ROLE_NAMES, ROLES, Permission, can_grant
from siyu.auth.schemas import key_dict, user_dict
from siyu.auth.service import MIN_PASSWORD, AuthError, AuthForbidden, AuthNotFound, AuthService
from siyu.console.permissions import RouteTable
from siyu.console.texts.audit import OBJECTS as AUDIT_OBJECTS
from siyu.console.texts.audit import is_request
from siyu.console.web import PageError, language, principal_of, render, text

P = Permission
router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/settings/users"): P.USERS_MANAGE,
    ("POST", "/console/settings/users"): P.USERS_MANAGE,
    ("POST", "/console/settings/users/{username}"): P.USERS_MANAGE,
    ("GET", "/console/settings/roles"): P.USERS_MANAGE,
    ("GET", "/console/settings/api-keys"): P.KEYS_MANAGE,
    ("POST", "/console/settings/api-keys"): P.KEYS_MANAGE,
    ("POST", "/console/settings/api-keys/{key_id}/revoke"): P.KEYS_MANAGE,
    ("GET", "/console/settings/audit"): P.AUDIT_READ,
}
AUDIT_PAGE = 100


def _t(request: Request) -> Any:
    """A translator bound to this request's user."""
    return partial(text, request)


def _role(request: Request, role: str) -> str:
    return ROLE_NAMES.get(role, {}).get(language(request, principal_of(request)), role)


def _auth_message(request: Request, exc: AuthError, username: str = "", role: str = "") -> str:
    """An AuthError in the user's language: the service names the field, and for each field the
    few ways it can be refused are known."""
    t = _t(request)
    if exc.field == "username":
        if "already exists" in exc.message:
            return str(t("settings_err_username_taken", username=username))
        return str(t("settings_err_username"))
    if exc.field == "password":
        return str(t("settings_err_password", min=MIN_PASSWORD))
    if exc.field in ("role", "disabled") and "last owner" in exc.message:
        return str(t("settings_err_last_owner"))
    if exc.field == "role" and "cannot" in exc.message:
        mine = principal_of(request).role
        return str(t("settings_err_grant", mine=_role(request, mine), role=_role(request, role or "?")))
    if exc.field == "name":
        return str(t("settings_err_key_name"))
    return str(t("settings_err_user", detail=str(exc)))


def _grantable(request: Request) -> list[str]:
    mine = principal_of(request).role
    return [r for r in ROLES if can_grant(mine, r)]


# --- users ---------------------------------------------------------------------------------------
def _users_page(
    request: Request, status: int = 200, flash: str | None = None, error: str | None = None, **extra: Any
) -> HTMLResponse:
    with unit_of_work(request) as session:
        users = [user_dict(u) for u in AuthService(session).users()]
    mine = principal_of(request).role
    for u in users:
        u["manageable"] = can_grant(mine, u["role"])  # may this user's row be changed by me?
    return render(
        request,
        "settings_users.html",
        status=status,
        users=users,
        roles=list(ROLES),
        grantable=_grantable(request),
        min_password=MIN_PASSWORD,
        flash=flash,
        error=error,
        form=extra.get("form", {}),
        error_field=extra.get("error_field"),
        error_user=extra.get("error_user"),
    )


@router.get("/settings/users")
def users_page(request: Request, created: str = "", updated: str = "") -> HTMLResponse:
    t = _t(request)
    flash = None
    if created:
        flash = t("settings_user_created", username=created)
    elif updated:
        flash = t("settings_user_updated", username=updated)
    return _users_page(request, flash=flash)


@router.post("/settings/users")
async def create_user(request: Request) -> Response:
    principal = principal_of(request)
    raw = await request.form()
    form = {n: str(raw.get(n) or "").strip() for n in ("username", "name", "role", "language")}
    password = str(raw.get("password") or "")  # not echoed back into the page
    try:
        with unit_of_work(request) as session:
            AuthService(session).create_user(
                form["username"],
                password,
                form["role"],
                principal.actor,
                form["name"],
                form["language"] or "zh",
                granter_role=principal.role,
            )
    except AuthError as exc:
        message = _auth_message(request, exc, form["username"], form["role"])
        status = 409 if "already exists" in exc.message else 422
        return _users_page(request, status, error=message, form=form, error_field=exc.field)
    return RedirectResponse(f"/console/settings/users?created={quote(form['username'])}", status_code=303)


@router.post("/settings/users/{username}")
async def update_user(request: Request, username: str) -> Response:
    """One form per change: ``action`` is role, disable, enable or password."""
    principal = principal_of(request)
    raw = await request.form()
    action = str(raw.get("action") or "")
    role = str(raw.get("role") or "") if action == "role" else None
    password = str(raw.get("password") or "") if action == "password" else None
    disabled = {"disable": True, "enable": False}.get(action)
    if role is None and password is None and disabled is None:
        raise PageError(422, "invalid_input", {"what": f"action {action!r}"})
    try:
        with unit_of_work(request) as session:
            AuthService(session).update_user(
                username,
                principal.actor,
                role=role,
                disabled=disabled,
                password=password,
                granter_role=principal.role,
            )
    except AuthNotFound:
        raise PageError(404, "not_found", {"what": username}) from None
    except AuthError as exc:
        message = _auth_message(request, exc, username, role or "")
        return _users_page(request, 422, error=message, error_user=username, error_field=exc.field)
    return RedirectResponse(f"/console/settings/users?updated={quote(username)}", status_code=303)


# --- roles ---------------------------------------------------------------------------------------
@router.get("/settings/roles")
def roles_page(request: Request) -> HTMLResponse:
    matrix = [(perm, [perm in ROLES[r] for r in ROLES]) for perm in Permission]
    return render(request, "settings_roles.html", roles=list(ROLES), matrix=matrix)


# --- API keys ------------------------------------------------------------------------------------
def _keys_page(
    request: Request,
    status: int = 200,
    flash: str | None = None,
    error: str | None = None,
    new_key: dict[str, Any] | None = None,
    form: dict[str, str] | None = None,
    error_field: str | None = None,
) -> HTMLResponse:
    with unit_of_work(request) as session:
        keys = [key_dict(k) for k in reversed(AuthService(session).api_keys())]  # newest first
    resp = render(
        request,
        "settings_api_keys.html",
        status=status,
        keys=keys,
        grantable=_grantable(request),
        new_key=new_key,
        flash=flash,
        error=error,
        form=form or {},
        error_field=error_field,
    )
    if new_key is not None:
        resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/settings/api-keys")
def keys_page(request: Request, revoked: str = "") -> HTMLResponse:
    flash = _t(request)("settings_key_revoked", name=revoked) if revoked else None
    return _keys_page(request, flash=flash)


@router.post("/settings/api-keys")
async def create_key(request: Request) -> Response:
    principal = principal_of(request)
    raw = await request.form()
    form = {n: str(raw.get(n) or "").strip() for n in ("name", "role")}
    try:
        with unit_of_work(request) as session:
            key, secret = AuthService(session).create_api_key(
                form["name"], form["role"], principal.actor, granter_role=principal.role
            )
            made = {**key_dict(key), "key": secret}
    except AuthError as exc:
        message = _auth_message(request, exc, role=form["role"])
        return _keys_page(request, 422, error=message, form=form, error_field=exc.field)
    flash = _t(request)("settings_created", what=made["name"])
    return _keys_page(request, 200, flash=flash, new_key=made)


@router.post("/settings/api-keys/{key_id}/revoke")
def revoke_key(request: Request, key_id: int) -> Response:
    principal = principal_of(request)
    try:
        with unit_of_work(request) as session:
            name = AuthService(session).revoke_api_key(key_id, principal.actor, principal.role).name
    except AuthNotFound:
        raise PageError(404, "not_found", {"what": f"API key {key_id}"}) from None
    except AuthForbidden as exc:
        mine, theirs = _role(request, principal.role), _role(request, exc.target_role)
        message = _t(request)("settings_err_revoke", mine=mine, role=theirs)
        return _keys_page(request, 403, error=message)
    return RedirectResponse(f"/console/settings/api-keys?revoked={quote(name)}", status_code=303)


# --- audit log -----------------------------------------------------------------------------------
@router.get("/settings/audit")
def audit_page(
    request: Request,
    action: str = "",
    actor: str = "",
    target_type: str = "",
    target_id: str = "",
    before: int | None = None,
    verify: str = "",
) -> HTMLResponse:
    """``verify=1`` (the page's verify button) also checks the log's hash chain."""
    filters = {
        "action": action.strip(),
        "actor": actor.strip(),
        "target_type": target_type.strip(),
        "target_id": target_id.strip(),
    }
    with unit_of_work(request) as session:
        rows = audit.entries(
            session,
            target_type=filters["target_type"] or None,
            target_id=filters["target_id"] or None,
            action=filters["action"] or None,
            limit=AUDIT_PAGE + 1,  # one more tells whether an older page exists
            actor=filters["actor"] or None,
            before_id=before,
        )
        known_actions = audit.actions(session)
        checked = chain.verify(session).dump() if verify else None
        zone = ZoneInfo(get_client(request).ctx.timezone(session))  # this session: see client/lists.py
        entries = [
            {
                "id": e.id,
                "at": e.at.astimezone(zone),
                "actor": e.actor,
                "action": e.action,
                "target_type": e.target_type,
                "target_id": e.target_id,
                "details": e.details,
            }
            for e in rows[:AUDIT_PAGE]
        ]
    kept = {k: v for k, v in filters.items() if v}
    older = None
    if len(rows) > AUDIT_PAGE:
        older = "/console/settings/audit?" + urlencode({**kept, "before": entries[-1]["id"]})
    newest = "/console/settings/audit" + ("?" + urlencode(kept) if kept else "") if before else None
    return render(
        request,
        "settings_audit.html",
        entries=entries,
        filters=filters,
        actions=known_actions,
        audit_request=is_request,
        target_types=sorted(set(AUDIT_OBJECTS) | {filters["target_type"]} - {""}),
        older=older,
        newest=newest,
        filtered=bool(kept),
        verified=checked,
        verify_url="/console/settings/audit?" + urlencode({**kept, "verify": "1"}),
    )
