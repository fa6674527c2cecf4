"""Per-entry-code figures from ``contact_follows`` (a follow carries the state of the code it
came through), per day in the brand's time zone.

* ``adds``: relations that began through the code;
* ``deleted_24h`` / ``deleted_7d``: of those, the ones that ended within 24 hours / 7 days of
  the add, split ``by_staff`` (del_external_contact) and ``by_customer`` (del_follow_user, 流失);
  the 7-day figure includes the 24-hour one;
* ``net``: adds − every relation among them that has ended (by anyone, at any time so far);
* ``scans``: WeCom reports no scans of a contact way or opens of an acquisition link, so it is
  ``None`` ("unknown", never 0) for them; for a plain ``url`` code it is unknown too unless the
  content capability tracks its clicks (it does not yet).

A day is the local day of the add, so a day's row keeps changing while its customers are still
within their first 7 days.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.store.models import ContactFollow, EntryCode

DAY = timedelta(hours=24)


class FiguresNotFound(LookupError):
    """Figures asked for an entry code that does not exist."""


WEEK = timedelta(days=7)


def _empty() -> dict[str, Any]:
    return {
        "adds": 0,
        "deleted_24h": {"by_staff": 0, "by_customer": 0, "total": 0},
        "deleted_7d": {"by_staff": 0, "by_customer": 0, "total": 0},
        "ended": 0,
        "net": 0,
    }


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _count(
    into: dict[str, Any], added_at: datetime | None, deleted_at: datetime | None, by: str | None
) -> None:
    into["adds"] += 1
    if deleted_at is not None:
        into["ended"] += 1
        if added_at is not None:
            lasted = _utc(deleted_at) - _utc(added_at)
            for window, key in ((DAY, "deleted_24h"), (WEEK, "deleted_7d")):
                if lasted <= window:
                    into[key]["total"] += 1
                    if by in ("staff", "customer"):
                        into[key][f"by_{by}"] += 1
    into["net"] = into["adds"] - into["ended"]


def code_figures(
    session: Session,
    zone: str,
    states: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    by_day: bool = False,
) -> list[dict[str, Any]]:
    """One entry per entry code (all, or ``states``): totals over the adds from ``start`` to
    ``end`` (local days, inclusive; open-ended when not given), and ``days`` when ``by_day``."""
    tz = ZoneInfo(zone)
    q = select(EntryCode).order_by(EntryCode.id)
    if states:
        q = q.where(EntryCode.state.in_(states))
    codes = list(session.scalars(q))
    if states:
        missing = sorted(set(states) - {c.state for c in codes})
        if missing:
            raise FiguresNotFound(f"state: no entry code {', '.join(missing)}")
    wanted = {c.state for c in codes}
    totals: dict[str, dict[str, Any]] = {s: _empty() for s in wanted}
    days: dict[str, dict[date, dict[str, Any]]] = defaultdict(dict)
    rows = session.execute(
        select(
            ContactFollow.state, ContactFollow.added_at, ContactFollow.deleted_at, ContactFollow.deleted_by
        ).where(ContactFollow.state.in_(wanted))
    ).yield_per(10_000)
    for state, added_at, deleted_at, by in rows:
        day = _utc(added_at).astimezone(tz).date() if added_at is not None else None
        if (start and (day is None or day < start)) or (end and (day is None or day > end)):
            continue
        _count(totals[state], added_at, deleted_at, by)
        if by_day and day is not None:
            _count(days[state].setdefault(day, _empty()), added_at, deleted_at, by)
    out = []
    for code in codes:
        item: dict[str, Any] = {
            "state": code.state,
            "name": code.name,
            "kind": code.kind,
            "deleted": code.deleted_at is not None,
            "scans": None,
            **totals[code.state],
        }
        if by_day:
            item["days"] = [{"day": d.isoformat(), **v} for d, v in sorted(days[code.state].items())]
        out.append(item)
    return out
