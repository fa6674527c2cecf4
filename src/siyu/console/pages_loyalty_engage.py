"""Console pages for engagement on top of the points ledger: the check-in rewards (签到), tasks
and badges (任务与勋章) and the points catalogue (积分商城).

Forms post back here; a refused form is drawn again with the reason in the operator's language
(422), a successful one redirects (303) so a reload does not submit twice. Conditions, kinds and
templates are shown in words (event display names, coupon template names), never as keys."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import func, select

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT
from siyu.console.web import language, principal_of, render, text
from siyu.events.defaults import EVENTS
from siyu.events.service import EventCatalogue
from siyu.loyalty.programme import LoyaltyError
from siyu.store.models import Checkin, CouponTemplate, Redemption, RedemptionItem, utcnow

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/loyalty/checkins"): P.CONTACTS_READ,
    ("POST", "/console/loyalty/checkins"): P.CHANNELS_MANAGE,
    ("GET", "/console/loyalty/tasks"): P.CONTACTS_READ,
    ("POST", "/console/loyalty/tasks"): P.CHANNELS_MANAGE,
    ("POST", "/console/loyalty/tasks/{key}/active"): P.CHANNELS_MANAGE,
    ("GET", "/console/loyalty/catalogue"): P.CONTACTS_READ,
    ("POST", "/console/loyalty/catalogue"): P.CHANNELS_MANAGE,
    ("POST", "/console/loyalty/catalogue/{key}/active"): P.CHANNELS_MANAGE,
}
TABS = (
    ("eng_tab_checkins", "/console/loyalty/checkins"),
    ("eng_tab_tasks", "/console/loyalty/tasks"),
    ("eng_tab_catalogue", "/console/loyalty/catalogue"),
)
#: events a task can wait for: the customer's own acts (siyu's system events left out)
TASK_EVENTS = tuple(
    n
    for n in EVENTS
    if not n.islower() and not n.startswith(("Points ", "Tier ", "Member ", "Checked", "Task "))
)
MILESTONE_ROWS = 5


def _t(request: Request) -> Any:
    return partial(text, request)


def _why(request: Request, exc: LoyaltyError) -> str:
    t = _t(request)
    key = f"eng_err_{exc.code}"
    return str(t(key)) if key in TEXT else str(t("eng_refused", detail=exc.message))


def _int(raw: Any, label: str, request: Request, *, optional: bool = False) -> int | None:
    value = str(raw or "").strip()
    if not value and optional:
        return None
    try:
        return int(value or "0")
    except ValueError:
        raise LoyaltyError("bad_number", str(_t(request)("eng_bad_number", field=label))) from None


def _templates(request: Request) -> list[dict[str, str]]:
    with unit_of_work(request) as s:
        rows = s.execute(
            select(CouponTemplate.key, CouponTemplate.name)
            .where(CouponTemplate.status == "active")
            .order_by(CouponTemplate.id.desc())
        ).all()
    return [{"key": k, "name": n} for k, n in rows]


# --- check-ins -------------------------------------------------------------------------------------
def _checkins_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    client = get_client(request)
    settings = context.pop("settings", None) or client.engage.checkin_settings()
    rows = [{"days": d, "points": p} for d, p in settings["milestones"].items()]
    rows += [{"days": "", "points": ""}] * max(MILESTONE_ROWS - len(rows), 1)
    with unit_of_work(request) as s:
        since = utcnow().date() - timedelta(days=7)
        recent = s.execute(
            select(Checkin.day, func.count(), func.coalesce(func.sum(Checkin.points), 0))
            .where(Checkin.day >= since)
            .group_by(Checkin.day)
            .order_by(Checkin.day.desc())
        ).all()
    return render(
        request,
        "loyalty_checkins.html",
        status=status,
        tabs=TABS,
        settings=settings,
        milestone_rows=rows,
        recent=[{"day": d, "members": int(n), "points": int(p)} for d, n, p in recent],
        **context,
    )


@router.get("/loyalty/checkins")
def checkins_page(request: Request, saved: str = "") -> HTMLResponse:
    return _checkins_page(request, flash=_t(request)("eng_saved") if saved else None)


@router.post("/loyalty/checkins")
async def checkins_save(request: Request) -> Response:
    form = await request.form()
    t = _t(request)
    try:
        milestones: dict[str, int] = {}
        for days, points in zip(
            form.getlist("milestone_days"), form.getlist("milestone_points"), strict=False
        ):
            if str(days).strip() or str(points).strip():
                d = _int(days, str(t("eng_milestone_days")), request)
                milestones[str(d)] = _int(points, str(t("eng_milestone_points")), request) or 0
        value = {
            "points": _int(form.get("points"), str(t("eng_points_per_checkin")), request),
            "milestones": milestones,
        }
        get_client(request).engage.set_checkin_settings(value, actor=principal_of(request).actor)
    except LoyaltyError as exc:
        shown = {"points": form.get("points") or 0, "milestones": {}}
        return _checkins_page(request, 422, error=_why(request, exc), settings=shown)
    return RedirectResponse("/console/loyalty/checkins?saved=1", status_code=303)


# --- tasks -----------------------------------------------------------------------------------------
def _data(value: Any) -> Markup:
    """A name from the brand's data (a trait, a property value): shown as is, not translated."""
    return Markup('<span class="data" translate="no">{}</span>').format(str(value)[:200])


