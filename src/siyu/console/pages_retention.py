"""Console page: retention policies (数据保留) — view and edit how long data is kept, see the
last run, preview or run it now.

The form posts back here; a refused form is drawn again (HTTP 422) with the row and field
named in the user's language and what was typed kept; a saved one redirects (303).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.api.deps import get_client
from siyu.auth.roles import Permission as P
from siyu.console.permissions import RouteTable
from siyu.console.web import principal_of, render, text, user_language
from siyu.retention.schemas import MAX_DAYS, MAX_RULES, MAX_YEARS
from siyu.retention.service import RetentionError

router = APIRouter(prefix="/console")
ROUTES: RouteTable = {
    ("GET", "/console/settings/retention"): P.RETENTION_MANAGE,
    ("POST", "/console/settings/retention"): P.RETENTION_MANAGE,
    ("POST", "/console/settings/retention/run"): P.RETENTION_MANAGE,
}
#: Empty rows the form offers for new event rules.
BLANK_RULES = 3
#: (form field, policy, unit) of the single-number policies.
NUMBERS = (
    ("inactive_contacts_years", "inactive_contacts_years", "years"),
    ("outbox_body_days", "outbox_body_days", "days"),
    ("audit_years", "audit_years", "years"),
)

#: The run's count of each single-number policy, by policy.
COUNT_LABELS = {
    "inactive_contacts_years": "retention_count_inactive_contacts",
    "outbox_body_days": "retention_count_outbox_bodies",
    "audit_years": "retention_count_audit_entries",
}


class FormError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _t(request: Request) -> Any:
    return partial(text, request)


def local_time(request: Request, iso: str | None) -> str:
    """An ISO time in the brand's time zone, to the minute."""
    if not iso:
        return ""
    zone = ZoneInfo(get_client(request).ctx.timezone())
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _whole(request: Request, raw: str, field: str, label: str, unit: str) -> int | None:
    """A form number: empty is off; anything else a whole number in range."""
    raw = raw.strip()
    if not raw:
        return None
    top = MAX_DAYS if unit == "days" else MAX_YEARS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= top:
        raise FormError(field, _t(request)(f"retention_err_{unit}", field=label, value=raw, max=top))
    return value


def _rule_count(form: dict[str, str], default: int) -> int:
    """How many rule rows the form has: what the page sent, within what a page can have (the
    field comes from the browser, so a huge or non-numeric value must not cost anything)."""
    try:
        count = int(form.get("rule_count") or default)
    except ValueError:
        return default
    return max(0, min(count, MAX_RULES + BLANK_RULES))


def _parse(request: Request, form: dict[str, str]) -> dict[str, Any]:
    t = _t(request)
    rules: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i in range(_rule_count(form, 0)):
        name = form.get(f"event_{i}", "").strip()
        days_raw = form.get(f"days_{i}", "").strip()
        if not name and not days_raw:
            continue  # an empty row, or a rule removed by emptying it
        label = t("retention_rule_n", n=i + 1)
        if not name:
            raise FormError(f"event_{i}", t("retention_err_event", field=label))
        if len(name) > 200:
            raise FormError(f"event_{i}", t("retention_err_event_long", field=label))
        if name in seen:
            raise FormError(f"event_{i}", t("retention_err_duplicate", field=label, event=name))
        days = _whole(request, days_raw, f"days_{i}", label, "days")
        if days is None:
            raise FormError(f"days_{i}", t("retention_err_days", field=label, value="", max=MAX_DAYS))
        seen.add(name)
        rules.append({"event": name, "days": days})
        if len(rules) > MAX_RULES:
            raise FormError(f"event_{i}", t("retention_err_too_many", max=MAX_RULES))
    data: dict[str, Any] = {"events": rules}
    for field, policy, unit in NUMBERS:
        data[policy] = _whole(request, form.get(field, ""), field, t(f"retention_label_{policy}"), unit)
    return data


