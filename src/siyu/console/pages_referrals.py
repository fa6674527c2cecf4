"""Console pages for referral (裂变) campaigns: the list, the campaign builder (a form with the
reward milestones as rows — operators never write JSON), and a campaign's page: its settings in
words, status actions, the poster preview, participants with their codes, referrals with status
and reasons in the operator's language, and the rewards paid, withheld or reversed.

Forms post back here; a refused form is drawn again with every bad field named in words (422),
a successful one redirects (303) so a reload does not submit twice."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import PageError, brand_zone, language, render
from siyu.referrals.fraud import label as fraud_label
from siyu.referrals.schemas import ReferralError, ReferralNotFound

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/referrals"): P.JOURNEYS_READ,
    ("GET", "/console/referrals/new"): P.JOURNEYS_WRITE,
    ("POST", "/console/referrals/new"): P.JOURNEYS_WRITE,
    ("GET", "/console/referrals/{key}"): P.JOURNEYS_READ,
    ("POST", "/console/referrals/{key}/status"): P.JOURNEYS_WRITE,
    ("GET", "/console/referrals/{key}/edit"): P.JOURNEYS_WRITE,
    ("POST", "/console/referrals/{key}/edit"): P.JOURNEYS_WRITE,
}
#: A field of a refused definition → the words the form shows for it.
LABELS = {
    "key": "referrals_f_key",
    "name": "referrals_name",
    "kind": "referrals_kind",
    "target": "referrals_f_target",
    "target.staff": "referrals_staff",
    "target.chat_ids": "referrals_chats",
    "target.event": "referrals_event",
    "starts_at": "referrals_starts",
    "ends_at": "referrals_ends",
    "window_days": "referrals_window_days",
    "hold_days": "referrals_hold_days",
    "void_on_delete_hours": "referrals_void_hours",
    "budget": "referrals_budget",
    "caps.per_inviter_month": "referrals_cap_month",
    "caps.per_inviter_total": "referrals_cap_total",
    "fraud_mode": "referrals_fraud_mode",
    "fraud_threshold": "referrals_fraud_threshold",
    "rewards": "referrals_rewards",
}
ROW = re.compile(r"^rewards\[(\d+)\](?:\.(\w+))?$")
BLANK_ROW = {"invites": "", "side": "inviter", "kind": "coupon", "what": "", "value": ""}


def _lang(request: Request) -> str:
    return language(request, getattr(request.state, "principal", None))


def _actor(request: Request) -> str:
    principal = getattr(request.state, "principal", None)
    return f"console:{getattr(principal, 'name', '') or 'user'}"


def _split(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,，\s]+", text or "") if p.strip()]


def _day(value: str, zone: str, end: bool = False) -> str | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        return value  # refused by the definition check, naming the field
    return (day + timedelta(days=1) if end and len(value) == 10 else day).isoformat()


def _form(raw: Any, zone: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the definition, what the form shows again)."""
    names = ("key", "name", "kind", "staff", "chats", "event", "starts", "ends", "window_days", "hold_days",
             "void_hours", "budget", "cap_month", "cap_total", "fraud_mode", "fraud_threshold")  # fmt: skip
    shown: dict[str, Any] = {n: str(raw.get(n) or "").strip() for n in names}
    columns = {c: [str(v).strip() for v in raw.getlist(f"reward_{c}")] for c in BLANK_ROW}
    rows = [dict(zip(BLANK_ROW, vals, strict=True)) for vals in zip(*columns.values(), strict=False)]
    shown["rows"] = rows
    kind = shown["kind"]
    target: dict[str, Any] = {
        "task": {"staff": _split(shown["staff"])},
        "group": {"chat_ids": _split(shown["chats"])},
    }.get(kind, {"event": shown["event"] or "Order Completed"})
    rewards = []
    for r in rows:
        if not (r["invites"] or r["what"]):
            continue  # a blank row of the form
        reward: dict[str, Any] = {
            "invites": r["invites"] or "1",
            "side": r["side"],
            "value": r["value"] or None,
        }
        reward[r["kind"] if r["kind"] in ("coupon", "points", "gift") else "gift"] = r["what"]
        rewards.append(reward)
    data: dict[str, Any] = {
        "key": shown["key"],
        "name": shown["name"],
        "kind": kind,
        "target": target,
        "rewards": rewards,
        "starts_at": _day(shown["starts"], zone),
        "ends_at": _day(shown["ends"], zone, end=True),
        "hold_days": shown["hold_days"] or 7,
        "void_on_delete_hours": shown["void_hours"] or 24,
        "budget": shown["budget"] or None,
        "caps": {
            "per_inviter_month": shown["cap_month"] or None,
            "per_inviter_total": shown["cap_total"] or None,
        },
        "fraud_mode": shown["fraud_mode"] or "loose",
        "fraud_threshold": shown["fraud_threshold"] or 60,
    }
    if shown["window_days"]:
        data["window_days"] = shown["window_days"]
    return data, shown