def _condition_html(request: Request, cond: dict[str, Any], titles: dict[str, str]) -> Markup:
    t = _t(request)
    if "profile" in cond:
        traits = Markup("、").join(_data(x) for x in cond["profile"])
        return Markup(escape(t("eng_cond_profile_text", traits="\x00"))).replace("\x00", traits)
    event = titles.get(cond["event"]) or _data(cond["event"])
    out = Markup(escape(t("eng_cond_event_text", event="\x00", count=cond.get("count", 1)))).replace(
        "\x00", escape(event)
    )
    for prop, value in (cond.get("where") or {}).items():
        part = escape(t("eng_cond_where_text", property="\x00", value="\x01"))
        out += Markup(part).replace("\x00", _data(prop)).replace("\x01", _data(value))
    return out


def _tasks_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request, principal_of(request))
    tasks = get_client(request).engage.tasks()
    templates = _templates(request)
    names = {x["key"]: x["name"] for x in templates}
    with unit_of_work(request) as s:
        wanted = {x["condition"].get("event") for x in tasks} | set(TASK_EVENTS)
        labels = EventCatalogue(s).labels(sorted(n for n in wanted if n))
    titles = {n: lab.title(lang) for n, lab in labels.items()}
    for task in tasks:
        task["condition_html"] = _condition_html(request, task["condition"], titles)
        task["coupon_name"] = names.get(task["reward_coupon"] or "", task["reward_coupon"])
    events = [{"name": n, "title": titles.get(n, n)} for n in TASK_EVENTS]
    return render(
        request,
        "loyalty_tasks.html",
        status=status,
        tabs=TABS,
        tasks=tasks,
        events=events,
        templates=templates,
        form=context.pop("form", {}),
        **context,
    )


@router.get("/loyalty/tasks")
def tasks_page(request: Request, added: str = "") -> HTMLResponse:
    return _tasks_page(request, flash=_t(request)("eng_task_added", name=added) if added else None)


