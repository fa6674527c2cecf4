"""Book the order events stored before orders were booked (an installation upgraded to this
version keeps months of ``Order Completed`` events), or any the consumer did not see: events are
read in id order, a batch at a time, and handed to the same consumer as live ingest. Booking is
idempotent, so running it again books nothing twice; a problem already listed for an event is
not listed again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from siyu.commerce.consumer import COMPLETED, REFUNDED, OrderConsumer
from siyu.ingest.messages import Message
from siyu.ingest.service import Accepted
from siyu.store.engine import Database
from siyu.store.models import Event, Source

BATCH = 5_000


def backfill(
    db: Database, tz: Callable[[Any], str], *, after_id: int = 0, batch: int = BATCH
) -> dict[str, int]:
    """Hand every stored order event after ``after_id`` to the consumer, one transaction per
    batch; answers how many events were read and orders / refunds / problems there are after."""
    consumer = OrderConsumer(tz)
    read = 0
    last = after_id
    sources: dict[int, Source] = {}
    while True:
        with db.session() as s:
            rows = s.execute(
                select(
                    Event.id,
                    Event.message_id,
                    Event.contact_id,
                    Event.source_id,
                    Event.event,
                    Event.properties,
                    Event.timestamp,
                )
                .where(Event.id > last, Event.type == "track", Event.event.in_((COMPLETED, REFUNDED)))
                .order_by(Event.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            missing = {r.source_id for r in rows if r.source_id is not None} - sources.keys()
            if missing:
                for src in s.scalars(select(Source).where(Source.id.in_(sorted(missing)))):
                    s.expunge(src)
                    sources[src.id] = src
            accepted = [
                Accepted(
                    Message("track", r.message_id, r.timestamp, [], r.event, r.properties or {}),
                    r.contact_id,
                    sources.get(r.source_id) if r.source_id is not None else None,
                )
                for r in rows
            ]
            consumer(s, accepted)
        read += len(rows)
        last = rows[-1].id
    return {"events": read, "last_event_id": last}
