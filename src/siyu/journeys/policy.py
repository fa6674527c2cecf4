"""Time and send policies in the contact's own calendar: local day/week keys for frequency
caps, quiet hours, and "day N at HH:MM" waits. Every function takes UTC and returns UTC, and is
pure, so DST changes are tested directly (tests/journeys/test_policy.py)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from siyu.journeys.schemas import Cap, QuietHours, parse_clock


@lru_cache(maxsize=1024)
def zone(name: str | None, default: str = "Asia/Shanghai") -> ZoneInfo:
    """The contact's time zone; an unknown or missing name falls back to ``default``."""
    try:
        return ZoneInfo(name) if name else ZoneInfo(default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def local_keys(at: datetime, tz: ZoneInfo) -> tuple[str, str]:
    """(``YYYY-MM-DD``, ISO ``YYYY-Www``) of ``at`` in ``tz``: the calendar day and week a send
    counts in for frequency caps."""
    local = at.astimezone(tz)
    year, week, _ = local.isocalendar()
    return local.date().isoformat(), f"{year}-W{week:02d}"


def _at_local(day: datetime, clock: time, tz: ZoneInfo) -> datetime:
    """``day``'s date at ``clock`` in ``tz`` as UTC. A clock time skipped by a DST jump (02:30
    on a spring-forward night) comes out as the same time after the jump (03:30), as calendar
    apps do; a repeated one (autumn) is its first occurrence."""
    return datetime.combine(day.date(), clock).replace(tzinfo=tz, fold=0).astimezone(UTC)


def day_at(entered_at: datetime, day: int, clock: str, tz: ZoneInfo) -> datetime:
    """Day ``day`` after entry (day 0 = the local entry day) at ``clock`` local time, in UTC."""
    local = entered_at.astimezone(tz) + timedelta(days=day)
    return _at_local(local, parse_clock(clock), tz)


def quiet_until(at: datetime, tz: ZoneInfo, quiet: QuietHours) -> datetime | None:
    """When the quiet window that ``at`` falls in ends (UTC), or None when sending is allowed."""
    if not quiet.enabled:
        return None
    start, end = parse_clock(quiet.start), parse_clock(quiet.end)
    if start == end:
        return None
    local = at.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= now < end
        end_day = local
    else:  # wraps midnight: 22:00–08:00
        inside = now >= start or now < end
        end_day = local + timedelta(days=1) if now >= start else local
    if not inside:
        return None
    return _at_local(end_day, end, tz)


@dataclass(frozen=True)
class CapWindow:
    """The counting window of a cap for one send: which outbox rows count."""

    channel: str
    per: str
    key: str  # the local day, week or month the send falls in
    max: int


def cap_windows(caps: Iterable[Cap], channel: str, local_day: str, local_week: str) -> list[CapWindow]:
    out = []
    for cap in caps:
        if cap.channel not in ("any", channel):
            continue
        key = {"day": local_day, "week": local_week, "month": local_day[:7]}[cap.per]
        out.append(CapWindow(cap.channel, cap.per, key, cap.max))
    return out


def wecom_monthly_cap(local_day: str) -> Cap:
    """WeCom: a customer receives at most as many bulk messages per month as the month has
    days (reference/wecom-api.md); enforced before calling, so the skip is recorded here."""
    year, month = int(local_day[:4]), int(local_day[5:7])
    return Cap(channel="wecom_private", per="month", max=calendar.monthrange(year, month)[1])
