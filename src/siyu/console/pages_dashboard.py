"""The dashboard (概览): the traffic pool at a glance."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from siyu.api.deps import unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.web import render
from siyu.stats import overview

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {("GET", "/console/"): P.DASHBOARD_READ}


@router.get("/")
def dashboard(request: Request) -> HTMLResponse:
    with unit_of_work(request) as session:
        stats = overview(session)
    return render(request, "dashboard.html", stats=stats)
