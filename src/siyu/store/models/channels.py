"""Channels (渠道), entry codes (活码 / 获客链接), ingest sources and touches (触点)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, true
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

CHANNEL_KINDS: tuple[str, ...] = (
    "wecom",
    "wechat_group",
    "official_account",
    "mini_program",
    "app",
    "sms",
    "email",
    "store",
    "douyin",
    "taobao",
    "kuaishou",
    "xiaohongshu",
    "weibo",
    "ads",
    "other",
)


class Channel(Base):
    """A source or carrier a contact can come through or be reached on."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EntryCode(Base):
    """An entry code or acquisition link; its ``state`` comes back with every contact it brings."""

    __tablename__ = "entry_codes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    # WeCom limits `state` to 30 characters; we keep the same bound so codes are portable.
    state: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    campaign: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # What the code is on the provider's side: a plain link/QR of ours (``url``), a WeCom
    # 联系我 contact way (``contact_way``) or a 获客助手 link (``acquisition_link``).
    kind: Mapped[str] = mapped_column(String(32), default="url", server_default="url")
    # The WeCom provider and staff (userids) a contact way or acquisition link belongs to.
    provider_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    staff: Mapped[list] = mapped_column(Json, default=list)
    skip_verify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Sent through send_welcome_msg when a customer is added through this code.
    welcome_template: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Tag keys applied (locally and through mark_tag) to everyone this code brings.
    tags: Mapped[list] = mapped_column(Json, default=list)
    # The provider's handle and picture: contact way config_id + qr_code, or link_id + url.
    config_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    qr_code: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Source(Base):
    """An ingest source: SDKs send its write key as the HTTP basic-auth user."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    write_key: Mapped[str] = mapped_column(String(64), unique=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), nullable=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Touch(Base):
    """One contact's contact with a channel: first touch and every later one."""

    __tablename__ = "touches"
    __table_args__ = (Index("ix_touches_contact_channel", "contact_id", "channel_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    entry_code_id: Mapped[int | None] = mapped_column(ForeignKey("entry_codes.id"), nullable=True)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), nullable=True)
    is_first: Mapped[bool] = mapped_column(Boolean, default=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
