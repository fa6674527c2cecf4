"""The numbers of the console's dashboard (概览), computed once per page load.

Everything that scans contacts or events runs on the warehouse (``Source``), in a handful of
grouped queries that stay cheap at a million contacts; what only the system of record knows
(today's sends, journey stages, channel names) comes from the session. Definitions are the ones
the analyses already use, so the dashboard never disagrees with an analysis page:

* *traffic pool*: live (not merged) contacts, by first channel (``contacts.first_channel_id``);
* *days*: days of the brand's time zone (``timezone``), "today" included, as in every analysis
  (the warehouse keeps UTC; days are bucketed by local wall time, ``analytics.zone``);
* *new contacts* on a day: contacts whose acquisition (their earliest touch, else their creation
  time) falls on that day, by first channel: the ``acquired`` of the ``roi`` analysis;
* *active contacts*: DAU/WAU/MAU of the ``activity`` runner (any customer activity);
* *orders and revenue*: order events as the brand's RFM configuration defines them (event name
  and amount property, setting ``rfm.config``; the CLV and RFM analyses read the same), per day;
* *sends today*: outbox messages sent (status sent or delivered) since today's local midnight;
* *stages*: contacts per journey stage (the stages capability).

The warehouse part is cached by the warehouse's data version, so reloading the page does not
scan again until new data arrives; the system-of-record part is always read fresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session

from siyu.analytics.activity.base import OrderParams
from siyu.analytics.base import Source, run_analysis
from siyu.analytics.clv.data import order_config
from siyu.analytics.zone import Zone, today_in
from siyu.brand import DEFAULT_TIMEZONE, check_zone
from siyu.stages.service import StageService
from siyu.store.models import Channel, OutboxMessage
from siyu.warehouse.query import CONTACTS, EVENTS, TOUCHES

#: Label of contacts without a first channel (imported, organic), as in the roi analysis.
UNATTRIBUTED = "(unattributed)"
#: Ranges the dashboard offers, in days ending today.
RANGES = (7, 30, 90)
SENT_STATUSES = ("sent", "delivered")

_CACHE: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


@dataclass
class Dashboard:
    today: date
    days: int
    #: the time zone the days are in (IANA name)
    timezone: str
    order_event: str
    amount_property: str
    #: live contacts
    contacts: int = 0
    #: [{channel, name, contacts}] largest first; UNATTRIBUTED for contacts without one
    pool: list[dict[str, Any]] = field(default_factory=list)
    #: [{day, channel, name, contacts}] new contacts per day and first channel in range
    growth: list[dict[str, Any]] = field(default_factory=list)
    new_contacts: int = 0
    new_today: int = 0
    #: [{day, dau, wau, mau, stickiness}] from the activity runner, and the last day's values
    activity: list[dict[str, Any]] = field(default_factory=list)
    dau: int = 0
    wau: int = 0
    mau: int = 0
    #: [{day, orders, customers, revenue}] per day in range (days without orders left out)
    orders_by_day: list[dict[str, Any]] = field(default_factory=list)
    orders: int = 0
    customers: int = 0
    revenue: float = 0.0
    #: {channel: sent} of today's sends, and how many wait in the outbox now
    sends_today: dict[str, int] = field(default_factory=dict)
    sent_today: int = 0
    pending: int = 0
    #: {stage: contacts}, every stage listed
    stages: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["today"] = self.today.isoformat()
        return out


def _start(day: date) -> datetime:
    return datetime.combine(day, time())


def _warehouse_part(
    source: Source, session: Session | None, today: date, days: int, order: OrderParams, timezone: str
) -> dict[str, Any]:
    """What the warehouse answers (channel ids, not names: names come from the session)."""
    first_day = today - timedelta(days=days - 1)
    zone = Zone.over(timezone, first_day, today)
    lo, hi = zone.utc(_start(first_day)), zone.utc(_start(today + timedelta(days=1)))
    live = CONTACTS.c.merged_into_id.is_(None)

    pool = source.fetch(
        select(CONTACTS.c.first_channel_id.label("channel_id"), func.count().label("contacts"))
        .where(live)
        .group_by(CONTACTS.c.first_channel_id)
    ).to_pylist()

    # acquisition = earliest touch, else creation time (the roi analysis's `acquired`)
    first = (
        select(TOUCHES.c.contact_id, func.min(TOUCHES.c.occurred_at).label("first_at"))
        .group_by(TOUCHES.c.contact_id)
        .subquery("first_touch")
    )
    acquired_at = func.coalesce(first.c.first_at, CONTACTS.c.created_at)
    acquired_day = cast(zone.local(acquired_at), Date)
    growth = source.fetch(
        select(
            acquired_day.label("day"),
            CONTACTS.c.first_channel_id.label("channel_id"),
            func.count().label("contacts"),
        )
        .select_from(CONTACTS.outerjoin(first, first.c.contact_id == CONTACTS.c.id))
        .where(live, acquired_at >= lo, acquired_at < hi)
        .group_by(acquired_day, CONTACTS.c.first_channel_id)
        .order_by(acquired_day, CONTACTS.c.first_channel_id)
    ).to_pylist()

    in_range = (order.is_order(), EVENTS.c.timestamp >= lo, EVENTS.c.timestamp < hi)
    order_day = cast(zone.local(EVENTS.c.timestamp), Date)
    by_day = source.fetch(
        select(
            order_day.label("day"),
            func.count().label("orders"),
            func.count(func.distinct(EVENTS.c.contact_id)).label("customers"),
            func.coalesce(func.sum(order.amount()), 0.0).label("revenue"),
        )
        .where(*in_range)
        .group_by(order_day)
        .order_by(order_day)
    ).to_pylist()
    customers = source.fetch(
        select(func.count(func.distinct(EVENTS.c.contact_id)).label("n")).where(*in_range)
    ).to_pylist()[0]["n"]

    activity = run_analysis(
        "activity",
        {"from": first_day.isoformat(), "to": today.isoformat(), "timezone": timezone},
        source,
        session,
    ).to_dict()["days"]
    return {
        "pool": pool,
        "growth": growth,
        "orders_by_day": [
            {**r, "day": _as_date(r["day"]), "revenue": round(float(r["revenue"] or 0.0), 2)} for r in by_day
        ],
        "customers": int(customers or 0),
        "activity": activity,
    }


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _cached_warehouse_part(
    source: Source, session: Session | None, today: date, days: int, order: OrderParams, timezone: str
) -> dict[str, Any]:
    key = (source.engine, *source.version(), today, days, order.model_dump_json(), timezone)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    part = _warehouse_part(source, session, today, days, order, timezone)
    with _CACHE_LOCK:
        _CACHE[key] = part
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return part


def dashboard(
    session: Session,
    source: Source,
    today: date | None = None,
    days: int = 30,
    timezone: str = DEFAULT_TIMEZONE,
) -> Dashboard:
    """The dashboard's numbers for the ``days`` days ending ``today`` (default: today), days of
    the brand's zone ``timezone``. The caller feeds the warehouse first (``s.analytics`` does) so
    recent data is counted."""
    if days not in RANGES:
        raise ValueError(f"days must be one of {', '.join(map(str, RANGES))}")
    timezone = check_zone(timezone)
    today = today or today_in(timezone)
    config = order_config(session)
    order = OrderParams(order_event=config.event, amount_property=config.amount_property)
    part = _cached_warehouse_part(source, session, today, days, order, timezone)

    channels = {c.id: c for c in session.scalars(select(Channel))}

    def key_of(cid: int | None) -> str:
        if cid is None:
            return UNATTRIBUTED
        return channels[cid].key if cid in channels else f"#{cid}"

    def name_of(cid: int | None) -> str:
        return channels[cid].name if cid in channels else key_of(cid)

    d = Dashboard(
        today=today,
        days=days,
        timezone=timezone,
        order_event=order.order_event,
        amount_property=order.amount_property,
    )
    d.pool = sorted(
        (
            {
                "channel": key_of(r["channel_id"]),
                "name": name_of(r["channel_id"]),
                "contacts": int(r["contacts"]),
            }
            for r in part["pool"]
        ),
        key=lambda r: (-r["contacts"], r["channel"]),
    )
    d.contacts = sum(r["contacts"] for r in d.pool)
    d.growth = [
        {
            "day": _as_date(r["day"]),
            "channel": key_of(r["channel_id"]),
            "name": name_of(r["channel_id"]),
            "contacts": int(r["contacts"]),
        }
        for r in part["growth"]
    ]
    d.new_contacts = sum(r["contacts"] for r in d.growth)
    d.new_today = sum(r["contacts"] for r in d.growth if r["day"] == today)
    d.activity = part["activity"]
    if d.activity:
        last = d.activity[-1]
        d.dau, d.wau, d.mau = int(last["dau"]), int(last["wau"]), int(last["mau"])
    d.orders_by_day = part["orders_by_day"]
    d.orders = sum(int(r["orders"]) for r in d.orders_by_day)
    d.revenue = round(sum(r["revenue"] for r in d.orders_by_day), 2)
    d.customers = part["customers"]
    d.sends_today, d.pending = sends_today(session, today, timezone)
    d.sent_today = sum(d.sends_today.values())
    d.stages = StageService(session).distribution()
    return d


def sends_today(
    session: Session, today: date, timezone: str = DEFAULT_TIMEZONE
) -> tuple[dict[str, int], int]:
    """({channel: messages sent on ``today`` (in ``timezone``)}, messages waiting in the outbox now)."""
    lo = datetime.combine(today, time(), tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    rows = session.execute(
        select(OutboxMessage.channel, func.count())
        .where(
            OutboxMessage.status.in_(SENT_STATUSES),
            OutboxMessage.sent_at >= lo,
            OutboxMessage.sent_at < lo + timedelta(days=1),
        )
        .group_by(OutboxMessage.channel)
        .order_by(OutboxMessage.channel)
    ).all()
    pending = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status.in_(("pending", "sending")))
    )
    return {str(ch): int(n) for ch, n in rows}, int(pending or 0)
