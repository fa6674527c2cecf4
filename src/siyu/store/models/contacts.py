"""Contacts (用户画像), their identities and attributes, and the merge history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class Contact(Base):
    """One customer. An absorbed contact keeps its row with ``merged_into_id`` set, so old ids
    held by other systems still resolve to the survivor."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    first_channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), nullable=True)
    first_entry_code_id: Mapped[int | None] = mapped_column(ForeignKey("entry_codes.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Identity(Base):
    """An identifier of a contact.

    ``lookup`` is what uniqueness and search use: for PII types (phone, email) it is an HMAC
    blind index and the value itself lives only encrypted in ``value_enc``; for other types it is
    the normalised value, also kept in ``value``.
    """

    __tablename__ = "identities"
    __table_args__ = (
        UniqueConstraint("lookup", "type", "scope", name="uq_identities_lookup_type_scope"),
        Index("ix_identities_last4", "last4"),
        {"info": {"merge": "custom"}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    # Scope: the app id for wechat_openid (an openid is unique only within one app), else "".
    scope: Mapped[str] = mapped_column(String(64), default="")
    lookup: Mapped[str] = mapped_column(String(256))
    value: Mapped[str | None] = mapped_column(String(256), nullable=True)
    value_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Blind index of a phone's last four digits (store staff look customers up by 尾号); ""
    #: for other types, NULL until :func:`siyu.profiles.keys.backfill_last4` has seen the row.
    last4: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ContactAttribute(Base):
    """A trait; ``updated_at`` is the time of the message that set it (newest non-empty wins)."""

    __tablename__ = "contact_attributes"
    __table_args__ = ({"info": {"merge": "custom"}},)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactMerge(Base):
    """Who absorbed whom and why; the warehouse replays these to move events."""

    __tablename__ = "contact_merges"
    __table_args__ = (
        Index("ix_contact_merges_absorbed", "absorbed_id"),
        {"info": {"merge": "custom"}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    absorbed_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    reason: Mapped[str] = mapped_column(String(500))
    identifier_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
