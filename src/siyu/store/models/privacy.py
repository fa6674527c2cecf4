"""PIPL rights (个人信息保护法 arts. 44–47): deletion receipts, the hashed do-not-contact list
and the warehouse erasures still to apply.

None of these tables holds a clear identifier or a ``contact_id`` column: a deleted person is
named only by a random deletion id, and the do-not-contact list only by blind indexes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class PrivacyDeletion(Base):
    """The receipt of one erasure: when, by whom, how many rows of each kind went, and a hash
    over those facts so a printed receipt can be checked against the stored one."""

    __tablename__ = "privacy_deletions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    deletion_id: Mapped[str] = mapped_column(String(40), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    counts: Mapped[dict[str, Any]] = mapped_column(Json)
    digest: Mapped[str] = mapped_column(String(64))


class DoNotContact(Base):
    """A person who must not get marketing on ``channel`` (``*``: any channel) until they
    consent again. ``lookup`` is the keyring's blind index (HMAC) of the identifier, never the
    value; ``reason`` is ``deleted``, ``unsubscribed`` or ``manual``."""

    __tablename__ = "do_not_contact"
    __table_args__ = (Index("uq_do_not_contact_entry", "type", "lookup", "channel", unique=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    lookup: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32), default="*")
    reason: Mapped[str] = mapped_column(String(16))
    deletion_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WarehouseErasure(Base):
    """Contacts erased from the system of record whose warehouse rows the feeder has yet to
    delete (DuckDB has one writer: the deleting request cannot reach into it). The feeder
    deletes this row once it has applied it, so the erased ids do not outlive the erasure."""

    __tablename__ = "warehouse_erasures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    deletion_id: Mapped[str] = mapped_column(String(40))
    #: the erased contact ids (not a ``contact_id`` column: no row here is anyone's data)
    erased_ids: Mapped[list[int]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
