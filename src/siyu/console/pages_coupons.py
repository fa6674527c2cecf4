"""Console pages for coupons (优惠券): the campaigns with their value and rules in operator words,
a campaign's page (edit, pause/resume/end, codes generated or uploaded, results: the funnel and
incremental GMV against the holdout, refused redemptions by reason) and the abuse signals.

Forms post back here; a refused form is drawn again with the reason next to the field's name
(422/409), a successful one redirects (303) so a reload does not submit twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from starlette.datastructures import UploadFile

from siyu.api.deps import get_client, unit_of_work
from siyu.auth.roles import Permission as P
from siyu.console.format import money
from siyu.console.permissions import RouteTable
from siyu.console.texts import TEXT, tr
from siyu.console.web import PageError, brand_zone, language, render
from siyu.coupons.errors import CouponConflict, CouponError, CouponNotFound
from siyu.sources.service import SourcesService
from siyu.store.models.coupons import Coupon, CouponRedemption, CouponTemplate

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/coupons"): P.JOURNEYS_READ,
    ("POST", "/console/coupons"): P.JOURNEYS_WRITE,
    ("GET", "/console/coupons/abuse"): P.ANALYTICS_READ,
    ("GET", "/console/coupons/{key}"): P.JOURNEYS_READ,
    ("POST", "/console/coupons/{key}"): P.JOURNEYS_WRITE,
    ("POST", "/console/coupons/{key}/status"): P.JOURNEYS_WRITE,
    ("POST", "/console/coupons/{key}/codes"): P.JOURNEYS_WRITE,
    ("POST", "/console/coupons/{key}/codes/import"): P.JOURNEYS_WRITE,
    ("GET", "/console/coupons/{key}/codes.csv"): P.JOURNEYS_WRITE,
}
TABS = (("coupons_tab_campaigns", "/console/coupons"), ("coupons_tab_abuse", "/console/coupons/abuse"))
FIELDS = (
    "name", "kind", "amount", "min_order", "max_discount", "valid_days", "valid_from", "valid_until",
    "per_customer", "budget", "issue_limit", "holdout_percent", "refund_rule", "code_prefix",
)  # fmt: skip
MAX_UPLOAD = 20 << 20


def _lang(request: Request) -> str:
    return language(request, getattr(request.state, "principal", None))


def describe(t: dict[str, Any], lang: str, channel_names: dict[str, str]) -> dict[str, str]:
    """A template's value, validity and rules in the operator's words."""
    m = lambda v: money(Decimal(v), lang)  # noqa: E731
    kind = t["kind"]
    params = {"amount": m(t["amount"]), "min": m(t["min_order"])}
    if kind == "percent":
        pct = Decimal(t["amount"])
        params |= {"rate": f"{(100 - pct) / 10:.2f}".rstrip("0").rstrip("."), "pct": f"{pct.normalize():f}"}
    value = tr(f"coupons_value_{kind}", lang, **params)
    if t["max_discount"] is not None and kind in ("percent", "free_shipping"):
        value += tr("coupons_value_cap", lang, cap=m(t["max_discount"]))
    if kind != "threshold" and Decimal(t["min_order"]) > 0:
        value += tr("coupons_value_min", lang, min=m(t["min_order"]))
    rules = []
    if t["channels"]:
        rules.append("、".join(channel_names.get(c, c) for c in t["channels"]))
    if t["products"]:
        rules.append(tr("coupons_rule_products", lang, products=", ".join(t["products"][:10])))
    if t["per_customer"]:
        rules.append(tr("coupons_rule_per_customer", lang, n=t["per_customer"]))
    if t["budget"] is not None:
        rules.append(tr("coupons_rule_budget", lang, budget=m(t["budget"]), spent=m(t["spent"])))
    if t["issue_limit"] is not None:
        rules.append(tr("coupons_rule_issue_limit", lang, limit=t["issue_limit"], issued=t["issued"]))
    if t["holdout_percent"]:
        rules.append(tr("coupons_rule_holdout", lang, n=t["holdout_percent"]))
    rules.append(tr(f"coupons_refund_{t['refund_rule']}", lang))
    return {"value": value, "rules": "；".join(rules) if lang == "zh" else "; ".join(rules)}


def _channels(request: Request) -> list[dict[str, str]]:
    with unit_of_work(request) as s:
        return [{"key": c.key, "name": c.name} for c in SourcesService(s).channels()]


def _why(request: Request, exc: CouponError) -> str:
    """The refusal in the reader's language, naming the field in words."""
    lang = _lang(request)
    if lang != "zh":
        return exc.message
    problem = exc.zh or (
        tr(f"coupons_err_{exc.code}", lang) if f"coupons_err_{exc.code}" in TEXT else exc.message
    )
    label = {"holdout_percent": "holdout", "code_prefix": "prefix"}.get(exc.field or "", exc.field or "")
    if f"coupons_{label}" in TEXT and exc.code == "invalid_template":
        return tr("coupons_field_error", lang, field=tr(f"coupons_{label}", lang), problem=problem)
    return problem


