"""Console pages for membership and points (会员): the member list, the points rules and member
settings (积分规则 / 会员设置), tiers, and enrolment from a contact's profile (whose member card
and ledger come from :func:`profile_card`).

Everyone who reads contacts sees these pages; the programme and tiers are the brand's settings,
changed by who manages channels (admins); enrolment needs contacts.write. A refused form is
drawn again (HTTP 422) with the field named in the reader's language and what was typed kept."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import PageError, principal_of, render, user_language
from siyu.loyalty import views
from siyu.loyalty.programme import EARNING_SOURCES, LoyaltyError
from siyu.store.models import utcnow

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/loyalty"): P.CONTACTS_READ,
    ("GET", "/console/loyalty/programme"): P.CONTACTS_READ,
    ("POST", "/console/loyalty/programme"): P.CHANNELS_MANAGE,
    ("GET", "/console/loyalty/tiers"): P.CONTACTS_READ,
    ("POST", "/console/loyalty/tiers"): P.CHANNELS_MANAGE,
    ("POST", "/console/loyalty/tiers/{key}"): P.CHANNELS_MANAGE,
    ("POST", "/console/loyalty/members/{contact_id}/enrol"): P.CONTACTS_WRITE,
}
TABS = (
    ("loyalty_tab_members", "/console/loyalty"),
    ("loyalty_tab_programme", "/console/loyalty/programme"),
    ("loyalty_tab_tiers", "/console/loyalty/tiers"),
)
PAGE_SIZE = 50
#: The validity choices offered (the stored value is added when it is another one).
VALIDITIES = ("30D", "90D", "180D", "6M", "12M", "1Y", "2Y", "end_of_next_year", "never")
PROGRAMME_NUMBERS = (
    "earn_per_yuan",
    "point_value",
    "signup_points",
    "birthday_points",
    "pending_days",
    "expiry_notice_days",
    "tier_window_days",
    "tier_period_days",
)
TIER_FIELDS = (
    "name",
    "name_en",
    "rank",
    "threshold",
    "multiplier",
    "upgrade_coupon",
    "birthday_coupon",
    "birthday_points",
)


def validity_label(value: str, lang: str) -> str:
    """``12M`` → 12 个月, ``end_of_next_year`` → 次年年底: no code on a page."""
    if value in ("end_of_next_year", "never"):
        return tr(f"loyalty_validity_{value}", lang)
    return tr(f"loyalty_validity_{value[-1]}", lang, n=value[:-1])


def source_label(source: str, lang: str) -> str:
    key = f"loyalty_source_{source}"
    return tr(key if key in TEXT else "loyalty_source_other", lang)


def field_label(field: str | None, lang: str) -> str:
    """A field's label on the form (``validity_by_source.order`` → 按来源设置有效期（订单）)."""
    name, _, source = (field or "").partition(".")
    if name == "validity_by_source":
        label = tr("loyalty_validity_by_source", lang)
        return f"{label}（{source_label(source, lang)}）" if source else label
    for prefix in ("loyalty_f_", "loyalty_t_"):
        if prefix + name in TEXT:
            return tr(prefix + name, lang)
    return name


def error_text(exc: LoyaltyError, lang: str) -> str:
    """A refused setting in the reader's language, naming the field by its label."""
    field = field_label(exc.field, lang)
    code = exc.code if f"loyalty_err_{exc.code}" in TEXT else "other"
    zh_detail = tr(
        "loyalty_err_threshold_order" if exc.field in ("rank", "threshold") else "loyalty_err_range", lang
    )
    return tr(
        f"loyalty_err_{code}", lang, field=field, detail=str(exc).split(": ", 1)[-1], detail_zh=zh_detail
    )


def _tabs(request: Request, **context: Any) -> dict[str, Any]:
    return {"tabs": TABS, **context}