def _problems(exc: ReferralError, lang: str) -> list[str]:
    """Every refused field in words; in Chinese without the English reason (the field's name
    says where, the form shows what it takes)."""
    out = []
    for field, reason in exc.errors:
        row = ROW.match(field)
        if row:
            label = f"{tr('referrals_rewards', lang)} #{int(row.group(1)) + 1}"
        else:
            label = tr(LABELS[field], lang) if field in LABELS else field
        problem = reason if lang != "zh" else "请检查此项"
        out.append(tr("referrals_field_error", lang, field=label, problem=problem))
    return out


def _blank_form() -> dict[str, Any]:
    rows = [{**BLANK_ROW, "invites": "3"}, {**BLANK_ROW, "invites": "10", "kind": "gift"}, dict(BLANK_ROW)]
    fields = {
        "kind": "task",
        "hold_days": "7",
        "void_hours": "24",
        "fraud_mode": "loose",
        "fraud_threshold": "60",
    }
    return fields | {"rows": rows}


def _local_day(value: str | None, zone: str, end: bool = False) -> str:
    """A stored instant as the form's date in the brand's zone (an end date is stored as the
    next day's midnight: the form shows the last day it includes)."""
    if not value:
        return ""
    at = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
    if end and (at.hour, at.minute, at.second) == (0, 0, 0):
        at -= timedelta(days=1)
    return at.date().isoformat()


def _shown_from(c: dict[str, Any], zone: str) -> dict[str, Any]:
    """What the builder shows for a stored campaign (the edit page starts from it)."""
    rows = []
    for r in c.get("rewards") or []:
        kind = next((k for k in ("coupon", "points", "gift") if k in r), "gift")
        value = r.get("value")
        rows.append(
            {"invites": str(r.get("invites") or ""), "side": str(r.get("side") or "inviter"), "kind": kind,
             "what": str(r.get(kind) or ""), "value": "" if value in (None, "") else str(value)}
        )  # fmt: skip
    rows.append(dict(BLANK_ROW))
    target, settings, caps = c.get("target") or {}, c.get("settings") or {}, c.get("caps") or {}

    def text(value: Any) -> str:
        return "" if value in (None, "") else str(value)

    return {
        "key": c["key"], "name": c["name"], "kind": c["kind"],
        "staff": ", ".join(target.get("staff") or []), "chats": ", ".join(target.get("chat_ids") or []),
        "event": text(target.get("event")), "starts": _local_day(c.get("starts_at"), zone),
        "ends": _local_day(c.get("ends_at"), zone, end=True),
        "window_days": text(settings.get("window_days")),
        "hold_days": text(c.get("hold_days")), "void_hours": text(settings.get("void_on_delete_hours")),
        "budget": text(c.get("budget")), "cap_month": text(caps.get("per_inviter_month")),
        "cap_total": text(caps.get("per_inviter_total")), "fraud_mode": text(c.get("fraud_mode")),
        "fraud_threshold": text(c.get("fraud_threshold")), "rows": rows,
    }  # fmt: skip


