"""The dashboard (概览): the traffic pool, its growth by channel, activity, orders, today's
sends and the stage distribution at a glance.

The numbers come from ``siyu.analytics.dashboard`` in one unit of work: the warehouse is fed
once, then a few grouped warehouse queries (cached by data version) and the system-of-record
counts. This module only picks the range, draws the charts and renders.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from siyu.analytics.dashboard import RANGES, UNATTRIBUTED, Dashboard
from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import tr
from siyu.console.web import language, render

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {("GET", "/console/"): P.DASHBOARD_READ}

DEFAULT_DAYS = 30
#: Chart layout shared by the dashboard's figures: compact, legend on top, no title bar.
LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 8, "b": 32},
    "height": 300,
    "legend": {"orientation": "h", "y": 1.12},
    "paper_bgcolor": "rgba(0,0,0,0)",
}


@router.get("/")
def dashboard_page(request: Request, days: int = DEFAULT_DAYS) -> HTMLResponse:
    if days not in RANGES:
        days = DEFAULT_DAYS
    client = get_client(request)
    data = client.analytics.dashboard(days)
    lang = language(request, getattr(request.state, "principal", None))
    return render(
        request,
        "dashboard.html",
        zone=data.timezone,
        d=data,
        # the order event and its amount as the catalogue names them (下单, 金额)
        order_event=client.events.titles([data.order_event], lang)[data.order_event],
        amount_property=client.events.property_title(data.order_event, data.amount_property, lang),
        ranges=RANGES,
        unattributed=UNATTRIBUTED,
        charts=_charts(data, lang),
    )


def _days(d: Dashboard) -> list[date]:
    return [d.today - timedelta(days=d.days - 1 - i) for i in range(d.days)]


def _label(channel: str, name: str, lang: str) -> str:
    return tr("dashboard_unattributed", lang) if channel == UNATTRIBUTED else name


def _charts(d: Dashboard, lang: str) -> dict[str, str]:
    """Plotly figures as JSON, only for the parts that have data (empty ones show a note)."""
    charts: dict[str, str] = {}
    days = _days(d)
    if d.growth:
        fig = go.Figure()
        names: dict[str, str] = {}
        for r in d.growth:
            names.setdefault(r["channel"], _label(r["channel"], r["name"], lang))
        for channel, name in names.items():
            per_day = {r["day"]: r["contacts"] for r in d.growth if r["channel"] == channel}
            fig.add_bar(name=name, x=days, y=[per_day.get(day, 0) for day in days])
        # One series per channel: the legend goes under the chart, where a dozen fit.
        below = {"legend": {"orientation": "h", "y": -0.15, "yanchor": "top"}, "height": 460}
        fig.update_layout(barmode="stack", **{**LAYOUT, **below})
        charts["growth"] = fig.to_json()
    if d.pool:
        fig = go.Figure(
            go.Bar(
                x=[r["contacts"] for r in d.pool][::-1],
                y=[_label(r["channel"], r["name"], lang) for r in d.pool][::-1],
                orientation="h",
            )
        )
        fig.update_layout(**{**LAYOUT, "height": max(160, 36 * len(d.pool) + 60)})
        charts["pool"] = fig.to_json()
    if any(a["mau"] for a in d.activity):
        fig = go.Figure()
        x = [a["day"] for a in d.activity]
        for key, name in (("mau", "MAU"), ("wau", "WAU"), ("dau", "DAU")):
            fig.add_scatter(x=x, y=[a[key] for a in d.activity], mode="lines", name=name)
        fig.update_layout(**LAYOUT)
        charts["activity"] = fig.to_json()
    if d.orders_by_day:
        per_day = {r["day"]: r for r in d.orders_by_day}
        fig = go.Figure()
        fig.add_bar(
            name=tr("dashboard_series_orders", lang),
            x=days,
            y=[per_day[day]["orders"] if day in per_day else 0 for day in days],
        )
        fig.add_scatter(
            name=tr("dashboard_series_revenue", lang),
            x=days,
            y=[per_day[day]["revenue"] if day in per_day else 0 for day in days],
            yaxis="y2",
            mode="lines+markers",
        )
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero"}, **LAYOUT)
        charts["orders"] = fig.to_json()
    if any(d.stages.values()):
        stages = list(d.stages)
        fig = go.Figure(
            go.Bar(x=[tr(f"dashboard_stage_{s}", lang) for s in stages], y=[d.stages[s] for s in stages])
        )
        fig.update_layout(**LAYOUT)
        charts["stages"] = fig.to_json()
    return charts
