"""Branch conditions, evaluated for a whole group of enrolments at once in the system of
record (one query per leaf), at the moment the step runs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.journeys.schemas import Condition, EventCondition
from siyu.store.dialect import chunked
from siyu.store.models import (
    ContactAttribute,
    ContactStage,
    ContactTag,
    Event,
    OutboxMessage,
    Segment,
    SegmentMember,
    Tag,
)
from siyu.tags.rules import property_matches


@dataclass(frozen=True)
class Subject:
    """An enrolment as conditions see it."""

    enrolment_id: int
    contact_id: int
    entered_at: datetime


def evaluate(session: Session, cond: Condition, subjects: Sequence[Subject], now: datetime) -> set[int]:
    """The enrolment ids in ``subjects`` for which ``cond`` holds."""
    if cond.all is not None:
        ids = {s.enrolment_id for s in subjects}
        for c in cond.all:
            ids &= evaluate(session, c, [s for s in subjects if s.enrolment_id in ids], now)
        return ids
    if cond.any is not None:
        ids: set[int] = set()
        for c in cond.any:
            ids |= evaluate(session, c, [s for s in subjects if s.enrolment_id not in ids], now)
        return ids
    if cond.not_ is not None:
        return {s.enrolment_id for s in subjects} - evaluate(session, cond.not_, subjects, now)
    contacts = sorted({s.contact_id for s in subjects})
    if cond.has_tag is not None:
        hit = _contacts(
            session,
            contacts,
            lambda ch: (
                select(ContactTag.contact_id)
                .join(Tag, Tag.id == ContactTag.tag_id)
                .where(Tag.key == cond.has_tag, ContactTag.contact_id.in_(ch))
            ),
        )
        return {s.enrolment_id for s in subjects if s.contact_id in hit}
    if cond.segment is not None:
        hit = _contacts(
            session,
            contacts,
            lambda ch: (
                select(SegmentMember.contact_id)
                .join(Segment, Segment.id == SegmentMember.segment_id)
                .where(Segment.key == cond.segment, SegmentMember.contact_id.in_(ch))
            ),
        )
        return {s.enrolment_id for s in subjects if s.contact_id in hit}
    if cond.stage is not None:
        hit = _contacts(
            session,
            contacts,
            lambda ch: select(ContactStage.contact_id).where(
                ContactStage.stage == cond.stage, ContactStage.contact_id.in_(ch)
            ),
        )
        return {s.enrolment_id for s in subjects if s.contact_id in hit}
    if cond.attribute is not None:
        values: dict[int, object] = {}
        for ch in chunked(contacts):
            values.update(
                session.execute(
                    select(ContactAttribute.contact_id, ContactAttribute.value).where(
                        ContactAttribute.name == cond.attribute.property, ContactAttribute.contact_id.in_(ch)
                    )
                ).all()
            )
        f = cond.attribute
        return {
            s.enrolment_id
            for s in subjects
            if property_matches(f, {f.property: values[s.contact_id]} if s.contact_id in values else {})
        }
    if cond.event is not None:
        return _events(session, cond.event, subjects, now)
    if cond.clicked is not None:
        ids = [s.enrolment_id for s in subjects]
        hit_e: set[int] = set()
        for ch in chunked(ids):
            q = select(OutboxMessage.enrolment_id).where(
                OutboxMessage.enrolment_id.in_(ch), OutboxMessage.clicked_at.is_not(None)
            )
            if isinstance(cond.clicked, str):
                q = q.where(OutboxMessage.step == cond.clicked)
            hit_e.update(session.scalars(q))
        return hit_e
    raise AssertionError("unreachable: the schema requires one condition")  # pragma: no cover


def _contacts(session: Session, contacts: list[int], query) -> set[int]:  # type: ignore[no-untyped-def]
    out: set[int] = set()
    for ch in chunked(contacts):
        out.update(session.scalars(query(ch)))
    return out


def _events(session: Session, cond: EventCondition, subjects: Sequence[Subject], now: datetime) -> set[int]:
    """Counts ``cond.name`` events per enrolment since its entry (or within the window)."""
    earliest = min(
        (now - timedelta(seconds=cond.within)) if cond.within is not None else s.entered_at for s in subjects
    )
    by_contact: dict[int, list[tuple[datetime, dict]]] = defaultdict(list)
    for ch in chunked(sorted({s.contact_id for s in subjects})):
        for cid, ts, props in session.execute(
            select(Event.contact_id, Event.timestamp, Event.properties).where(
                Event.contact_id.in_(ch), Event.event == cond.name, Event.timestamp >= earliest
            )
        ):
            if all(property_matches(f, props) for f in cond.where):
                by_contact[cid].append((ts, props))
    out = set()
    for s in subjects:
        since = (now - timedelta(seconds=cond.within)) if cond.within is not None else s.entered_at
        if sum(1 for ts, _ in by_contact.get(s.contact_id, ()) if ts >= since) >= cond.min_count:
            out.add(s.enrolment_id)
    return out
