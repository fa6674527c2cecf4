"""How the console writes times, money and durations: in the brand's time zone (shown next to
the time) and in the reader's language. Templates use these as Jinja filters
(``{{ row.created_at | local }}``, ``{{ total | money }}``, ``{{ seconds | duration }}``); the
page's ``lang`` and ``zone`` come from ``web.render``.

One place, so that no page formats a time in UTC or money without ¥ on its own."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from siyu.console.texts import audit
from siyu.console.texts.labels import label, reason

#: Short names shown next to times for the zones Chinese brands use; others show the UTC offset.
ZONE_LABELS = {"Asia/Shanghai": {"zh": "北京时间", "en": "Beijing time"}}


def to_local(value: datetime | str | None, zone: str) -> datetime | None:
    """``value`` in ``zone``; naive datetimes and ISO strings without an offset are UTC (how the
    system of record stores them)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(zone))


def zone_label(zone: str, lang: str) -> str:
    known = ZONE_LABELS.get(zone)
    if known:
        return known.get(lang, known["en"])
    offset = datetime.now(ZoneInfo(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


def local_time(value: datetime | str | None, zone: str, fmt: str = "%Y-%m-%d %H:%M") -> str:
    moment = to_local(value, zone)
    return "" if moment is None else moment.strftime(fmt)


def money(value: float | int | Decimal | None, lang: str, places: int = 2) -> str:
    """¥ with thousands separators; in Chinese, amounts from 10,000 read in 万 (¥12.35万)."""
    if value is None:
        return "—"
    amount = float(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if lang == "zh" and amount >= 100_000_000:
        return f"{sign}¥{amount / 100_000_000:,.2f}亿"
    if lang == "zh" and amount >= 10_000:
        return f"{sign}¥{amount / 10_000:,.2f}万"
    return f"{sign}¥{amount:,.{places}f}"


_UNITS = (("d", 86_400, "天"), ("h", 3_600, "小时"), ("m", 60, "分钟"), ("s", 1, "秒"))


def duration(seconds: float | int | None, lang: str, parts: int = 2) -> str:
    """A span in its two largest units: 2天3小时 / 2d 3h (never 140281 s)."""
    if seconds is None:
        return "—"
    left = round(abs(float(seconds)))
    if left == 0:
        return "0秒" if lang == "zh" else "0s"
    out: list[str] = []
    for en, size, zh in _UNITS:
        if left >= size and len(out) < parts:
            n, left = divmod(left, size)
            out.append(f"{n}{zh}" if lang == "zh" else f"{n}{en}")
        elif out:
            break  # 1天0小时5分 reads wrong; stop at the first empty unit after a shown one
    return ("" if lang == "zh" else " ").join(out)


@pass_context
def _local_filter(ctx: Context, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return local_time(value, ctx.get("zone") or "Asia/Shanghai", fmt)


@pass_context
def _money_filter(ctx: Context, value: Any, places: int = 2) -> str:
    return money(value, ctx.get("lang") or "zh", places)


@pass_context
def _duration_filter(ctx: Context, value: Any, parts: int = 2) -> str:
    return duration(value, ctx.get("lang") or "zh", parts)


@pass_context
def _zone_filter(ctx: Context, zone: str | None = None) -> str:
    return zone_label(zone or ctx.get("zone") or "Asia/Shanghai", ctx.get("lang") or "zh")


@pass_context
def _label_filter(ctx: Context, value: Any, table: str) -> str:
    """``{{ e.status | label('enrolment_status') }}``: a stored code in the page's language."""
    return label(table, value, ctx.get("lang") or "zh")


@pass_context
def _reason_filter(ctx: Context, value: Any, kind: str) -> str:
    """``{{ h.reason | reason('stage') }}``: a stored reason in the page's language."""
    return reason(kind, value, ctx.get("lang") or "zh")


def code(text: str, *snippets: str) -> Markup:
    """``{{ t('imports_help') | code('phone', 'customer_no') }}``: the text with each of the
    named snippets (column names, search syntax the reader types as it is) set as
    ``<code translate="no">``, so a Chinese sentence may name them inline. Only the snippets
    named are marked: any other English word in the text stays visible to the zh crawler."""
    safe = str(escape(text))
    wanted = sorted({str(escape(s)) for s in snippets if s}, key=len, reverse=True)
    if not wanted:
        return Markup(safe)
    # a snippet counts only as a whole token, not inside a longer name (phone in phone_2)
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, wanted)) + r")(?![A-Za-z0-9_])")
    return Markup(pattern.sub(lambda m: f'<code translate="no">{m.group(1)}</code>', safe))


def ticks(text: str) -> Markup:
    """``{{ doc | ticks }}``: parts of ``text`` quoted in backticks (parameter names, values the
    reader types as they are) set as ``<code translate="no">``, the rest escaped."""
    parts = str(text).split("`")
    quoted = Markup('<code translate="no">{}</code>')
    return Markup("").join(quoted.format(p) if i % 2 else escape(p) for i, p in enumerate(parts))


@pass_context
def _audit_filter(ctx: Context, value: Any, part: str) -> Markup | str:
    """``{{ e.action | audit('action') }}`` (also ``target``, ``details``): an audit entry's
    stored codes in the page's language."""
    lang = ctx.get("lang") or "zh"
    if part == "target":
        return audit.target(value, lang)
    return audit.action(value, lang) if part == "action" else audit.details(value, lang)


FILTERS = {
    "audit": _audit_filter,
    "code": code,
    "ticks": ticks,
    "reason": _reason_filter,
    "local": _local_filter,
    "money": _money_filter,
    "duration": _duration_filter,
    "zone": _zone_filter,
    "label": _label_filter,
}
