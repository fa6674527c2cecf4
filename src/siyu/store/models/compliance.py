"""Consent ledger and audit log (PIPL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class ConsentRecord(Base):
    """One grant or withdrawal. The ledger is append-only; the current state is the newest
    record per (contact, purpose, channel), with channel ``*`` meaning every channel."""

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_contact_purpose", "contact_id", "purpose", "channel", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(100))
    evidence: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only record of merges, writes and PII reveals, chained by hash: ``seq`` is the
    entry's place in the chain and ``hash`` covers the entry and ``prev_hash`` (the hash of the
    entry before it), so an edited or removed entry shows (``siyu.audit.chain``). Both are set
    when the writing transaction commits; ``seq`` rather than ``id`` orders the chain because
    PostgreSQL ids can commit out of order."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_target", "target_type", "target_id"),
        Index("uq_audit_log_seq", "seq", unique=True),
        # The few entries not chained yet, found at every audited commit without a scan.
        Index(
            "ix_audit_log_unchained",
            "id",
            sqlite_where=text("seq IS NULL"),
            postgresql_where=text("seq IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str | None] = mapped_column(String(50), nullable=True)
    target_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class WarehouseRemoval(Base):
    """Events removed from the system of record by retention that the warehouse must remove
    too (deleted contacts go through ``warehouse_erasures``, which also rewrites the file). The
    feeder follows this log by id like the events, so a removal made
    while another process holds the warehouse still reaches it, and replaying one is harmless.

    ``kind`` ``events``: ``criteria`` = ``{"after_id", "through_id", "before", "event",
    "except"}`` — the events with ids in (after_id, through_id] whose time is before ``before``
    (ISO, UTC), named ``event`` (``null``: any name except those in ``except``).
    """

    __tablename__ = "warehouse_removals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    criteria: Mapped[dict[str, Any]] = mapped_column(Json)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
