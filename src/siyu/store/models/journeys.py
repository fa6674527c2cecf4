"""Journeys (SOP / 旅程), per-contact enrolments, the step log the report counts, and the
outbox that makes every send exactly-once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class Journey(Base):
    """A journey definition and its run state (draft → active ⇄ paused → archived).
    ``state`` keeps trigger bookkeeping (last broadcast, last date run)."""

    __tablename__ = "journeys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JourneyVersion(Base):
    """Each saved version of a journey's document, with who saved it and when, so an operator
    can see what changed and read a past version (the journey row holds only the current one).
    Journeys made before this table existed get their first row when next saved."""

    __tablename__ = "journey_versions"
    __table_args__ = (Index("uq_journey_versions_version", "journey_id", "version", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyEnrolment(Base):
    """One contact's pass through a journey. ``step`` is the step to run next, at ``due_at``
    (None while waiting only for an event, or when finished). ``trigger_key`` is unique per
    journey: the triggering event's message id, or the business key (``order_id``) of a keyed
    trigger, so the same occurrence never enrols twice."""

    __tablename__ = "journey_enrolments"
    __table_args__ = (
        Index("uq_journey_enrolments_trigger", "journey_id", "trigger_key", unique=True),
        Index("ix_journey_enrolments_contact", "contact_id", "journey_id"),
        # One active enrolment per contact and journey, enforced even for concurrent enrolments.
        Index(
            "uq_journey_enrolments_active",
            "journey_id",
            "contact_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "ix_journey_enrolments_due",
            "due_at",
            sqlite_where=text("status = 'active' AND due_at IS NOT NULL"),
            postgresql_where=text("status = 'active' AND due_at IS NOT NULL"),
        ),
        Index(
            "ix_journey_enrolments_waiting",
            "wait_event",
            sqlite_where=text("wait_event IS NOT NULL"),
            postgresql_where=text("wait_event IS NOT NULL"),
        ),
        # On a merge, the absorbed contact's active run of a journey the survivor is also in
        # is closed (the survivor's goes on); everything else moves to the survivor.
        {
            "info": {
                "merge": "close_clashing",
                "clash": ("journey_id",),
                "close": {"status": "exited", "exit_reason": "merged", "due_at": None},
            }
        },
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(ForeignKey("journeys.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    trigger_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|completed|exited|converted
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wait_event: Mapped[str | None] = mapped_column(String(200), nullable=True)
    variants: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    exit_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class JourneyStepRun(Base):
    """What happened at a step for an enrolment: ``entered`` each time the step runs, then an
    outcome (``sent``, ``skipped_cap``, ``held_quiet``, ``skipped_consent``, ``failed``,
    ``converted``, a branch or split result …). The report counts these."""

    __tablename__ = "journey_step_runs"
    __table_args__ = (Index("ix_journey_step_runs_journey", "journey_id", "step", "outcome"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    journey_id: Mapped[int] = mapped_column(BigId)
    enrolment_id: Mapped[int] = mapped_column(BigId, index=True)
    contact_id: Mapped[int] = mapped_column(BigId)
    step: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    variant: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxMessage(Base):
    """A message to send, written in the same transaction as the journey state change that
    decided it. ``key`` is the idempotency key ``journey:contact:enrolment:step``; the
    dispatcher moves it pending → sending → sent → delivered (or failed), passing the key to
    the provider. ``local_day`` / ``local_week`` (the contact's calendar, ISO week) make
    frequency caps one indexed count."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            sqlite_where=text("status IN ('pending', 'sending')"),
            postgresql_where=text("status IN ('pending', 'sending')"),
        ),
        Index("ix_outbox_contact_day", "contact_id", "local_day"),
        Index("ix_outbox_provider_message", "provider_message_id"),
        Index("ix_outbox_journey_step", "journey_id", "step"),
        Index("ix_outbox_sent_at", "sent_at"),  # the dashboard's "sent today"
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    journey_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    enrolment_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    variant: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(64), nullable=True)
    template: Mapped[str | None] = mapped_column(String(64), nullable=True)
    transactional: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    provider_message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    local_day: Mapped[str] = mapped_column(String(10))
    local_week: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: When retention blanked ``content`` (the rendered body); the row stays for exactly-once
    #: (its key) and the counts.
    content_removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
