"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.api.security import SESSION_COOKIE
from siyu.auth.roles import Permission as P
from siyu.auth.service import AuthService, LoginThrottled
from siyu.console.permissions import ANONYMOUS, RouteTable
from siyu.console.texts import LANGUAGES, tr
from siyu.console.web import LANG_COOKIE, PageError, language, local_path, principal_of, render

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/login"): ANONYMOUS,
    ("POST", "/console/login"): ANONYMOUS,
    ("GET", "/console/lang/{lang}"): ANONYMOUS,
    ("POST", "/console/logout"): P.DASHBOARD_READ,
}
LOGIN_CSRF_COOKIE = "siyu_login_csrf"


def _login_form(request: Request, next_path: str, error: str | None = None, status: int = 200) -> Response:
    """The form carries a fresh token that must match a cookie set with it (double submit), so
    another site cannot sign a visitor in to an account of its choosing (login CSRF)."""
    token = secrets.token_urlsafe(24)
    resp = render(request, "login.html", status=status, login_token=token, next_path=next_path, error=error)
    resp.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/console")
    return resp


@router.get("/login")
def login_page(request: Request, next: str = "/console/") -> Response:
    return _login_form(request, local_path(next))


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    login_token: str = Form(""),
    next: str = Form("/console/"),
) -> Response:
    lang = language(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (cookie and login_token and hmac.compare_digest(cookie, login_token)):
        return _login_form(request, local_path(next), tr("session_expired", lang), status=403)
    client = get_client(request)
    settings = client.ctx.settings
    address = request.client.host if request.client else "unknown"
    try:
        with client.ctx.db.session() as session:
            signed = AuthService(session).sign_in(
                username, password, address, request.cookies.get(SESSION_COOKIE), settings
            )
            token, user_lang = (signed[0], signed[1].language) if signed else (None, None)
    except LoginThrottled as exc:
        message = tr("login_throttled", lang, seconds=exc.retry_after_s)
        return _login_form(request, local_path(next), message, status=429)
    if token is None:
        return _login_form(request, local_path(next), tr("login_failed", lang), status=401)
    resp = RedirectResponse(local_path(next), status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
        max_age=int(settings.session_hours * 3600),
    )
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    if LANG_COOKIE not in request.cookies and user_lang in LANGUAGES:
        resp.set_cookie(LANG_COOKIE, user_lang, samesite="lax", path="/")
    return resp


@router.post("/logout")
def logout(request: Request) -> Response:
    principal_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with get_client(request).ctx.db.session() as session:
            AuthService(session).end_session(token)
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request, next: str = "/console/") -> Response:
    """Sets only a cookie (no stored state), so it is safe as a plain link."""
    if lang not in LANGUAGES:
        raise PageError(404, "not_found", {"what": lang})
    resp = RedirectResponse(local_path(next), status_code=303)
    resp.set_cookie(LANG_COOKIE, lang, samesite="lax", path="/", max_age=365 * 24 * 3600)
    return resp