# --- members -----------------------------------------------------------------------------------
@router.get("/loyalty")
def members_page(request: Request, tier: str = "", page: int = 1) -> HTMLResponse:
    client = get_client(request)
    page = max(1, page)
    with unit_of_work(request) as s:
        data = views.members(s, utcnow(), tier=tier or None, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "loyalty.html",
        **_tabs(request),
        data=data,
        tiers=client.loyalty.tiers(),
        tier=tier,
        page=page,
        pages=max(1, -(-data["total"] // PAGE_SIZE)),
    )


@router.post("/loyalty/members/{contact_id}/enrol")
def enrol(request: Request, contact_id: int) -> Response:
    try:
        get_client(request).loyalty.enrol(contact_id, source="console", actor=principal_of(request).actor)
    except LoyaltyError as exc:
        raise PageError(422, "invalid_input", {"what": error_text(exc, user_language(request))}) from None
    return RedirectResponse(f"/console/contacts/{contact_id}?enrolled=1#contact-loyalty", status_code=303)


# --- programme ---------------------------------------------------------------------------------
def _programme_page(
    request: Request, status: int = 200, typed: dict[str, Any] | None = None, **extra: Any
) -> HTMLResponse:
    prog = get_client(request).loyalty.programme()
    shown = {**prog, **(typed or {})}
    choices = list(VALIDITIES)
    for v in [prog["default_validity"], *prog["validity_by_source"].values()]:
        if v not in choices:
            choices.append(v)
    return render(
        request,
        "loyalty_programme.html",
        status=status,
        **_tabs(request),
        p=shown,
        validities=choices,
        sources=EARNING_SOURCES,
        validity_label=lambda v: validity_label(v, user_language(request)),
        source_label=lambda v: source_label(v, user_language(request)),
        **extra,
    )


@router.get("/loyalty/programme")
def programme_page(request: Request, saved: int = 0) -> HTMLResponse:
    return _programme_page(request, flash=tr("loyalty_saved", user_language(request)) if saved else None)


@router.post("/loyalty/programme")
async def programme_save(request: Request) -> Response:
    form = await request.form()
    changes: dict[str, Any] = {k: str(form.get(k) or "").strip() for k in PROGRAMME_NUMBERS}
    for k in ("name", "default_validity", "tier_basis", "downgrade_policy", "member_no_prefix"):
        changes[k] = str(form.get(k) or "").strip()
    changes["allow_negative"] = form.get("allow_negative") == "on"
    changes["validity_by_source"] = {
        src: str(form.get(f"validity_{src}") or "") for src in EARNING_SOURCES if form.get(f"validity_{src}")
    }
    try:
        get_client(request).loyalty.set_programme(changes, actor=principal_of(request).actor)
    except LoyaltyError as exc:
        lang = user_language(request)
        return _programme_page(request, 422, changes, error=error_text(exc, lang), bad=exc.field)
    return RedirectResponse("/console/loyalty/programme?saved=1", status_code=303)


# --- tiers -------------------------------------------------------------------------------------
def _tier_counts(s: Session) -> dict[str, int]:
    from sqlalchemy import func, select

    from siyu.store.models import LoyaltyMember, LoyaltyTier

    rows = s.execute(
        select(LoyaltyTier.key, func.count(LoyaltyMember.contact_id))
        .join(LoyaltyMember, LoyaltyMember.tier_id == LoyaltyTier.id)
        .group_by(LoyaltyTier.key)
    )
    return {k: int(n) for k, n in rows}


def _tiers_page(request: Request, status: int = 200, **extra: Any) -> HTMLResponse:
    client = get_client(request)
    with unit_of_work(request) as s:
        counts = _tier_counts(s)
    return render(
        request,
        "loyalty_tiers.html",
        status=status,
        **_tabs(request),
        tiers=client.loyalty.tiers(),
        counts=counts,
        basis=client.loyalty.programme()["tier_basis"],
        **extra,
    )


@router.get("/loyalty/tiers")
def tiers_page(request: Request, saved: str = "") -> HTMLResponse:
    lang = user_language(request)
    flash = {"added": tr("loyalty_tier_added", lang), "saved": tr("loyalty_tier_saved", lang)}.get(saved)
    return _tiers_page(request, flash=flash)


async def _tier_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(form.get(k) or "").strip() for k in ("key", *TIER_FIELDS)}


@router.post("/loyalty/tiers")
async def tier_add(request: Request) -> Response:
    typed = await _tier_form(request)
    values = {k: v for k, v in typed.items() if k != "key" and v != ""}
    try:
        get_client(request).loyalty.add_tier(typed["key"], actor=principal_of(request).actor, **values)
    except LoyaltyError as exc:
        return _tiers_page(
            request, 422, error=error_text(exc, user_language(request)), typed=typed, bad=exc.field
        )
    return RedirectResponse("/console/loyalty/tiers?saved=added", status_code=303)


@router.post("/loyalty/tiers/{key}")
async def tier_update(request: Request, key: str) -> Response:
    typed = await _tier_form(request)
    values: dict[str, Any] = {
        k: v
        for k, v in typed.items()
        if k != "key" and (v != "" or k in ("name_en", "upgrade_coupon", "birthday_coupon"))
    }
    try:
        get_client(request).loyalty.update_tier(key, actor=principal_of(request).actor, **values)
    except LoyaltyError as exc:
        return _tiers_page(
            request, 422, error=error_text(exc, user_language(request)), editing=key, bad=exc.field
        )
    return RedirectResponse("/console/loyalty/tiers?saved=saved", status_code=303)


# --- the profile's card --------------------------------------------------------------------------
def profile_card(session: Session, contact_id: int, lang: str) -> dict[str, Any]:
    """The member card and the newest ledger rows for the profile page, with words for the
    reader (sources, kinds, statuses) instead of stored codes."""
    now = utcnow()
    card = views.card(session, contact_id, now)
    rows = views.ledger_rows(session, contact_id, limit=30)
    for r in rows:
        r["source_text"] = source_label(r["source"], lang)
        r["kind_text"] = tr(f"loyalty_kind_{r['kind']}", lang)
        r["status_text"] = (
            tr(f"loyalty_status_{r['status']}", lang) if f"loyalty_status_{r['status']}" in TEXT else ""
        )
    member = card["member"]
    if member and member["tier"]:
        t = member["tier"]
        t["label"] = t["name"] if lang == "zh" else (t["name_en"] or t["name"])
    progress = card["progress"]
    if progress and progress["next_tier"]:
        nt = progress["next_tier"]
        name = nt["name"] if lang == "zh" else (nt["name_en"] or nt["name"])
        if progress["basis"] == "spend":
            from siyu.console.format import money

            progress["text"] = tr(
                "loyalty_progress_spend", lang, n=money(progress["needed"], lang), tier=name
            )
        else:
            progress["text"] = tr(
                "loyalty_progress_points", lang, n=progress["needed"].split(".")[0], tier=name
            )
    elif progress:
        progress["text"] = tr("loyalty_progress_top", lang)
    return {**card, "ledger": rows}
