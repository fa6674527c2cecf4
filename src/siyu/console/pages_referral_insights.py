"""Console pages for referral insights: a campaign's numbers with charts (统计), its tree drawn
as a sunburst (邀请关系), its leaderboard (排行榜, names masked), and the fraud review queue
(风险审核) where an operator approves or voids a flagged referral, the reasons in their words.

Numbers are analytics (analytics.read); the queue is the campaign's (journeys.read to see,
journeys.write to decide), like coupon campaigns. A decision redirects (303), so a reload does
not decide twice; a referral decided meanwhile by someone else says so instead of failing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.format import money
from siyu.console.permissions import RouteTable
from siyu.console.texts import tr
from siyu.console.web import PageError, language, principal_of, render
from siyu.referrals.fraud import label
from siyu.referrals.metrics import CampaignNotFound
from siyu.referrals.review import VOID_REASONS, ReviewError, ReviewNotFound
from siyu.referrals.tree import flatten

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/referrals/review"): P.JOURNEYS_READ,
    ("POST", "/console/referrals/review/{referral_id}/approve"): P.JOURNEYS_WRITE,
    ("POST", "/console/referrals/review/{referral_id}/void"): P.JOURNEYS_WRITE,
    ("GET", "/console/referrals/{key}/stats"): P.ANALYTICS_READ,
    ("GET", "/console/referrals/{key}/tree"): P.ANALYTICS_READ,
    ("GET", "/console/referrals/{key}/leaderboard"): P.ANALYTICS_READ,
}
#: Chart layout shared with the other analytics pages: compact, legend on top.
LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 8, "b": 32},
    "height": 300,
    "legend": {"orientation": "h", "y": 1.12},
    "paper_bgcolor": "rgba(0,0,0,0)",
}
STATUSES = ("pending", "qualified", "approved", "flagged", "voided")
STATUS_COLOURS = {
    "seed": "#34495e",
    "pending": "#95a5a6",
    "qualified": "#3498db",
    "approved": "#27ae60",
    "flagged": "#e67e22",
    "voided": "#c0392b",
}
PAGE_SIZE = 50


def _lang(request: Request) -> str:
    return language(request, getattr(request.state, "principal", None))


def _tabs(key: str) -> list[tuple[str, str]]:
    k = quote(key)
    return [
        ("rfi_tab_stats", f"/console/referrals/{k}/stats"),
        ("rfi_tab_tree", f"/console/referrals/{k}/tree"),
        ("rfi_tab_leaderboard", f"/console/referrals/{k}/leaderboard"),
        ("rfi_tab_review", f"/console/referrals/review?campaign={k}"),
    ]


def _campaign_page(request: Request, key: str, template: str, **context: Any) -> HTMLResponse:
    return render(request, template, key=key, tabs=_tabs(key), **context)


def _chart(fig: go.Figure) -> str:
    fig.update_layout(**LAYOUT)
    return fig.to_json()  # type: ignore[no-any-return]


def stats_charts(stats: dict[str, Any], lang: str) -> dict[str, str]:
    """Generations (bars) with cycle time by generation (line), statuses, and referred vs
    other buyers' LTV: one figure each, labels in the reader's language."""
    gens = [tr("rfi_generation_n", lang, n=i + 1) for i in range(len(stats["generations"]))]
    depth = go.Figure()
    depth.add_bar(name=tr("rfi_invites", lang), x=gens, y=stats["generations"], marker_color="#3498db")
    depth.add_scatter(
        name=tr("rfi_cycle_time", lang),
        x=gens,
        y=stats["cycle_by_generation"],
        yaxis="y2",
        mode="lines+markers",
    )
    depth.update_layout(yaxis2={"overlaying": "y", "side": "right", "showgrid": False})
    statuses = go.Figure(
        go.Bar(
            x=[tr(f"rfi_status_{s}", lang) for s in STATUSES],
            y=[stats["statuses"].get(s, 0) for s in STATUSES],
            marker_color=[STATUS_COLOURS[s] for s in STATUSES],
        )
    )
    sides = ("referred", "others")
    ltv = go.Figure(
        go.Bar(
            x=[tr(f"rfi_value_{s}", lang) for s in sides],
            y=[float(stats["value"][s]["ltv"] or 0) for s in sides],
            text=[money(Decimal(stats["value"][s]["ltv"] or 0), lang) for s in sides],
            marker_color=["#27ae60", "#95a5a6"],
        )
    )
    charts = {"depth": _chart(depth), "statuses": _chart(statuses)}
    if any(stats["value"][s]["buyers"] for s in sides):
        charts["ltv"] = _chart(ltv)
    return charts


@router.get("/referrals/{key}/stats")
def stats_page(request: Request, key: str) -> HTMLResponse:
    lang = _lang(request)
    try:
        stats = get_client(request).referral_insights.stats(key)
    except CampaignNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    cost = stats["cost_per_qualified"]
    return _campaign_page(
        request,
        key,
        "referral_insights_stats.html",
        s=stats,
        cost=money(Decimal(cost), lang) if cost is not None else "—",
        spent=money(Decimal(stats["reward_value"]), lang),
        ltv={k: money(Decimal(v["ltv"]), lang) if v["ltv"] else "—" for k, v in stats["value"].items()},
        charts=stats_charts(stats, lang) if stats["invites"] else None,
    )


def tree_chart(root: dict[str, Any], lang: str) -> str | None:
    """The tree as a sunburst: seeds in the inner ring, each generation one ring further out,
    wedges sized by the people below, coloured by status."""
    rows = flatten(root)
    if not rows:
        return None
    anonymous = tr("rfi_anonymous", lang)
    fig = go.Figure(
        go.Sunburst(
            ids=[r["id"] for r in rows],
            parents=[r["parent"] for r in rows],
            labels=[r["name"] or anonymous for r in rows],
            values=[r["size"] for r in rows],
            branchvalues="total",
            marker={"colors": [STATUS_COLOURS.get(r["status"], "#95a5a6") for r in rows]},
            hovertext=[tr(f"rfi_status_{r['status']}", lang) for r in rows],
            hoverinfo="label+text+value",
        )
    )
    fig.update_layout(**{**LAYOUT, "height": 520})
    return fig.to_json()  # type: ignore[no-any-return]


@router.get("/referrals/{key}/tree")
def tree_page(request: Request, key: str) -> HTMLResponse:
    try:
        root = get_client(request).referral_insights.tree(key, max_nodes=1500)
    except CampaignNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    hidden = sum(r["hidden"] for r in flatten(root))
    return _campaign_page(
        request,
        key,
        "referral_insights_tree.html",
        root=root,
        chart=tree_chart(root, _lang(request)),
        hidden=hidden,
        statuses=("seed", *STATUSES),
        colours=STATUS_COLOURS,
    )


@router.get("/referrals/{key}/leaderboard")
def leaderboard_page(request: Request, key: str) -> HTMLResponse:
    try:
        rows = get_client(request).referral_insights.leaderboard(key, limit=50)
    except CampaignNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    return _campaign_page(request, key, "referral_insights_leaderboard.html", rows=rows)


@router.get("/referrals/review")
def review_page(request: Request) -> HTMLResponse:
    lang = _lang(request)
    campaign = request.query_params.get("campaign") or None
    raw = request.query_params.get("page", "1")
    page = int(raw) if raw.isdigit() and int(raw) > 0 else 1
    try:
        data = get_client(request).referral_insights.review_list(
            campaign, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
    except CampaignNotFound as exc:
        raise PageError(404, "not_found", {"what": campaign}) from exc
    for ref in data["referrals"]:
        ref["reason_labels"] = [
            {"label": label(str(r.get("code")), lang), "code": r.get("code")} for r in ref["reasons"]
        ]
    done = request.query_params.get("done", "")
    notice = tr(f"rfi_done_{done}", lang) if done in ("approved", "voided", "stale") else ""
    return render(
        request,
        "referral_insights_review.html",
        campaign=campaign,
        total=data["total"],
        referrals=data["referrals"],
        page=page,
        pages=max(1, -(-data["total"] // PAGE_SIZE)),
        void_reasons=VOID_REASONS,
        notice=notice,
        stale=done == "stale",
    )


def _back(form: Any, done: str) -> RedirectResponse:
    campaign = str(form.get("campaign") or "")
    query = f"?done={done}" + (f"&campaign={quote(campaign)}" if campaign else "")
    return RedirectResponse(f"/console/referrals/review{query}", status_code=303)


@router.post("/referrals/review/{referral_id}/approve")
async def approve(request: Request, referral_id: int) -> Response:
    form = await request.form()
    note = str(form.get("note") or "")[:500] or None
    actor = principal_of(request).actor
    try:
        get_client(request).referral_insights.approve(referral_id, actor=actor, note=note)
    except ReviewNotFound as exc:
        raise PageError(404, "not_found", {"what": referral_id}) from exc
    except ReviewError:
        return _back(form, "stale")
    return _back(form, "approved")


@router.post("/referrals/review/{referral_id}/void")
async def void(request: Request, referral_id: int) -> Response:
    form = await request.form()
    reason = str(form.get("reason") or "fraud")
    if reason not in VOID_REASONS:
        raise PageError(422, "invalid_input", {"what": tr("rfi_void_reason", _lang(request))})
    note = str(form.get("note") or "")[:500] or None
    actor = principal_of(request).actor
    try:
        get_client(request).referral_insights.void(referral_id, reason=reason, actor=actor, note=note)
    except ReviewNotFound as exc:
        raise PageError(404, "not_found", {"what": referral_id}) from exc
    except ReviewError:
        return _back(form, "stale")
    return _back(form, "voided")
