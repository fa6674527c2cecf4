"""What happened with one contact, for the 360° profile: the events they did and the messages
journeys sent them, merged into one list (newest first), and the journeys they are in.

Events and messages live in different tables (``events`` and the journey ``outbox``); each is
read newest first with the same limit and the two lists are merged, so the newest ``limit``
items overall are always among what was read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.profiles import views
from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.detect import PiiDetector
from siyu.profiles.service import ProfileService
from siyu.rfm.repository import RfmRepository
from siyu.stages.service import StageService
from siyu.store.models import Event, Journey, JourneyEnrolment, OutboxMessage
from siyu.tags.service import TagService


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def timeline(
    session: Session, contact_id: int, limit: int = 50, pii: PiiDetector = DEFAULT_DETECTOR
) -> list[dict[str, Any]]:
    """Events and messages of the contact, newest first, at most ``limit``. Event properties
    are masked again (``pii``) in case they were stored before every alias was detected."""
    items: list[dict[str, Any]] = []
    for e in session.scalars(
        select(Event)
        .where(Event.contact_id == contact_id)
        .order_by(Event.timestamp.desc(), Event.id.desc())
        .limit(limit)
    ):
        items.append(
            {
                "kind": "event",
                "at": _aware(e.timestamp),
                "type": e.type,
                "name": e.event or e.type,
                "properties": pii.scrub(e.properties) or {},
            }
        )
    journeys = {j.id: j.key for j in session.scalars(select(Journey))}
    for m in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.contact_id == contact_id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
    ):
        items.append(
            {
                "kind": "message",
                "at": _aware(m.created_at),
                "channel": m.channel,
                "status": m.status,
                "journey": journeys.get(m.journey_id) if m.journey_id else None,
                "step": m.step,
                "template": m.template,
                "transactional": m.transactional,
                "sent_at": _aware(m.sent_at) if m.sent_at else None,
                "error": pii.scrub_value(m.error),  # a provider's reason may quote the number
            }
        )
    items.sort(key=lambda i: i["at"], reverse=True)
    return items[:limit]


def enrolments(session: Session, contact_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The contact's journey enrolments, active ones first, then newest first."""
    rows = session.execute(
        select(JourneyEnrolment, Journey.key, Journey.name, Journey.status)
        .join(Journey, Journey.id == JourneyEnrolment.journey_id)
        .where(JourneyEnrolment.contact_id == contact_id)
        .order_by(JourneyEnrolment.entered_at.desc(), JourneyEnrolment.id.desc())
        .limit(limit)
    ).all()
    out = [
        {
            "journey": key,
            "journey_name": name,
            "journey_status": jstatus,
            "status": e.status,
            "step": e.step,
            "wait_event": e.wait_event,
            "due_at": _aware(e.due_at) if e.due_at else None,
            "entered_at": _aware(e.entered_at),
            "finished_at": _aware(e.finished_at) if e.finished_at else None,
            "exit_reason": e.exit_reason,
        }
        for e, key, name, jstatus in rows
    ]
    out.sort(key=lambda r: r["status"] != "active")  # stable: keeps newest first within each
    return out


def profile_360(
    session: Session,
    profiles: ProfileService,
    contact_id: int,
    reveal: bool = False,
    actor: str = "system",
    limit: int = 50,
) -> dict[str, Any]:
    """Everything the profile page shows, in one unit of work: the profile (identities masked
    unless ``reveal``, which is audited by :func:`views.profile`), tags with sources and
    weights, stage and its history, RFM scores, journey enrolments and the timeline."""
    data = views.profile(session, profiles, contact_id, reveal=reveal, actor=actor, recent_events=0)
    tags = TagService(session)
    stages = StageService(session)
    rfm = RfmRepository(session).get(contact_id)
    data.update(
        tags=tags.of(contact_id),
        tag_history=tags.history(contact_id)[-limit:][::-1],
        stage=stages.stage_of(contact_id),
        stage_history=stages.history(contact_id)[::-1],
        rfm=None
        if rfm is None
        else {
            "r": rfm.r,
            "f": rfm.f,
            "m": rfm.m,
            "segment": rfm.segment,
            "recency_days": rfm.recency_days,
            "frequency": rfm.frequency,
            "monetary": rfm.monetary,
            "computed_at": _aware(rfm.computed_at),
        },
        enrolments=enrolments(session, contact_id),
        timeline=timeline(session, contact_id, limit, profiles.pii),
    )
    return data