def _policy_form(policies: dict[str, Any]) -> dict[str, str]:
    form = {field: "" if policies[p] is None else str(policies[p]) for field, p, _ in NUMBERS}
    for i, rule in enumerate(policies["events"]):
        form[f"event_{i}"], form[f"days_{i}"] = rule["event"], str(rule["days"])
    form["rule_count"] = str(len(policies["events"]) + BLANK_RULES)
    return form


def _counts(request: Request, run: dict[str, Any] | None) -> list[tuple[str, int]]:
    """(label, count) per policy of a run, in the user's language."""
    if not run:
        return []
    t = _t(request)
    removed = run.get("removed", {})
    rows = [
        (t("retention_events_all") if name == "*" else t("retention_events_named", event=name), int(n))
        for name, n in (removed.get("events") or {}).items()
    ]
    rows += [
        (t(f"retention_count_{k}"), int(removed.get(k) or 0))
        for k in ("inactive_contacts", "outbox_bodies", "audit_entries")
    ]
    return rows


def _summary(request: Request, policies: dict[str, Any]) -> list[tuple[str, str]]:
    """(policy, how long) in the user's language: "180天", "不删除"; events by their catalogue
    titles (下单), not the names the data carries."""
    t = _t(request)
    names = {r["event"] for r in policies["events"]}
    titles = get_client(request).events.titles(names, user_language(request))
    rows = [
        (
            t("retention_events_all")
            if r["event"] == "*"
            else t("retention_events_named", event=titles[r["event"]]),
            t("retention_n_days", n=r["days"]),
        )
        for r in policies["events"]
    ]
    if not rows:
        rows.append((t("retention_events_title"), t("retention_off")))
    for _, policy, unit in NUMBERS:
        value = policies[policy]
        if value is None:
            shown = t("retention_off")
        elif policy == "outbox_body_days":
            shown = t("retention_after_delivery", n=value)
        else:
            shown = t(f"retention_n_{unit}", n=value)
        rows.append((t(COUNT_LABELS[policy]), shown))
    return rows


def _page(
    request: Request,
    status: int = 200,
    form: dict[str, str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    flash: str | None = None,
    result: dict[str, Any] | None = None,
) -> HTMLResponse:
    shown = get_client(request).retention.show()
    form = form or _policy_form(shown["policies"])
    last = shown["last_run"]
    return render(
        request,
        "settings_retention.html",
        status=status,
        form=form,
        summary=_summary(request, shown["policies"]),
        choices=get_client(request).events.choices(user_language(request)),
        rule_rows=range(_rule_count(form, BLANK_RULES)),
        numbers=NUMBERS,
        error=error,
        error_field=error_field,
        flash=flash,
        last=last,
        last_at=local_time(request, last["finished_at"]) if last else "",
        last_counts=_counts(request, last),
        last_errors=bool(last and last.get("errors")),
        result=result,
        result_counts=_counts(request, result),
        max_days=MAX_DAYS,
        max_years=MAX_YEARS,
    )


@router.get("/settings/retention")
def retention_page(request: Request, saved: str = "") -> HTMLResponse:
    return _page(request, flash=_t(request)("retention_saved") if saved else None)


@router.post("/settings/retention")
async def save_retention(request: Request) -> Response:
    raw = await request.form()
    form = {k: str(v) for k, v in raw.items() if k != "csrf_token"}
    try:
        data = _parse(request, form)
        get_client(request).retention.set(actor=principal_of(request).actor, **data)
    except FormError as exc:
        return _page(request, 422, form=form, error=exc.message, error_field=exc.field)
    except RetentionError:  # the form checks what the policies check; kept for safety
        return _page(request, 422, form=form, error=_t(request)("retention_err_invalid"))
    return RedirectResponse("/console/settings/retention?saved=1", status_code=303)


@router.post("/settings/retention/run")
async def run_retention_now(request: Request) -> HTMLResponse:
    raw = await request.form()
    dry_run = str(raw.get("dry_run") or "") == "1"
    result = get_client(request).retention.run(dry_run=dry_run, actor=principal_of(request).actor)
    t = _t(request)
    flash = t("retention_previewed") if dry_run else t("retention_ran")
    return _page(request, flash=flash, result=result)