def _day(value: str, zone: str, *, end: bool = False) -> datetime | str | None:
    """A date field (brand time); the end date includes that whole day. Unreadable text is passed
    on as it is, for the template check to refuse with the field's name."""
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))
    except ValueError:
        return value
    return day + timedelta(days=1) if end and len(value) == 10 else day


def _form(raw: Any, zone: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the template service gets, what the form shows again)."""
    shown = {k: str(raw.get(k) or "").strip() for k in (*FIELDS, "key", "validity", "products")}
    shown["channels"] = [str(c) for c in raw.getlist("channels") if str(c).strip()]
    data: dict[str, Any] = {k: (shown[k] or None) for k in FIELDS}
    data["channels"] = shown["channels"]
    data["products"] = [p.strip() for p in shown["products"].replace(",", "\n").splitlines() if p.strip()]
    if shown["validity"] == "dates":
        data["valid_days"] = None
        data["valid_from"] = _day(shown["valid_from"], zone)
        data["valid_until"] = _day(shown["valid_until"], zone, end=True)
    else:
        data["valid_from"] = data["valid_until"] = None
    for name in ("amount", "min_order"):
        data[name] = data[name] or "0"
    data["holdout_percent"] = data["holdout_percent"] or 0
    data["code_prefix"] = data["code_prefix"] or ""
    data["refund_rule"] = data["refund_rule"] or "restore"
    return data, shown


def _rows(request: Request) -> list[dict[str, Any]]:
    lang = _lang(request)
    client = get_client(request)
    names = {c["key"]: c["name"] for c in _channels(request)}
    with unit_of_work(request) as s:
        redeemed = dict(
            s.execute(
                select(Coupon.template_id, func.count())
                .where(Coupon.status == "redeemed")
                .group_by(Coupon.template_id)
            ).all()
        )
        ids = dict(s.execute(select(CouponTemplate.key, CouponTemplate.id)).all())
    return [
        {**t, **describe(t, lang, names), "redeemed": redeemed.get(ids[t["key"]], 0)}
        for t in client.coupons.templates()
    ]


def _list_page(
    request: Request, status: int = 200, error: str | None = None, form: Any = None
) -> HTMLResponse:
    return render(
        request,
        "coupons.html",
        status=status,
        tabs=TABS,
        rows=_rows(request),
        channels=_channels(request),
        error=error,
        form=form or {"kind": "fixed", "validity": "days", "valid_days": "30", "refund_rule": "restore"},
    )


@router.get("/coupons")
def list_page(request: Request) -> HTMLResponse:
    return _list_page(request)


@router.post("/coupons")
async def create(request: Request) -> Response:
    data, shown = _form(await request.form(), brand_zone(request))
    try:
        get_client(request).coupons.create_template(key=shown["key"], **data)
    except CouponError as exc:
        return _list_page(request, 409 if isinstance(exc, CouponConflict) else 422, _why(request, exc), shown)
    return RedirectResponse(f"/console/coupons/{quote(shown['key'])}?done=created", status_code=303)


def _edit_form(t: dict[str, Any], zone: str) -> dict[str, Any]:
    """The stored template as the form shows it (dates in brand time; the end date inclusive)."""

    def day(value: str | None, back: bool = False) -> str:
        if not value:
            return ""
        local = datetime.fromisoformat(value).astimezone(ZoneInfo(zone))
        return (
            (local - timedelta(days=1) if back and local.time() == datetime.min.time() else local)
            .date()
            .isoformat()
        )

    form = {k: ("" if t.get(k) is None else str(t[k])) for k in FIELDS}
    form |= {"key": t["key"], "channels": t["channels"], "products": "\n".join(t["products"])}
    form |= {"validity": "days" if t["valid_days"] else "dates"}
    form |= {"valid_from": day(t["valid_from"]), "valid_until": day(t["valid_until"], back=True)}
    return form


def _detail(
    request: Request,
    key: str,
    status: int = 200,
    flash: str | None = None,
    error: str | None = None,
    form: Any = None,
    imported: dict[str, Any] | None = None,
) -> HTMLResponse:
    lang = _lang(request)
    client = get_client(request)
    try:
        t = client.coupons.template(key)
    except CouponNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    names = {c["key"]: c["name"] for c in _channels(request)}
    with unit_of_work(request) as s:
        tid = s.scalar(select(CouponTemplate.id).where(CouponTemplate.key == key))
        waiting = s.scalar(
            select(func.count()).where(Coupon.template_id == tid, Coupon.status == "unassigned")
        )
        refused = s.execute(
            select(CouponRedemption.reason, func.count())
            .where(CouponRedemption.template_id == tid, CouponRedemption.status == "failed")
            .group_by(CouponRedemption.reason)
            .order_by(func.count().desc())
        ).all()
    return render(
        request,
        "coupons_detail.html",
        status=status,
        tabs=TABS,
        tpl={**t, **describe(t, lang, names)},
        f=client.coupons.funnel(key),
        waiting=waiting,
        refused=[(r or "", n) for r, n in refused],
        channels=_channels(request),
        form=form or _edit_form(t, brand_zone(request)),
        flash=flash,
        error=error,
        imported=imported,
    )


DONE = {"created": "coupons_created", "saved": "coupons_saved"}


@router.get("/coupons/abuse")
def abuse_page(request: Request, days: int = 30) -> HTMLResponse:
    days = min(max(days, 1), 365)
    flags = get_client(request).coupons.abuse(days=days)
    return render(request, "coupons_abuse.html", tabs=TABS, flags=flags, days=days)


@router.get("/coupons/{key}")
def detail_page(request: Request, key: str, done: str = "", n: int = 0) -> HTMLResponse:
    lang = _lang(request)
    flash = (
        tr(DONE[done], lang)
        if done in DONE
        else tr("coupons_generated", lang, n=n)
        if done == "generated"
        else None
    )
    return _detail(request, key, flash=flash)


@router.post("/coupons/{key}")
async def update(request: Request, key: str) -> Response:
    data, shown = _form(await request.form(), brand_zone(request))
    shown["key"] = key
    try:
        get_client(request).coupons.update_template(key, **data)
    except CouponNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    except CouponError as exc:
        return _detail(request, key, 422, error=_why(request, exc), form=shown)
    return RedirectResponse(f"/console/coupons/{quote(key)}?done=saved", status_code=303)


@router.post("/coupons/{key}/status")
async def set_status(request: Request, key: str) -> Response:
    status = str((await request.form()).get("status") or "")
    if status not in ("active", "paused", "ended"):
        raise PageError(422, "invalid_input", {"what": status})
    try:
        get_client(request).coupons.set_status(key, status)
    except CouponNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    return RedirectResponse(f"/console/coupons/{quote(key)}?done=saved", status_code=303)


@router.post("/coupons/{key}/codes")
async def generate(request: Request, key: str) -> Response:
    raw = str((await request.form()).get("count") or "")
    try:
        made = get_client(request).coupons.generate(key, int(raw) if raw.isdigit() else 0)
    except CouponNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    except CouponError as exc:
        return _detail(request, key, 422, error=_why(request, exc))
    return RedirectResponse(f"/console/coupons/{quote(key)}?done=generated&n={len(made)}", status_code=303)


@router.post("/coupons/{key}/codes/import")
async def upload(request: Request, key: str) -> Response:
    lang = _lang(request)
    async with request.form(max_files=1, max_fields=5) as form:
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return _detail(request, key, 422, error=tr("coupons_import_no_file", lang))
        body = await file.read(MAX_UPLOAD + 1)
    if len(body) > MAX_UPLOAD:
        raise PageError(413, "invalid_input", {"what": file.filename})
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("gb18030", errors="replace")  # Excel on Chinese Windows saves GBK
    try:
        report = get_client(request).coupons.import_codes(key, text)
    except CouponNotFound as exc:
        raise PageError(404, "not_found", {"what": key}) from exc
    status = 200 if report["added"] or not report["errors"] else 422
    return _detail(
        request, key, status, flash=tr("coupons_imported", lang, n=report["added"]), imported=report
    )


@router.get("/coupons/{key}/codes.csv")
def codes_csv(request: Request, key: str) -> Response:
    with unit_of_work(request) as s:
        tid = s.scalar(select(CouponTemplate.id).where(CouponTemplate.key == key))
        if tid is None:
            raise PageError(404, "not_found", {"what": key})
        codes = s.scalars(
            select(Coupon.code)
            .where(Coupon.template_id == tid, Coupon.status == "unassigned")
            .order_by(Coupon.id)
        ).all()
    body = "\ufeffcode\n" + "".join(f"{c}\n" for c in codes)
    headers = {"Content-Disposition": f'attachment; filename="coupons-{quote(key)}.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def contact_coupons(session: Any, contact_id: int) -> list[dict[str, Any]]:
    """The coupons a contact holds or held, for the profile (campaign by name, newest first)."""
    q = (
        select(Coupon, CouponTemplate.name)
        .join(CouponTemplate, CouponTemplate.id == Coupon.template_id)
        .where(Coupon.contact_id == contact_id)
        .order_by(Coupon.issued_at.desc(), Coupon.id.desc())
        .limit(50)
    )
    return [
        {
            "code": c.code,
            "campaign": name,
            "status": c.status,
            "expires_at": c.expires_at,
            "discount": c.discount,
        }
        for c, name in session.execute(q).all()
    ]
