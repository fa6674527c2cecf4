"""Console pages: orders (list with filters, one order, refund), the orders report (chart and
CSV), order events that were not booked (未入账的订单事件), and subscriptions (周期购: plans,
subscribers, pause / resume / cancel). Money in ¥, times in the brand's zone, statuses and
problems in words.

Actions post back and redirect (303) with a notice; a refused input becomes the console's error
page in the user's language (the API's status mapping, see console/app.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.commerce.report import report_rows
from siyu.commerce.schemas import CommerceError, CommerceNotFound
from siyu.commerce.subscriptions import SubscriptionError
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import PageError, brand_zone, language, principal_of, render

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/orders"): P.CONTACTS_READ,
    ("GET", "/console/orders/report"): P.ANALYTICS_READ,
    ("GET", "/console/orders/report.csv"): P.ANALYTICS_READ,
    ("GET", "/console/orders/problems"): P.CONTACTS_READ,
    ("GET", "/console/orders/{source}/{order_id}"): P.CONTACTS_READ,
    ("POST", "/console/orders/{source}/{order_id}/refund"): P.CONTACTS_WRITE,
    ("GET", "/console/subscriptions"): P.CONTACTS_READ,
    ("POST", "/console/subscriptions/plans"): P.CONTACTS_WRITE,
    ("POST", "/console/subscriptions/renew"): P.CONTACTS_WRITE,
    ("POST", "/console/subscriptions/{subscription_id}/{action}"): P.CONTACTS_WRITE,
}
PAGE_SIZE = 50
STATUSES = ("completed", "partially_refunded", "refunded")
SUB_ACTIONS = ("pause", "resume", "cancel")
NOTICES = {
    "orders_refund_done": (),
    "subs_plan_created": (),
    "subs_changed": (),
    "subs_renewed": ("renewed", "reminded"),
}
LAYOUT: dict[str, Any] = {
    "margin": {"l": 48, "r": 16, "t": 8, "b": 32},
    "height": 300,
    "legend": {"orientation": "h", "y": 1.12},
    "paper_bgcolor": "rgba(0,0,0,0)",
}


def _lang(request: Request) -> str:
    return language(request, getattr(request.state, "principal", None))


def _notice(request: Request) -> str:
    key = request.query_params.get("done", "")
    if key not in NOTICES:
        return ""
    params = {}
    for name in NOTICES[key]:
        raw = request.query_params.get(name, "0")
        params[name] = int(raw) if raw.isdigit() else 0
    return tr(key, _lang(request), **params)


def _done(path: str, key: str, **params: int) -> RedirectResponse:
    query = "".join(f"&{k}={v}" for k, v in params.items())
    return RedirectResponse(f"{path}?done={key}{query}", status_code=303)


def _day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageError(422, "invalid_input", {"what": f"{field}: YYYY-MM-DD"}) from None


def problem_text(code: str, lang: str) -> str:
    key = f"orders_problem_{code}"
    return tr(key if key in TEXT else "orders_problem_other", lang)


@contextmanager
def explained(request: Request) -> Iterator[None]:
    """A refused refund or plan as the error page in the operator's language: the field and
    what is wrong with it in words (the English message too on an English page)."""
    try:
        yield
    except CommerceNotFound:
        raise
    except CommerceError as exc:
        lang = _lang(request)
        key = f"orders_problem_{exc.code}"
        field = tr(f"orders_field_{exc.field}", lang) if f"orders_field_{exc.field}" in TEXT else exc.field
        what = f"{field}：{tr(key, lang)}" if lang == "zh" and key in TEXT else str(exc)
        raise PageError(
            409 if isinstance(exc, SubscriptionError) else 422, "invalid_input", {"what": what}
        ) from exc


@router.get("/orders")
def orders_page(
    request: Request,
    source: str = "",
    status: str = "",
    staff: str = "",
    contact: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> HTMLResponse:
    client = get_client(request)
    zone = ZoneInfo(brand_zone(request))
    first, last = _day(since, "since"), _day(until, "until")
    page = max(1, min(page, 10_000))
    data = client.orders.list(
        contact=contact.strip() or None,
        source=source or None,
        status=status if status in STATUSES else None,
        staff=staff.strip() or None,
        since=datetime.combine(first, time(), zone) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), zone) if last else None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    channels = {c["key"]: c["name"] for c in _channels(client)}
    return render(
        request,
        "orders.html",
        orders=data["orders"],
        total=data["total"],
        page=page,
        pages=max(1, -(-data["total"] // PAGE_SIZE)),
        channels=channels,
        statuses=STATUSES,
        f={
            "source": source,
            "status": status,
            "staff": staff,
            "contact": contact,
            "since": since,
            "until": until,
        },
        notice=_notice(request),
    )


def _channels(client: Any) -> list[dict[str, Any]]:
    from siyu.sources.service import SourcesService

    with client.ctx.db.session() as s:
        return [{"key": c.key, "name": c.name} for c in SourcesService(s).channels()]


def _report_range(request: Request, since: str, until: str) -> tuple[date, date]:
    today = datetime.now(ZoneInfo(brand_zone(request))).date()
    last = _day(until, "until") or today
    first = _day(since, "since") or (last - timedelta(days=29))
    return first, last


@router.get("/orders/report")
def orders_report_page(request: Request, since: str = "", until: str = "") -> HTMLResponse:
    first, last = _report_range(request, since, until)
    report = get_client(request).orders.report(first, last)
    lang = _lang(request)
    chart = None
    if report["by_channel"]:
        fig = go.Figure()
        names = [r["channel_name"] for r in report["by_channel"]]
        fig.add_bar(name=tr("orders_gmv", lang), x=names, y=[float(r["gmv"]) for r in report["by_channel"]])
        fig.add_bar(name=tr("orders_net", lang), x=names, y=[float(r["net"]) for r in report["by_channel"]])
        fig.update_layout(**LAYOUT, barmode="group", yaxis={"tickprefix": "¥"})
        chart = fig.to_json()
    return render(
        request, "orders_report.html", r=report, since=first.isoformat(), until=last.isoformat(), chart=chart
    )


@router.get("/orders/report.csv")
def orders_report_csv(request: Request, since: str = "", until: str = "") -> Response:
    first, last = _report_range(request, since, until)
    buf = io.StringIO()
    csv.writer(buf).writerows(report_rows(get_client(request).orders.report(first, last)))
    name = f"orders-{first.isoformat()}-{last.isoformat()}.csv"
    return Response(
        "\ufeff" + buf.getvalue(),  # a BOM, so Excel reads UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/orders/problems")
def orders_problems_page(request: Request) -> HTMLResponse:
    data = get_client(request).orders.problems(200)
    lang = _lang(request)
    rows = [{**p, "why": problem_text(p["code"], lang)} for p in data["problems"]]
    return render(request, "orders_problems.html", problems=rows, total=data["total"])


@router.get("/orders/{source}/{order_id}")
def order_page(request: Request, source: str, order_id: str) -> HTMLResponse:
    order = get_client(request).orders.show(source, order_id)
    channels = {c["key"]: c["name"] for c in _channels(get_client(request))}
    return render(request, "orders_detail.html", o=order, channels=channels, notice=_notice(request))


@router.post("/orders/{source}/{order_id}/refund")
async def order_refund(request: Request, source: str, order_id: str) -> RedirectResponse:
    form = await request.form()
    amount = str(form.get("amount") or "").strip() or None
    reason = str(form.get("reason") or "").strip() or None
    refund_id = str(form.get("refund_id") or "").strip() or None
    with explained(request):
        get_client(request).orders.refund(
            source,
            order_id,
            amount=amount,
            reason=reason,
            refund_id=refund_id,
            actor=principal_of(request).actor,
        )
    return _done(f"/console/orders/{source}/{order_id}", "orders_refund_done")


@router.get("/subscriptions")
def subscriptions_page(request: Request, status: str = "", plan: str = "") -> HTMLResponse:
    subs = get_client(request).orders.subscriptions
    return render(
        request,
        "subscriptions.html",
        plans=subs.plans(),
        subs=subs.list(status=status or None, plan=plan or None, limit=200),
        f={"status": status, "plan": plan},
        statuses=("active", "paused", "cancelled", "ended", "failed"),
        notice=_notice(request),
    )


@router.post("/subscriptions/plans")
async def plan_create(request: Request) -> RedirectResponse:
    form = await request.form()
    with explained(request):
        _create_plan(request, form)
    return _done("/console/subscriptions", "subs_plan_created")


def _create_plan(request: Request, form: Any) -> None:
    import secrets

    get_client(request).orders.subscriptions.create_plan(
        f"plan-{secrets.token_hex(4)}",  # operators name plans; the key is made here
        str(form.get("name") or "").strip(),
        str(form.get("price") or "").strip(),
        str(form.get("interval_days") or "").strip(),  # type: ignore[arg-type]
        actor=principal_of(request).actor,
        periods=str(form.get("periods") or "").strip() or None,
        remind_days=str(form.get("remind_days") or "3").strip(),
        product_id=str(form.get("product_id") or "").strip() or None,
    )


@router.post("/subscriptions/renew")
def subscriptions_renew(request: Request) -> RedirectResponse:
    out = get_client(request).orders.subscriptions.renew()
    return _done("/console/subscriptions", "subs_renewed", renewed=out["renewed"], reminded=out["reminded"])


@router.post("/subscriptions/{subscription_id}/{action}")
async def subscription_action(request: Request, subscription_id: int, action: str) -> RedirectResponse:
    if action not in SUB_ACTIONS:
        raise PageError(404, "not_found", {})
    form = await request.form()
    subs = get_client(request).orders.subscriptions
    actor = principal_of(request).actor
    with explained(request):
        if action == "cancel":
            subs.cancel(subscription_id, reason=str(form.get("reason") or "").strip() or None, actor=actor)
        else:
            getattr(subs, action)(subscription_id, actor=actor)
    return _done("/console/subscriptions", "subs_changed")
