"""Every query of the journeys capability that is not a condition or a fact lookup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, literal_column, select, update
from sqlalchemy.orm import Session

from siyu.store.models import Journey, JourneyEnrolment, JourneyStepRun

ENROLMENT_COLUMNS = (
    JourneyEnrolment.id,
    JourneyEnrolment.journey_id,
    JourneyEnrolment.contact_id,
    JourneyEnrolment.step,
    JourneyEnrolment.due_at,
    JourneyEnrolment.wait_event,
    JourneyEnrolment.variants,
    JourneyEnrolment.data,
    JourneyEnrolment.entered_at,
)
_UPDATE = (
    update(JourneyEnrolment.__table__)
    .where(JourneyEnrolment.__table__.c.id == bindparam("_id"))
    .values(
        status=bindparam("status"),
        step=bindparam("step"),
        due_at=bindparam("due_at"),
        wait_event=bindparam("wait_event"),
        variants=bindparam("variants"),
        data=bindparam("data"),
        finished_at=bindparam("finished_at"),
        exit_reason=bindparam("exit_reason"),
    )
)


class JourneyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def by_key(self, key: str) -> Journey | None:
        return self.session.scalar(select(Journey).where(Journey.key == key))

    def active(self) -> list[Journey]:
        return list(
            self.session.scalars(select(Journey).where(Journey.status == "active").order_by(Journey.id))
        )

    def all(self) -> list[Journey]:
        return list(self.session.scalars(select(Journey).order_by(Journey.id)))

    def claim_due(self, now: datetime, journey_ids: Sequence[int], limit: int) -> list[Any]:
        """Due enrolments of running journeys, oldest first. On PostgreSQL the rows stay locked
        (``FOR UPDATE SKIP LOCKED``) until the claiming transaction ends, so any number of
        workers share the work without running a step twice; SQLite has one writer at a time
        (``BEGIN IMMEDIATE``). The literal ``status = 'active'`` lets SQLite use the partial
        index."""
        if not journey_ids:
            return []
        q = (
            select(*ENROLMENT_COLUMNS)
            .where(
                JourneyEnrolment.status == literal_column("'active'"),
                JourneyEnrolment.due_at <= now,
                JourneyEnrolment.journey_id.in_(list(journey_ids)),
            )
            .order_by(JourneyEnrolment.due_at)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            q = q.with_for_update(skip_locked=True)
        return list(self.session.execute(q).all())

    def save(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.session.execute(_UPDATE, rows)

    def log(self, runs: list[dict[str, Any]]) -> None:
        if runs:
            self.session.execute(insert(JourneyStepRun.__table__), runs)

    def history(self, journey_id: int, contact_ids: Sequence[int]) -> dict[int, tuple[int, datetime, str]]:
        """Per contact: (enrolments so far, newest entry time, newest status)."""
        out: dict[int, tuple[int, datetime, str]] = {}
        for i in range(0, len(contact_ids), 500):
            chunk = list(contact_ids[i : i + 500])
            counts = dict(
                self.session.execute(
                    select(JourneyEnrolment.contact_id, func.count())
                    .where(JourneyEnrolment.journey_id == journey_id, JourneyEnrolment.contact_id.in_(chunk))
                    .group_by(JourneyEnrolment.contact_id)
                ).all()
            )
            if not counts:
                continue
            for cid, entered, status in self.session.execute(
                select(JourneyEnrolment.contact_id, JourneyEnrolment.entered_at, JourneyEnrolment.status)
                .where(JourneyEnrolment.journey_id == journey_id, JourneyEnrolment.contact_id.in_(chunk))
                .order_by(JourneyEnrolment.entered_at)
            ):
                out[cid] = (int(counts[cid]), entered, status)
        return out
