"""Content library (内容库), materials, tracked short links and channel providers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class ContentTemplate(Base):
    """A message template for one channel. ``body`` holds the channel's fields (each string a
    sandboxed Jinja2 template); ``variants`` maps a variant name to overrides of ``body`` for
    A/B tests. ``scenario``, ``stage`` and ``tags`` categorise it in the library."""

    __tablename__ = "content_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(32))
    scenario: Mapped[str | None] = mapped_column(String(64), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tags: Mapped[list[str]] = mapped_column(Json, default=list)
    body: Mapped[dict[str, Any]] = mapped_column(Json)
    variants: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    transactional: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Material(Base):
    """A reusable attachment: image, link card or mini-program card (素材)."""

    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | link | miniprogram
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MaterialFile(Base):
    """An uploaded image (a material's picture, a mini-program card's cover), kept in the
    database so every server of an installation serves it and backups include it. ``id`` is
    the SHA-256 of the bytes: the same image uploaded twice is stored once."""

    __tablename__ = "material_files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShortLink(Base):
    """A tracked link ``/l/{code}``: who it was sent to and in which message, so a click becomes
    a ``link.clicked`` event of that contact and counts for that journey step."""

    __tablename__ = "short_links"
    __table_args__ = (Index("ix_short_links_outbox", "outbox_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    outbox_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    outbox_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    journey_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    step: Mapped[str | None] = mapped_column(String(64), nullable=True)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ChannelProvider(Base):
    """A configured provider account: WeCom corp, Aliyun / Tencent SMS, 5G message, SMTP,
    webhook. ``config`` holds the non-secret settings (``base_url``, sign name, sender …);
    secrets (corp secret, access key secret, SMTP password, webhook key) are encrypted with
    the PII keyring in ``secrets_enc``."""

    __tablename__ = "channel_providers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    secrets_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_per_s: Mapped[float] = mapped_column(Float, default=50.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
