"""What every console page shares: the signed-in principal, its language, CSRF on forms,
rendering, and errors shown in the user's language with what to do next.

Authorisation is not left to each page: ``guard`` (every console router's dependency) looks
the matched route up in the page modules' ``ROUTES`` tables, as the API does with its table,
and refuses routes missing there (fail closed). Handlers read the principal with
``principal_of(request)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from siyu import __version__
from siyu.api.security import SAFE_METHODS, csrf_ok, resolve_principal
from siyu.auth.roles import ROLE_NAMES, Permission
from siyu.auth.service import Principal
from siyu.brand import DEFAULT_TIMEZONE
from siyu.console.format import FILTERS
from siyu.console.permissions import ANONYMOUS
from siyu.console.texts import LANGUAGES, tr

LANG_COOKIE = "siyu_lang"
P = Permission

ENV = Environment(
    loader=PackageLoader("siyu.console", "templates"), autoescape=select_autoescape(default=True)
)
ENV.filters.update(FILTERS)
# `tojson` shows Chinese as Chinese, not \uXXXX (it still escapes <, >, & and ' for HTML)
ENV.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}

#: The navigation: (text key, path, permission needed to see it).
NAV: tuple[tuple[str, str, Permission], ...] = (
    ("nav_dashboard", "/console/", P.DASHBOARD_READ),
    ("nav_contacts", "/console/contacts", P.CONTACTS_READ),
    ("nav_imports", "/console/imports", P.IMPORTS_WRITE),
    ("nav_segments", "/console/segments", P.SEGMENTS_READ),
    ("nav_groups", "/console/groups", P.CONTACTS_READ),
    ("nav_orders", "/console/orders", P.CONTACTS_READ),
    ("nav_loyalty", "/console/loyalty", P.CONTACTS_READ),
    ("nav_journeys", "/console/journeys", P.JOURNEYS_READ),
    ("nav_coupons", "/console/coupons", P.JOURNEYS_READ),
    ("nav_referrals", "/console/referrals", P.JOURNEYS_READ),
    ("nav_distribution", "/console/distribution", P.CONTACTS_READ),
    ("nav_content", "/console/content", P.CONTENT_READ),
    ("nav_analytics", "/console/analytics", P.ANALYTICS_READ),
    ("nav_engage", "/console/loyalty/checkins", P.CONTACTS_READ),
    ("nav_wecom", "/console/wecom", P.CHANNELS_READ),
    ("nav_settings", "/console/settings", P.CHANNELS_READ),
    ("nav_privacy", "/console/privacy", P.PRIVACY_DELETE),
)


@dataclass
class PageError(Exception):
    """An error page: ``key`` is a text key of console.texts, ``params`` fill it."""

    status: int
    key: str
    params: dict[str, Any] = field(default_factory=dict)


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def language(request: Request, principal: Principal | None = None) -> str:
    """The cookie set by the language switch, else the user's saved language, else the
    browser's preference, else Chinese (the console's users are mostly Chinese teams)."""
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    if principal is not None and principal.language in LANGUAGES:
        return principal.language
    accept = request.headers.get("accept-language", "").lower()
    if accept.startswith("en"):
        return "en"
    return "zh"


def local_path(target: str | None, default: str = "/console/") -> str:
    """Only console paths on this site (no ``//evil`` or ``https://``): no open redirects."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return default


async def guard(request: Request) -> None:
    """Console router dependency: sign-in, the route's permission, and CSRF on every form post.
    Only sessions count here; API keys are for programs, not pages."""
    route = request.scope.get("route")
    needed = request.app.state.console_routes.get((request.method, getattr(route, "path", "")))
    if needed is None:
        raise PageError(403, "forbidden", {"role": "-", "permission": "(unassigned route)"})
    if needed == ANONYMOUS:
        return
    principal = resolve_principal(request)
    if principal is None or principal.session_id is None:
        request.state.principal = None
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    if not principal.can(Permission(needed)):
        raise PageError(403, "forbidden", {"role": principal.role, "permission": needed})
    if request.method not in SAFE_METHODS:
        supplied = request.headers.get("x-csrf-token")
        if supplied is None and "form" in request.headers.get("content-type", ""):
            supplied = str((await request.form()).get("csrf_token") or "")
        if not csrf_ok(principal, supplied):
            raise PageError(403, "session_expired")


def user_language(request: Request) -> str:
    """The language of this request's user (see ``language``)."""
    return language(request, getattr(request.state, "principal", None))


def text(request: Request, key: str, /, **params: Any) -> str:
    """``key`` in the language of this request's user, for messages a handler builds."""
    return tr(key, user_language(request), **params)


def principal_of(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    assert principal is not None, "guard() lets only signed-in users reach this page"
    return principal


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    lang = language(request, principal)

    def t(key: str, /, **params: Any) -> str:
        return tr(key, lang, **params)

    nav = [(t(key), href) for key, href, perm in NAV if principal is not None and principal.can(perm)]
    html = ENV.get_template(template).render(
        request=request,
        t=t,
        lang=lang,
        zone=context.pop("zone", None) or brand_zone(request),
        principal=principal,
        can=(lambda perm: principal is not None and principal.can(Permission(perm))),
        role_name=(lambda role: ROLE_NAMES.get(role, {}).get(lang, role)),
        csrf_token=principal.csrf_token if principal else "",
        nav=nav,
        path=request.url.path,
        here=quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="/?=&"),
        version=__version__,
        **context,
    )
    return HTMLResponse(html, status_code=status)


def brand_zone(request: Request) -> str:
    """The brand's time zone (IANA name): every time on a page is shown in it."""
    client = getattr(request.app.state, "client", None)
    return client.ctx.timezone() if client is not None else DEFAULT_TIMEZONE


def error_page(request: Request, status: int, key: str, **params: Any) -> HTMLResponse:
    lang = language(request, getattr(request.state, "principal", None))
    return render(request, "error.html", status=status, message=tr(key, lang, **params))
