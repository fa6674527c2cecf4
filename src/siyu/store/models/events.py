"""Events: the system-of-record copy the warehouse is fed from (and rebuilt from)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class Event(Base):
    """A track / identify / page / group call. ``message_id`` makes ingest idempotent."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), unique=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), nullable=True)
    type: Mapped[str] = mapped_column(String(16))
    event: Mapped[str | None] = mapped_column(String(200), nullable=True)
    properties: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    context: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


#: Column order shared by every bulk path (ingest, demo, warehouse).
EVENT_COLUMNS: tuple[str, ...] = tuple(c.name for c in Event.__table__.columns)

#: Events siyu itself writes when profile state changes. They are not customer activity: the
#: "any event" (``*``) of segment conditions and the activity rules of journey stages skip them.
SYSTEM_EVENTS: tuple[str, ...] = (
    "tag.added",
    "tag.removed",
    "segment.entered",
    "segment.exited",
    "stage.changed",
)


class EventDefinition(Base):
    """The event catalogue: what an event name and its property keys read as for operators
    (``Order Completed`` → 下单, ``amount`` → 金额, shown as money). Rows appear when an event is
    first seen (``siyu.events.service.EventCatalogue.learn``); the labels are edited by people.
    ``properties`` maps a property key to ``{"zh", "en", "kind"}`` (kind: money, number, text)."""

    __tablename__ = "event_definitions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    display_zh: Mapped[str | None] = mapped_column(String(100), nullable=True)
    display_en: Mapped[str | None] = mapped_column(String(100), nullable=True)
    summary_zh: Mapped[str | None] = mapped_column(String(200), nullable=True)
    summary_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    properties: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    volume: Mapped[int] = mapped_column(BigInteger, default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
