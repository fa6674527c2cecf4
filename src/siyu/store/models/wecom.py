"""WeCom inflow and communities: staff (导购), the customer–staff follow relation (企微好友),
customer groups (客户群) with their members, and group live codes (群活码).

Rows are keyed by the provider (a brand may run more than one corp) and WeCom's own ids, so a
sync or a repeated callback updates instead of duplicating. Tables with ``contact_id`` follow
merges and erasure automatically (see ``profiles.repository.owned_tables``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow


class WeComStaff(Base):
    """A member of the corp who can own customers and groups (导购 / 客户经理)."""

    __tablename__ = "wecom_staff"
    __table_args__ = (UniqueConstraint("provider_key", "userid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    userid: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    departments: Mapped[list] = mapped_column(Json, default=list)
    # WeCom's user status: 1 active, 2 disabled, 4 not yet activated, 5 left the corp.
    status: Mapped[int] = mapped_column(Integer, default=1)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContactFollow(Base):
    """One staff member's relation with one external contact (``follow_user`` in WeCom).

    A contact can have several; ``deleted_at``/``deleted_by`` record who ended it:
    ``staff`` (del_external_contact) or ``customer`` (del_follow_user, i.e. 流失)."""

    __tablename__ = "contact_follows"
    __table_args__ = (
        UniqueConstraint("provider_key", "staff_userid", "external_userid"),
        Index("ix_contact_follows_staff_added", "provider_key", "staff_userid", "added_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    staff_userid: Mapped[str] = mapped_column(String(64))
    external_userid: Mapped[str] = mapped_column(String(128), index=True)
    remark: Mapped[str | None] = mapped_column(String(200), nullable=True)
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    added_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # WeCom's add_way (1 scanned a QR, 2 phone search, … 202 by a 联系我 code …).
    add_way: Mapped[int | None] = mapped_column(Integer, nullable=True)
    state: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    oper_userid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Corp tag ids WeCom reports on this relation (mapped to siyu tags by the corp-tag sync).
    corp_tags: Mapped[list] = mapped_column(Json, default=list)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    deleted_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CustomerGroup(Base):
    """A WeCom customer group (客户群), run as a community."""

    __tablename__ = "customer_groups"
    __table_args__ = (UniqueConstraint("provider_key", "chat_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    owner_userid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    notice: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    member_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # WeCom's groupchat/list status: 0 normal, 1 owner left, 2 inheriting, 3 inherited.
    status: Mapped[int] = mapped_column(Integer, default=0)
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GroupMember(Base):
    """A member of a customer group: staff (type 1, ``userid``) or external (type 2, resolved to
    a contact). A member who leaves keeps the row with ``left_at``; rejoining reopens it."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "member_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("customer_groups.id"), index=True)
    # WeCom's member userid: a staff userid or an external_userid.
    member_id: Mapped[str] = mapped_column(String(128))
    member_type: Mapped[int] = mapped_column(Integer, default=2)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    unionid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    nickname: Mapped[str | None] = mapped_column(String(200), nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # WeCom's join_scene: 1 invited directly, 2 by link, 3 by QR.
    join_scene: Mapped[int | None] = mapped_column(Integer, nullable=True)
    inviter_userid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The group live code's state the member came through, when known.
    state: Mapped[str | None] = mapped_column(String(64), nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # WeCom's quit_scene: 0 left by themselves, 1 removed.
    quit_scene: Mapped[int | None] = mapped_column(Integer, nullable=True)


class GroupJoinWay(Base):
    """A group live code (群活码): one QR that admits scans to up to 5 groups; full groups are
    swapped out by ``update_join_way`` before WeCom's 500-member limit."""

    __tablename__ = "group_join_ways"
    __table_args__ = (UniqueConstraint("provider_key", "config_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    config_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(30), unique=True)
    scene: Mapped[int] = mapped_column(Integer, default=2)
    auto_create_room: Mapped[int] = mapped_column(Integer, default=1)
    room_base_name: Mapped[str | None] = mapped_column(String(40), nullable=True)
    room_base_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    chat_ids: Mapped[list] = mapped_column(Json, default=list)
    swap_threshold: Mapped[int] = mapped_column(Integer, default=480)
    qr_code: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    tags: Mapped[list] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GroupJoinWayChange(Base):
    """History of which groups a live code listed: one row per group per period."""

    __tablename__ = "group_join_way_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    join_way_id: Mapped[int] = mapped_column(ForeignKey("group_join_ways.id"), index=True)
    chat_id: Mapped[str] = mapped_column(String(128))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why it left the code: "full" (reached the threshold), "dismissed", "operator".
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class GroupDailyStat(Base):
    """``groupchat/statistic_group_by_day`` for one owner (or the whole corp, owner "") and day."""

    __tablename__ = "group_daily_stats"
    __table_args__ = (UniqueConstraint("provider_key", "owner_userid", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_key: Mapped[str] = mapped_column(String(64))
    owner_userid: Mapped[str] = mapped_column(String(64), default="")
    day: Mapped[date] = mapped_column(Date)
    new_chat_cnt: Mapped[int] = mapped_column(Integer, default=0)
    chat_total: Mapped[int] = mapped_column(Integer, default=0)
    chat_has_msg: Mapped[int] = mapped_column(Integer, default=0)
    new_member_cnt: Mapped[int] = mapped_column(Integer, default=0)
    member_total: Mapped[int] = mapped_column(Integer, default=0)
    member_has_msg: Mapped[int] = mapped_column(Integer, default=0)
    msg_total: Mapped[int] = mapped_column(Integer, default=0)
