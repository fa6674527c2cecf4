"""WeCom inflow: the callback inbox and the corp-tag mapping.

The inbox is what makes "answer ``success`` within 5 s, process durably after" safe: the
receiver commits the decrypted event here before answering, and processing (right after, and
by the background sweep for anything a crash left) works from these rows. ``dedup_key`` is a
hash of the decrypted event, unique per provider, so WeCom's retries and replays of a captured
request are stored once and processed once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class WeComCallback(Base):
    """One received callback event. ``status``: ``pending`` (to process), ``done``,
    ``unhandled`` (no handler for this event: kept for the record), ``failed`` (gave up after
    the maximum attempts; an operator can retry it)."""

    __tablename__ = "wecom_callbacks"
    __table_args__ = (
        UniqueConstraint("provider_key", "dedup_key"),
        Index("ix_wecom_callbacks_status_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64), default="")
    change_type: Mapped[str] = mapped_column(String(64), default="")
    payload: Mapped[dict] = mapped_column(Json, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WeComCorpTag(Base):
    """A WeCom corp tag (企业标签) and the siyu tag it stands for. siyu's tag key is
    ``group/name``; a WeCom tag lives in a tag group, so the natural mapping is group name →
    siyu group, tag name → siyu name."""

    __tablename__ = "wecom_corp_tags"
    __table_args__ = (UniqueConstraint("provider_key", "tag_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    tag_id: Mapped[str] = mapped_column(String(128))
    group_id: Mapped[str] = mapped_column(String(128))
    group_name: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(100))
    siyu_tag_id: Mapped[int | None] = mapped_column(ForeignKey("tags.id"), nullable=True, index=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
