"""The community pyramid (1% / 9% / 90%): each contact's role per customer group and brand-wide,
as last computed by the daily ranking (``siyu.community.pyramid``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class CommunityRole(Base):
    """One contact's place in one pyramid. ``group_id`` 0 is the brand-wide pyramid (not a
    foreign key for that reason). Rows of a scope are replaced as a whole by each ranking, so a
    merge that leaves two rows for one contact heals at the next run."""

    __tablename__ = "community_roles"
    __table_args__ = (Index("ix_community_roles_scope", "group_id", "role"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(BigId, default=0)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    # "seed" (种子用户, top 1%), "koc" (next 9%) or "member" (成员, the rest).
    role: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer, default=0)
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMessageSend(Base):
    """One bulk message (``add_msg_template`` with ``chat_type`` group) that included a group,
    so the per-group monthly limit (as many as the Beijing month has days) is honoured before
    calling WeCom. ``month`` is the Beijing calendar month, ``YYYY-MM``."""

    __tablename__ = "group_message_sends"
    __table_args__ = (
        UniqueConstraint("group_id", "msgid"),
        Index("ix_group_message_sends_month", "group_id", "month"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    msgid: Mapped[str] = mapped_column(String(128))
    month: Mapped[str] = mapped_column(String(7))
    # what sent it: "manual", or "sop:<key>" for a group SOP
    source: Mapped[str] = mapped_column(String(80), default="manual")
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupSop(Base):
    """A group SOP (群SOP): timed group messages for the groups a trigger selects —
    ``group_created`` (day N after a group is created), ``joined_code`` (day N after a group is
    put on the live code ``state``) or ``schedule`` (every day, or every week on ``weekday``)."""

    __tablename__ = "group_sops"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provider_key: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))
    state: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # [{"day": 0, "at": "09:00", "text": ..., "attachments": [...]}] (schedule: "every", "weekday")
    steps: Mapped[list] = mapped_column(Json, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupSopRun(Base):
    """One step of a group SOP for one group: due, then sent / limited / failed. ``step`` is the
    step's index, or for a schedule the occurrence's Beijing date and the step's index as
    YYYYMMDD × 100 + index."""

    __tablename__ = "group_sop_runs"
    __table_args__ = (
        UniqueConstraint("sop_id", "group_id", "step"),
        Index("ix_group_sop_runs_due", "sent_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sop_id: Mapped[int] = mapped_column(ForeignKey("group_sops.id"))
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"))
    step: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="due")
    msgid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