def _builder(
    request: Request,
    status: int = 200,
    form: Any = None,
    errors: list[str] | None = None,
    editing: str | None = None,
) -> HTMLResponse:
    coupons = [
        {"key": c["key"], "name": c["name"]} for c in get_client(request).coupons.templates(status="active")
    ]
    return render(
        request,
        "referrals_new.html",
        status=status,
        form=form or _blank_form(),
        errors=errors or [],
        coupons=coupons,
        editing=editing,
    )


@router.get("/referrals")
def list_page(request: Request) -> HTMLResponse:
    client = get_client(request)
    rows = [client.referrals.campaign(c["key"]) for c in client.referrals.campaigns()]
    return render(request, "referrals.html", rows=rows)


@router.get("/referrals/new")
def new_page(request: Request) -> HTMLResponse:
    return _builder(request)


@router.post("/referrals/new")
async def create(request: Request) -> Response:
    data, shown = _form(await request.form(), brand_zone(request))
    if len(shown["rows"]) < 1 or any(r["invites"] or r["what"] for r in shown["rows"][-1:]):
        shown["rows"] = [*shown["rows"], dict(BLANK_ROW)]  # always one empty row to fill
    try:
        get_client(request).referrals.create(data, actor=_actor(request))
    except ReferralError as exc:
        return _builder(request, 422, shown, _problems(exc, _lang(request)))
    return RedirectResponse(f"/console/referrals/{quote(data['key'])}?done=created", status_code=303)


@router.get("/referrals/{key}/edit")
def edit_page(request: Request, key: str) -> HTMLResponse:
    try:
        c = get_client(request).referrals.campaign(key)
    except ReferralNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    return _builder(request, form=_shown_from(c, brand_zone(request)), editing=key)


@router.post("/referrals/{key}/edit")
async def save(request: Request, key: str) -> Response:
    data, shown = _form(await request.form(), brand_zone(request))
    data["key"] = shown["key"] = key  # the key names the campaign; it does not change
    if not shown["rows"] or any(r["invites"] or r["what"] for r in shown["rows"][-1:]):
        shown["rows"] = [*shown["rows"], dict(BLANK_ROW)]
    try:
        get_client(request).referrals.update(key, data, actor=_actor(request))
    except ReferralNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    except ReferralError as exc:
        return _builder(request, 422, shown, _problems(exc, _lang(request)), editing=key)
    return RedirectResponse(f"/console/referrals/{quote(key)}?done=saved", status_code=303)


@router.get("/referrals/{key}")
def detail(request: Request, key: str, done: str | None = None) -> HTMLResponse:
    client = get_client(request)
    try:
        c = client.referrals.campaign(key)
    except ReferralNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    notices = {"created": "referrals_created", "moved": "referrals_moved", "saved": "referrals_saved"}
    notice = notices.get(done or "")
    lang = _lang(request)
    referrals = client.referrals.list(key, limit=500)
    for r in referrals:  # a reason in the operator's words, not the scorer's English detail
        r["reason_labels"] = [fraud_label(str(x.get("code")), lang) for x in r.get("reasons") or []]
    return render(
        request,
        "referrals_detail.html",
        c=c,
        participants=client.referrals.participants(key, limit=200),
        referrals=referrals,
        rewards=client.referrals.rewards(key, limit=500),
        flash=tr(notice, _lang(request)) if notice else None,
        texts=TEXT,
    )


@router.post("/referrals/{key}/status")
async def move(request: Request, key: str) -> Response:
    action = str((await request.form()).get("action") or "")
    try:
        get_client(request).referrals.move(key, action, actor=_actor(request))
    except ReferralNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    except ReferralError as exc:
        raise PageError(422, "invalid_input", {"detail": str(exc)}) from exc
    return RedirectResponse(f"/console/referrals/{quote(key)}?done=moved", status_code=303)
