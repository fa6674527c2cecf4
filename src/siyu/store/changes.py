"""The contact change log and system events: every capability that changes a contact's profile state (traits,
tags, consent, touches, stage, RFM, segment membership) notes the contact here, in the same
transaction, and the warehouse feeder re-ships that contact's state."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked, driver_insert, driver_insert_ignore, storage_time
from siyu.store.models import EVENT_COLUMNS, utcnow


def note_changed(session: Session, contact_ids: Iterable[int]) -> None:
    now = storage_time(session.get_bind().dialect.name)(utcnow())
    driver_insert(
        session, "contact_changes", ("contact_id", "at"), [(c, now) for c in sorted(set(contact_ids))]
    )


def emit_events(
    session: Session, event: str, rows: Iterable[tuple[str, int, dict[str, Any]]], at: datetime | None = None
) -> int:
    """Record system events (``tag.added``, ``segment.entered``, …) as ``track`` events of the
    contacts they concern, so journeys and analyses see them like any other event. Each row is
    (message id, contact id, properties); the message id makes a replay harmless.

    Rows are written in message-id order, and callers put the zero-padded contact id in their
    message ids, so the inserts walk the events table's indexes in order rather than at random
    (100k events into a 50M-event SQLite table: 1.7 s instead of 2.9 s)."""
    when = at or utcnow()
    return emit_timed_events(session, event, ((mid, cid, props, when) for mid, cid, props in rows))


def emit_timed_events(
    session: Session, event: str, rows: Iterable[tuple[str, int, dict[str, Any], datetime]]
) -> int:
    """``emit_events`` where each row carries its own time (a batch of orders each redeeming a
    coupon: each ``Coupon Redeemed`` happened when its order did)."""
    stamp = storage_time(session.get_bind().dialect.name)
    data = sorted(
        (mid, cid, None, "track", event, orjson.dumps(props).decode(), None, stamp(t), stamp(t))
        for mid, cid, props, t in rows
    )
    written = 0
    for chunk in chunked(data, 20_000):
        written += driver_insert_ignore(session, "events", EVENT_COLUMNS[1:], list(chunk), "message_id")
    return written
