"""What the segment builder's pick lists offer, read from the data: event names (most frequent
first, siyu's own events left out) with the property names seen on them, tags, channels, RFM
segment names (the configured rules plus any stored), other segments, customer groups, tiers and
coupon templates. Typing anything else
still works; the lists only save operators from guessing spellings.

Event names and properties come from the warehouse (one grouped scan of the name column, and a
sample of recent events per name for the property keys), not from the system of record's
events table, which has no index on the event name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.store.models import Channel, ContactRfm, CouponTemplate, CustomerGroup, LoyaltyTier, Segment, Tag
from siyu.store.models.events import SYSTEM_EVENTS

MAX_EVENTS = 200
MAX_PROPERTIES = 50
#: Recent events sampled per name to read property keys from.
PROPERTY_SAMPLE = 500


def event_catalogue(conn: Any) -> dict[str, list[str]]:
    """``{event name: [property names]}``, most frequent events first."""
    marks = ", ".join("?" for _ in SYSTEM_EVENTS)
    names = [
        r[0]
        for r in conn.execute(
            f"SELECT event FROM events WHERE event IS NOT NULL AND event NOT IN ({marks}) "
            "GROUP BY event ORDER BY count(*) DESC, event LIMIT ?",
            [*SYSTEM_EVENTS, MAX_EVENTS],
        ).fetchall()
    ]
    if not names:
        return {}
    keys = conn.execute(
        "SELECT event, k, count(*) FROM ("
        "  SELECT event, unnest(json_keys(properties)) AS k FROM ("
        "    SELECT event, properties, row_number() OVER (PARTITION BY event ORDER BY id DESC) AS n"
        f"    FROM events WHERE event IN ({', '.join('?' for _ in names)}) AND properties IS NOT NULL"
        "  ) WHERE n <= ? AND json_type(properties) = 'OBJECT'"
        ") GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2",
        [*names, PROPERTY_SAMPLE],
    ).fetchall()
    out: dict[str, list[str]] = {n: [] for n in names}
    for event, key, _n in keys:
        if len(out[event]) < MAX_PROPERTIES and not str(key).startswith(("$", "/")):
            out[event].append(str(key))
    return out


def choices(session: Session, conn: Any, rfm_rules: list[dict[str, Any]]) -> dict[str, Any]:
    rfm = [r["name"] for r in rfm_rules]
    stored = session.scalars(select(ContactRfm.segment).distinct().limit(100))
    rfm += sorted({n for n in stored if n and n not in rfm})
    events = event_catalogue(conn)
    return {
        "events": list(events),
        "properties": events,
        "tags": list(session.scalars(select(Tag.key).order_by(Tag.key).limit(1000))),
        "channels": list(session.scalars(select(Channel.key).order_by(Channel.key))),
        "segments": list(session.scalars(select(Segment.key).order_by(Segment.key))),
        "rfm": rfm,
        # customer groups for the group / community_role conditions: chat id and name
        "groups": [
            {"chat_id": c, "name": n}
            for c, n in session.execute(
                select(CustomerGroup.chat_id, CustomerGroup.name)
                .where(CustomerGroup.dismissed_at.is_(None))
                .order_by(CustomerGroup.member_count.desc())
                .limit(1000)
            )
        ],
        # tiers (lowest first) and coupon templates for the tier / coupons conditions
        "tiers": [
            {"key": k, "name": n, "name_en": e or n}
            for k, n, e in session.execute(
                select(LoyaltyTier.key, LoyaltyTier.name, LoyaltyTier.name_en).order_by(LoyaltyTier.rank)
            )
        ],
        "coupon_templates": [
            {"key": k, "name": n}
            for k, n in session.execute(
                select(CouponTemplate.key, CouponTemplate.name)
                .where(CouponTemplate.status != "ended")
                .order_by(CouponTemplate.id.desc())
                .limit(1000)
            )
        ],
    }
