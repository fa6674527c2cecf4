"""Every journey's headline numbers in one query (the journey list), instead of a full
per-step report per journey."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.journeys.engine import spec_of
from siyu.store.models import Journey, JourneyEnrolment


def trigger_text(trigger: Any) -> str:
    """The trigger's kind and what it names, e.g. ``tag_added: new-customer``."""
    kind = trigger.kind
    value = getattr(trigger, kind)
    if kind == "event":
        value = value.name
    elif kind == "date":
        value = f"{value.attribute} {value.at}"
    elif kind == "broadcast":
        value = f"{value.segment} @ {value.at:%Y-%m-%d %H:%M}" + (f" / {value.every}" if value.every else "")
    elif kind == "list":
        return kind
    return f"{kind}: {value}"


def journeys_overview(session: Session) -> list[dict[str, Any]]:
    """Per journey: key, name, status, version, trigger, steps, enrolled, active, converted."""
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for jid, status, n in session.execute(
        select(JourneyEnrolment.journey_id, JourneyEnrolment.status, func.count()).group_by(
            JourneyEnrolment.journey_id, JourneyEnrolment.status
        )
    ):
        counts[jid][status] = int(n)
    out = []
    for j in session.scalars(select(Journey).order_by(Journey.id)):
        spec = spec_of(j)
        c = counts.get(j.id, {})
        out.append(
            {
                "key": j.key,
                "name": j.name,
                "status": j.status,
                "version": j.version,
                "trigger": trigger_text(spec.trigger),
                "steps": len(spec.steps),
                "enrolled": sum(c.values()),
                "active": c.get("active", 0),
                "converted": c.get("converted", 0),
                "started_at": j.started_at,
            }
        )
    return out
