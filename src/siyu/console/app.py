"""Puts the console on the FastAPI app: its routers behind ``guard``, its static files, and
error pages in the user's language for everything under /console."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly
from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from siyu.console import (
    pages_access,
    pages_analytics,
    pages_auth,
    pages_brand,
    pages_community,
    pages_contacts,
    pages_content,
    pages_content_editor,
    pages_coupons,
    pages_dashboard,
    pages_distribution,
    pages_events,
    pages_graph,
    pages_imports,
    pages_journeys,
    pages_loyalty,
    pages_loyalty_engage,
    pages_orders,
    pages_privacy,
    pages_referral_insights,
    pages_referral_posters,
    pages_referrals,
    pages_retention,
    pages_segments,
    pages_settings,
    pages_sop,
    pages_wecom,
    pages_wecom_ways,
)
from siyu.console.permissions import collect
from siyu.console.web import PageError, SignInRequired, error_page, guard

STATIC = Path(__file__).parent / "static"
#: plotly.js as shipped inside the plotly Python package: charts work offline, no CDN.
PLOTLY_JS = Path(plotly.__file__).parent / "package_data"

#: Console page modules; each has ``router`` (prefix /console) and ``ROUTES`` (its permissions).
PAGES: tuple[Any, ...] = (
    pages_auth,
    pages_dashboard,
    pages_contacts,
    pages_imports,
    pages_segments,
    pages_sop,
    pages_graph,
    pages_journeys,
    pages_content,
    pages_content_editor,
    pages_analytics,
    pages_settings,
    pages_access,
    pages_privacy,
    pages_retention,
    pages_events,
    pages_brand,
    pages_wecom_ways,
    pages_community,
    pages_wecom,
    pages_orders,
    pages_loyalty,
    pages_coupons,
    pages_loyalty_engage,
    pages_referral_insights,  # before the core's /referrals/{key}: /referrals/review is ours
    pages_referral_posters,
    pages_referrals,
    pages_distribution,
)

_STATUS_KEYS = {404: "not_found", 409: "invalid_input", 422: "invalid_input", 400: "invalid_input"}


def _detail(resp: Response) -> str:
    try:
        body = json.loads(bytes(resp.body))
    except ValueError:
        return ""
    problems = body.get("errors")
    if isinstance(problems, list):  # request validation: name the fields (not "body" or "query")
        where = [".".join(str(x) for x in d.get("loc", [])[1:]) for d in problems]
        return "; ".join(f"{w}: {d.get('msg')}" for w, d in zip(where, problems, strict=True))
    return str(body.get("detail", ""))


def install(app: FastAPI) -> None:
    app.state.console_routes = collect(PAGES)
    for page in PAGES:
        app.include_router(page.router, dependencies=[Depends(guard)], include_in_schema=False)
    app.mount("/console/static/vendor", StaticFiles(directory=PLOTLY_JS, follow_symlink=False), name="vendor")
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")

    @app.get("/console", include_in_schema=False)
    def console_root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        return error_page(request, exc.status, exc.key, **exc.params)

    def sign_in(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        return RedirectResponse(f"/console/login?next={exc.next_path}", status_code=303)

    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(SignInRequired, sign_in)

    # Capability errors keep their API status mapping; under /console the answer becomes a
    # page in the user's language that says what went wrong and what to do next.
    for exc_class, handler in list(app.exception_handlers.items()):
        if exc_class in (PageError, SignInRequired):
            continue
        app.exception_handlers[exc_class] = _console_aware(handler)


def _console_aware(handler: Any) -> Any:
    async def answer(request: Request, exc: Exception) -> Response:
        resp = handler(request, exc)
        if hasattr(resp, "__await__"):
            resp = await resp
        if not request.url.path.startswith("/console"):
            return resp  # type: ignore[no-any-return]
        status = resp.status_code
        detail = _detail(resp)
        if status == 401:
            return RedirectResponse(f"/console/login?next={request.url.path}", status_code=303)
        if status == 403:
            return error_page(request, 403, "invalid_input", what=detail)
        key = _STATUS_KEYS.get(status, "server_error")
        return error_page(request, status, key, what=detail)

    return answer
