"""Knowing and layering customers: tags, segments, journey stages, RFM scores, and the change
log that tells the warehouse which contacts' state to re-ship.

Tables keyed by (contact, something) use ``info={"merge": "keep_survivor"}``: on a merge the
absorbed contact's rows move to the survivor unless the survivor already has a row with the
same key, in which case the survivor's row wins and the absorbed one is dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

KEEP_SURVIVOR = {"merge": "keep_survivor"}


class ContactChange(Base):
    """Append-only log: "this contact's profile state changed". The warehouse feeder re-ships
    the tags, attributes, consent, touches, stage, RFM and segment memberships of every contact
    named here since its cursor (ids, like events, so no change is shipped twice or missed)."""

    __tablename__ = "contact_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigId)  # no FK: absorbed contacts are logged too
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Setting(Base):
    """Editable capability settings stored as JSON (RFM segment rules, stage rules, …)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- tags ---------------------------------------------------------------------------------------
class TagGroup(Base):
    __tablename__ = "tag_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    #: At most one tag of an exclusive group per contact (e.g. "age band").
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    """A label. Its key is ``group/name``; the group is optional (``name`` alone)."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("key", name="uq_tags_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(201))
    name: Mapped[str] = mapped_column(String(100))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("tag_groups.id"), nullable=True)
    #: Weights halve every ``half_life_days`` since they were last set (None: no decay).
    half_life_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactTag(Base):
    __tablename__ = "contact_tags"
    __table_args__ = (Index("ix_contact_tags_tag", "tag_id"), {"info": KEEP_SURVIVOR})

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    #: Weight when last set; the effective weight decays from ``weighted_at``.
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    source: Mapped[str] = mapped_column(String(16))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    weighted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TagChange(Base):
    """History of every tag change with its source (manual/rule/keyword/import/journey/segment)."""

    __tablename__ = "tag_changes"
    __table_args__ = (Index("ix_tag_changes_contact", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"))
    action: Mapped[str] = mapped_column(String(8))  # added / removed / weighted
    weight: Mapped[float | None] = mapped_column(Float, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TagRule(Base):
    """Automatic tagging. ``kind`` is ``event`` (an event with property filters adds the tag,
    the tag name may come from a property) or ``keyword`` (words in inbound message text)."""

    __tablename__ = "tag_rules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]] = mapped_column(Json)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- segments -----------------------------------------------------------------------------------
class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))  # dynamic / static
    #: A tag kept in sync with membership: added on entry, removed on exit (source "segment").
    tag_key: Mapped[str | None] = mapped_column(String(201), nullable=True)
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: Warehouse cursors of the last computation (events id, contact_changes id), for the
    #: incremental recompute.
    cursor: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Bumped by every edit; each version's name and definition stay in ``segment_versions``.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SegmentVersion(Base):
    """One saved version of a segment (the first is its creation): who changed what, when."""

    __tablename__ = "segment_versions"
    __table_args__ = (UniqueConstraint("segment_id", "version", name="uq_segment_versions"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    tag_key: Mapped[str | None] = mapped_column(String(201), nullable=True)
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    actor: Mapped[str] = mapped_column(String(200))
    members: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SegmentMember(Base):
    __tablename__ = "segment_members"
    __table_args__ = (Index("ix_segment_members_contact", "contact_id"), {"info": KEEP_SURVIVOR})

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- journey stages and RFM ----------------------------------------------------------------------
class ContactStage(Base):
    __tablename__ = "contact_stages"
    __table_args__ = (Index("ix_contact_stages_stage", "stage"), {"info": KEEP_SURVIVOR})

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StageChange(Base):
    __tablename__ = "stage_changes"
    __table_args__ = (Index("ix_stage_changes_contact", "contact_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    from_stage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactRfm(Base):
    __tablename__ = "contact_rfm"
    __table_args__ = (Index("ix_contact_rfm_segment", "segment"), {"info": KEEP_SURVIVOR})

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    recency_days: Mapped[float] = mapped_column(Float)
    frequency: Mapped[int] = mapped_column(Integer)
    monetary: Mapped[float] = mapped_column(Float)
    r: Mapped[int] = mapped_column(Integer)
    f: Mapped[int] = mapped_column(Integer)
    m: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
