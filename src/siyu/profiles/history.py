"""A contact's trait history: every value each trait has had, oldest first, with when and how.

Traits are stored once per contact (newest non-empty wins), but every write that set them is an
``identify`` event that keeps the traits it carried (``properties.traits``) — HTTP identify
calls, every row of a contacts import, the Python API. Reading those events back in time order
gives each trait's successive values, so a value that a later write replaced (王小明 in row 3 of
an import, 吴十 in row 7) is never lost, and a merge brings the absorbed contact's history
along with its events. No second copy is kept: the events are the record (and the retention
policies and PIPL erasure that apply to events apply to it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.detect import PiiDetector
from siyu.store.models import Event, Source

#: identify events read at most (the newest ones), so a contact written millions of times
#: still answers at once.
MAX_EVENTS = 2000


def trait_history(
    session: Session,
    contact_id: int,
    name: str | None = None,
    pii: PiiDetector = DEFAULT_DETECTOR,
    max_events: int = MAX_EVENTS,
) -> list[dict[str, Any]]:
    """Each change of each trait (or of trait ``name``), oldest first: ``name``, ``value``,
    ``previous`` (None for the first value), ``at`` (the write's time), ``source``."""
    rows = session.execute(
        select(Event.timestamp, Event.properties, Source.name)
        .outerjoin(Source, Source.id == Event.source_id)
        .where(Event.contact_id == contact_id, Event.type == "identify")
        .order_by(Event.timestamp.desc(), Event.id.desc())
        .limit(max_events)
    ).all()
    current: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    for at, props, source in reversed(rows):
        traits = (props or {}).get("traits") if isinstance(props, dict) else None
        if not isinstance(traits, dict):
            continue
        for key, value in traits.items():
            if (name is not None and key != name) or value is None or value == "":
                continue
            if key in current and current[key] == value:
                continue
            out.append(
                {
                    "name": key,
                    "value": pii.scrub_value(value),
                    "previous": pii.scrub_value(current.get(key)),
                    "at": at if at.tzinfo else at.replace(tzinfo=UTC),
                    "source": source,
                }
            )
            current[key] = value
    return out


def changed_traits(history: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The history of the traits that had more than one value, by trait."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for item in history:
        by_name.setdefault(item["name"], []).append(item)
    return {k: v for k, v in by_name.items() if len(v) > 1}


def as_json(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**h, "at": h["at"].isoformat() if isinstance(h["at"], datetime) else h["at"]} for h in history]


__all__ = ["MAX_EVENTS", "as_json", "changed_traits", "trait_history"]
