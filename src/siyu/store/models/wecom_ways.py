"""WeCom sync runs and customer transfers (继承): the progress of a staff/customer sync, and
each ``transfer_customer`` request with its outcome, so the documented "a customer moves at most
twice in 90 days" can be checked before WeCom refuses it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, UTCDateTime, utcnow


class WeComSyncRun(Base):
    """One sync of staff and existing customers from a WeCom provider, updated as it goes."""

    __tablename__ = "wecom_sync_runs"
    __table_args__ = (Index("ix_wecom_sync_runs_provider", "provider_key", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    # ``full`` writes every relation and closes those WeCom no longer lists; ``incremental``
    # writes only relations not yet known or changed since the last run.
    mode: Mapped[str] = mapped_column(String(16), default="full")
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | done | failed
    staff_total: Mapped[int] = mapped_column(Integer, default=0)
    staff_done: Mapped[int] = mapped_column(Integer, default=0)
    follows_seen: Mapped[int] = mapped_column(Integer, default=0)
    follows_written: Mapped[int] = mapped_column(Integer, default=0)
    follows_closed: Mapped[int] = mapped_column(Integer, default=0)
    contacts_created: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    rate_limited: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set at every progress save: a ``running`` row without a beat for STALE_AFTER was killed.
    beat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WeComTransfer(Base):
    """One customer handed from one staff member to another (``transfer_customer``)."""

    __tablename__ = "wecom_transfers"
    __table_args__ = (
        Index("ix_wecom_transfers_customer", "provider_key", "external_userid", "requested_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    handover_userid: Mapped[str] = mapped_column(String(64))
    takeover_userid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(128))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    # waiting (WeCom accepted, the customer has 24 h to object) | success | refused (the
    # customer objected) | failed (WeCom or siyu refused; ``reason`` says why)
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    errcode: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    takeover_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
