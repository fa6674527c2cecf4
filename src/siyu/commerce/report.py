"""The orders report: GMV, net sales, AOV and the repurchase rate over a range of days in the
brand's time zone, overall, by channel and by staff member.

Definitions (docs/orders.md): an order *counts* unless it was refunded in full (a returned order
is not a purchase); ``gmv`` is the sum of every order's total, refunds included, as shops report
it; ``net`` is GMV less refunds; ``aov`` = net / counted orders; ``repurchase_rate`` = customers
with two or more counted orders in the range / customers with one or more. Read from the system
of record with a few GROUP BYs, so the figures agree with the order list to the cent.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from siyu.commerce.schemas import CommerceError
from siyu.store.models import Channel, Order

CENT = Decimal("0.01")
MAX_DAYS = 3_660


def day_bounds(since: date, until: date, tz: str) -> tuple[datetime, datetime]:
    """[since 00:00, until+1 00:00) in the zone, as aware datetimes."""
    if until < since:
        raise CommerceError("until", "is before since", "bad_range")
    if (until - since).days > MAX_DAYS:
        raise CommerceError("until", f"a range of at most {MAX_DAYS} days", "bad_range")
    # the database stores UTC: a day at the ends of the calendar has no UTC instant to compare
    for name, day in (("since", since), ("until", until)):
        if not date(1900, 1, 1) <= day <= date(9998, 12, 31):
            raise CommerceError(name, "a day between 1900-01-01 and 9998-12-31", "bad_range")
    zone = ZoneInfo(tz)
    return (
        datetime.combine(since, time(), zone),
        datetime.combine(until + timedelta(days=1), time(), zone),
    )


def _figures(orders: int, gmv: Any, refunded: Any, customers: int, repeat: int) -> dict[str, Any]:
    gmv_d = Decimal(gmv or 0).quantize(CENT)
    net = (gmv_d - Decimal(refunded or 0)).quantize(CENT)
    return {
        "orders": int(orders),
        "gmv": str(gmv_d),
        "net": str(net),
        "aov": str((net / orders).quantize(CENT)) if orders else None,
        "customers": int(customers),
        "repeat_customers": int(repeat),
        "repurchase_rate": round(repeat / customers, 4) if customers else None,
    }


def orders_report(session: Session, since: date, until: date, tz: str) -> dict[str, Any]:
    start, end = day_bounds(since, until, tz)
    in_range = (Order.ordered_at >= start, Order.ordered_at < end)
    counted = case((Order.status != "refunded", 1), else_=0)
    # per (group, contact): counted orders; a customer is one with ≥ 1, a repeat one with ≥ 2
    out: dict[str, Any] = {"since": since.isoformat(), "until": until.isoformat(), "timezone": tz}
    groups = {"total": None, "by_channel": Order.source, "by_staff": Order.staff_userid}
    for name, column in groups.items():
        keys = [column] if column is not None else []
        per_contact = (
            select(*keys, Order.contact_id, func.sum(counted).label("n"))
            .where(*in_range)
            .group_by(*keys, Order.contact_id)
            .subquery()
        )
        pc_keys = [per_contact.c[column.key]] if column is not None else []
        customers = dict(
            (tuple(r[:-2]), (int(r[-2] or 0), int(r[-1] or 0)))
            for r in session.execute(
                select(
                    *pc_keys,
                    func.sum(case((per_contact.c.n >= 1, 1), else_=0)),
                    func.sum(case((per_contact.c.n >= 2, 1), else_=0)),
                ).group_by(*pc_keys)
            )
        )
        rows = session.execute(
            select(*keys, func.sum(counted), func.sum(Order.total), func.sum(Order.refunded))
            .where(*in_range)
            .group_by(*keys)
        ).all()
        figures = []
        for r in rows:
            key = tuple(r[: len(keys)])
            cust, repeat = customers.get(key, (0, 0))
            figures.append((key, _figures(int(r[-3] or 0), r[-2], r[-1], cust, repeat)))
        if column is None:
            out["total"] = figures[0][1] if figures else _figures(0, 0, 0, 0, 0)
            continue
        figures.sort(key=lambda kf: Decimal(kf[1]["gmv"]), reverse=True)
        field = "source" if name == "by_channel" else "staff"
        out[name] = [{field: k[0], **f} for k, f in figures]
    names = dict(session.execute(select(Channel.key, Channel.name)).all())
    for row in out["by_channel"]:
        row["channel_name"] = names.get(row["source"], row["source"])
    return out


CSV_COLUMNS = (
    "group",
    "key",
    "orders",
    "gmv",
    "net",
    "aov",
    "customers",
    "repeat_customers",
    "repurchase_rate",
)


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The report as CSV rows (one header, then total, channels, staff)."""
    rows: list[list[Any]] = [list(CSV_COLUMNS)]

    def add(group: str, key: str | None, f: dict[str, Any]) -> None:
        rows.append([group, key or ""] + [f[c] if f[c] is not None else "" for c in CSV_COLUMNS[2:]])

    add("total", "", report["total"])
    for row in report["by_channel"]:
        add("channel", row["source"], row)
    for row in report["by_staff"]:
        add("staff", row["staff"], row)
    return rows
