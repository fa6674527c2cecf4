"""Staff (导购) as first-class: the directory from ``user/list``, and per-staff, per-day figures
from ``contact_follows``.

Figures, per staff member and per day in the brand's time zone:

* ``adds``: relations that began that day (``added_at``);
* ``lost``: relations the *customer* ended that day (deleted_by ``customer``: 流失);
* ``removed``: relations the staff member ended that day (deleted_by ``staff``);
* ``net``: adds − every relation that ended that day (lost, removed, transferred away or gone
  at a full sync);
* ``total``: the staff member's customers at the end of that day.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.channels.wecom_api import WeComApi, WeComError
from siyu.store.models import ContactFollow, WeComStaff, utcnow
from siyu.wecom.provider import EC

#: WeCom's user status (90201): 1 active, 2 disabled, 4 not activated, 5 left the corp.
STATUS_LEFT = 5
#: user/list answers meaning "this app may not read the directory" (no API permission, the
#: user is outside the app's visible range, or the contacts API needs another secret).
DIRECTORY_REFUSED = {48002, 60011, 60020, 301002}


class StaffError(ValueError):
    pass


class StaffNotFound(StaffError):
    pass


def sync_staff(session: Session, api: WeComApi, provider_key: str, full: bool = True) -> dict[str, int]:
    """The corp directory (``user/list`` of department 1 with children) into ``wecom_staff``.
    A full sync marks staff missing from the directory as having left. When the app may not
    read the directory (48002 / 60011 …), the staff with the customer-contact permission
    (``externalcontact/get_follow_user_list``) are synced instead."""
    source = "user_list"
    try:
        data = api.call("GET", "/cgi-bin/user/list", params={"department_id": 1, "fetch_child": 1})
        users = {str(u["userid"]): u for u in data.get("userlist") or []}
    except WeComError as exc:
        if exc.errcode not in DIRECTORY_REFUSED:
            raise
        # A customer-contact app often may not read the directory: the staff who have the
        # customer-contact permission are what it can list (names unknown: the userid stands in).
        data = api.call("GET", f"{EC}/get_follow_user_list")
        users = {str(u): {"userid": u} for u in data.get("follow_user") or []}
        source, full = "follow_user_list", False  # absent from this list is not "left the corp"
    known = {
        s.userid: s
        for s in session.scalars(select(WeComStaff).where(WeComStaff.provider_key == provider_key))
    }
    now = utcnow()
    inserts, updates = [], []
    for userid, u in users.items():
        values = {
            "name": str(u.get("name") or userid)[:200],
            "departments": list(u.get("department") or []),
            "status": int(u.get("status") or 1),
            "synced_at": now,
        }
        values["left_at"] = now if values["status"] == STATUS_LEFT else None
        row = known.get(userid)
        if row is None:
            inserts.append({"provider_key": provider_key, "userid": userid, **values})
        else:
            if row.left_at and values["left_at"]:
                values["left_at"] = row.left_at
            updates.append({"id": row.id, **values})
    gone = [s for uid, s in known.items() if uid not in users and s.status != STATUS_LEFT] if full else []
    for s in gone:
        updates.append({"id": s.id, "status": STATUS_LEFT, "left_at": now, "synced_at": now})
    if inserts:
        session.execute(insert(WeComStaff), inserts)
    if updates:
        session.execute(update(WeComStaff), updates)
    return {"staff": len(users), "new": len(inserts), "left": len(gone), "source": source}


def staff_userids(session: Session, provider_key: str) -> list[str]:
    """Staff who can hold customers (not those who left: their customers await transfer)."""
    return list(
        session.scalars(
            select(WeComStaff.userid)
            .where(WeComStaff.provider_key == provider_key, WeComStaff.status != STATUS_LEFT)
            .order_by(WeComStaff.userid)
        )
    )


def list_staff(session: Session, provider_key: str | None = None) -> list[dict[str, Any]]:
    """Every staff member with their open customers and all-time adds and losses."""
    q = select(WeComStaff).order_by(WeComStaff.provider_key, WeComStaff.userid)
    if provider_key:
        q = q.where(WeComStaff.provider_key == provider_key)
    staff = list(session.scalars(q))
    counts: dict[tuple[str, str], Counter[str]] = {}
    rows = session.execute(
        select(
            ContactFollow.provider_key,
            ContactFollow.staff_userid,
            ContactFollow.deleted_at.is_(None),
            ContactFollow.deleted_by,
            func.count(),
        ).group_by(
            ContactFollow.provider_key,
            ContactFollow.staff_userid,
            ContactFollow.deleted_at.is_(None),
            ContactFollow.deleted_by,
        )
    ).all()
    for provider, userid, open_, deleted_by, n in rows:
        c = counts.setdefault((provider, userid), Counter())
        c["adds"] += n
        if open_:
            c["customers"] += n
        elif deleted_by == "customer":
            c["lost"] += n
    return [
        {
            "provider_key": s.provider_key,
            "userid": s.userid,
            "name": s.name,
            "status": s.status,
            "left": s.status == STATUS_LEFT,
            "departments": list(s.departments or []),
            "customers": counts.get((s.provider_key, s.userid), Counter())["customers"],
            "adds": counts.get((s.provider_key, s.userid), Counter())["adds"],
            "lost": counts.get((s.provider_key, s.userid), Counter())["lost"],
        }
        for s in staff
    ]


def get_staff(session: Session, userid: str, provider_key: str | None = None) -> WeComStaff:
    q = select(WeComStaff).where(WeComStaff.userid == userid)
    if provider_key:
        q = q.where(WeComStaff.provider_key == provider_key)
    rows = list(session.scalars(q))
    if not rows:
        raise StaffNotFound(f"userid: no staff member {userid!r} (run siyu wecom sync first)")
    if len(rows) > 1:
        raise StaffError(f"userid: {userid!r} is staff of several providers; name one with --provider")
    return rows[0]


def daily_figures(
    session: Session, zone: str, provider_key: str, userid: str, start: date, end: date
) -> list[dict[str, Any]]:
    """One row per local day from ``start`` to ``end`` inclusive (see the module docstring)."""
    if end < start:
        raise StaffError("end: before start")
    if (end - start).days > 366:
        raise StaffError("end: at most 366 days at a time")
    tz = ZoneInfo(zone)
    rows = session.execute(
        select(ContactFollow.added_at, ContactFollow.deleted_at, ContactFollow.deleted_by).where(
            ContactFollow.provider_key == provider_key, ContactFollow.staff_userid == userid
        )
    ).all()
    adds: Counter[date] = Counter()
    ended: Counter[date] = Counter()
    lost: Counter[date] = Counter()
    removed: Counter[date] = Counter()
    before = 0  # customers at the end of the day before ``start``
    first = datetime.combine(start, datetime.min.time(), tz).astimezone(UTC)
    for added_at, deleted_at, deleted_by in rows:
        a = _local(added_at, tz)
        d = _local(deleted_at, tz)
        if added_at is None or _utc(added_at) < first:
            if deleted_at is None or _utc(deleted_at) >= first:
                before += 1
        elif a is not None:
            adds[a] += 1
        if d is not None and _utc(deleted_at) >= first:  # type: ignore[arg-type]
            ended[d] += 1
            if deleted_by == "customer":
                lost[d] += 1
            elif deleted_by == "staff":
                removed[d] += 1
    out, total, day = [], before, start
    while day <= end:
        total += adds[day] - ended[day]
        out.append(
            {
                "day": day.isoformat(),
                "adds": adds[day],
                "lost": lost[day],
                "removed": removed[day],
                "net": adds[day] - ended[day],
                "total": total,
            }
        )
        day += timedelta(days=1)
    return out


def today(zone: str) -> date:
    """Today in the brand's time zone."""
    return utcnow().astimezone(ZoneInfo(zone)).date()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _local(at: datetime | None, tz: ZoneInfo) -> date | None:
    return None if at is None else _utc(at).astimezone(tz).date()
