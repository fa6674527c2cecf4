"""Console page: the brand's time zone (设置 → 品牌时区). Everyone who can see the settings reads
it; who manages channels may change it. SIYU_TIMEZONE, when set, wins and the page says so.

A refused form is drawn again (HTTP 422) with the field named in the user's language and what
was typed kept; a saved one redirects (303)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.brand import ZoneError
from siyu.console.permissions import RouteTable
from siyu.console.web import principal_of, render, text

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/settings/brand"): P.CHANNELS_READ,
    ("POST", "/console/settings/brand"): P.CHANNELS_MANAGE,
}


def _page(request: Request, status: int = 200, typed: str | None = None, **extra: str) -> HTMLResponse:
    info = get_client(request).timezone()
    now = datetime.now(UTC).astimezone(ZoneInfo(info["timezone"]))
    return render(
        request,
        "settings_brand.html",
        status=status,
        zone=info["timezone"],
        info=info,
        typed=info["stored"] or info["timezone"] if typed is None else typed,
        now=now,
        **extra,
    )


@router.get("/settings/brand")
def brand_page(request: Request, saved: str = "") -> HTMLResponse:
    flash = text(request, "brand_zone_saved", zone=saved) if saved else ""
    return _page(request, flash=flash)


@router.post("/settings/brand")
async def brand_save(request: Request) -> Response:
    typed = str((await request.form()).get("timezone") or "").strip()
    try:
        info = get_client(request).set_timezone(typed, actor=principal_of(request).actor)
    except ZoneError:
        return _page(request, 422, typed, error=text(request, "brand_zone_bad", value=typed))
    return RedirectResponse(f"/console/settings/brand?saved={info['stored']}", status_code=303)