@router.post("/loyalty/tasks")
async def tasks_add(request: Request) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    t = _t(request)
    try:
        if form.get("kind") == "profile":
            condition: dict[str, Any] = {
                "profile": [
                    x.strip() for x in form.get("traits", "").replace("，", ",").split(",") if x.strip()
                ]
            }
        else:
            condition = {
                "event": form.get("event", ""),
                "count": _int(form.get("count") or "1", str(t("eng_times")), request),
            }
            if form.get("where_property"):
                condition["where"] = {form["where_property"]: form.get("where_value", "")}
        get_client(request).engage.add_task(
            form.get("key", ""),
            actor=principal_of(request).actor,
            name=form.get("name", ""),
            condition=condition,
            reward_points=_int(form.get("reward_points") or "0", str(t("eng_reward_points")), request),
            reward_coupon=form.get("reward_coupon") or None,
            badge=form.get("badge") or None,
        )
    except LoyaltyError as exc:
        return _tasks_page(request, 422, error=_why(request, exc), form=form)
    return RedirectResponse(f"/console/loyalty/tasks?added={quote(form.get('name', ''))}", status_code=303)


@router.post("/loyalty/tasks/{key}/active")
async def tasks_toggle(request: Request, key: str) -> Response:
    on = (await request.form()).get("active") == "1"
    try:
        get_client(request).engage.update_task(key, actor=principal_of(request).actor, active=on)
    except LoyaltyError as exc:
        return _tasks_page(request, 404 if exc.code.endswith("not_found") else 422, error=_why(request, exc))
    return RedirectResponse("/console/loyalty/tasks", status_code=303)


# --- catalogue -------------------------------------------------------------------------------------
def _catalogue_page(request: Request, status: int = 200, **context: Any) -> HTMLResponse:
    items = get_client(request).engage.catalogue()
    templates = _templates(request)
    names = {x["key"]: x["name"] for x in templates}
    with unit_of_work(request) as s:
        redeemed = dict(
            s.execute(
                select(RedemptionItem.key, func.count(Redemption.id))
                .join(Redemption, Redemption.item_id == RedemptionItem.id)
                .group_by(RedemptionItem.key)
            ).all()
        )
    for item in items:
        item["coupon_name"] = names.get(item["coupon_template"] or "", item["coupon_template"])
        item["redeemed"] = int(redeemed.get(item["key"], 0))
    return render(
        request,
        "loyalty_catalogue.html",
        status=status,
        tabs=TABS,
        items=items,
        templates=templates,
        form=context.pop("form", {}),
        **context,
    )


@router.get("/loyalty/catalogue")
def catalogue_page(request: Request, added: str = "") -> HTMLResponse:
    return _catalogue_page(request, flash=_t(request)("eng_item_added", name=added) if added else None)


@router.post("/loyalty/catalogue")
async def catalogue_add(request: Request) -> Response:
    form = {k: str(v).strip() for k, v in (await request.form()).items()}
    t = _t(request)
    try:
        kind = form.get("kind") or "coupon"
        get_client(request).engage.add_item(
            form.get("key", ""),
            actor=principal_of(request).actor,
            name=form.get("name", ""),
            kind=kind,
            points=_int(form.get("points"), str(t("eng_points_cost")), request),
            coupon_template=(form.get("coupon_template") or None) if kind == "coupon" else None,
            stock=_int(form.get("stock"), str(t("eng_stock_col")), request, optional=True),
            per_member_limit=_int(
                form.get("per_member_limit"), str(t("eng_per_member_col")), request, optional=True
            ),
        )
    except LoyaltyError as exc:
        return _catalogue_page(request, 422, error=_why(request, exc), form=form)
    return RedirectResponse(
        f"/console/loyalty/catalogue?added={quote(form.get('name', ''))}", status_code=303
    )


@router.post("/loyalty/catalogue/{key}/active")
async def catalogue_toggle(request: Request, key: str) -> Response:
    on = (await request.form()).get("active") == "1"
    try:
        get_client(request).engage.update_item(key, actor=principal_of(request).actor, active=on)
    except LoyaltyError as exc:
        return _catalogue_page(
            request, 404 if exc.code.endswith("not_found") else 422, error=_why(request, exc)
        )
    return RedirectResponse("/console/loyalty/catalogue", status_code=303)
