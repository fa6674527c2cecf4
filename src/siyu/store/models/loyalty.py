"""Membership (会员), tiers, the points ledger, check-ins (签到), tasks and badges, and the
redemption catalogue.

The points ledger follows Odoo's and Open Loyalty's design: *the history is the balance*.
Every movement is one row of ``points_entries``; an award keeps how much of it is still
``remaining``; a spend, an expiry or a clawback draws from awards through ``points_draws``
(earliest expiry first), so every point can be traced from where it was earned to where it
went. Balances are sums of entries, never a counter that could drift; ``siyu loyalty verify``
proves the rows agree with each other.

One programme per brand (the first row of ``loyalty_programmes``), as 有赞 and most Chinese
shops run it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

KEEP_SURVIVOR = {"merge": "keep_survivor"}


class LoyaltyProgramme(Base):
    """The brand's programme settings. Validity strings follow Talon.One: ``30D``, ``12M``,
    ``1Y``, or ``end_of_next_year``; ``validity_by_source`` overrides the default per earning
    source (``{"signup": "30D", "order": "1Y"}``)."""

    __tablename__ = "loyalty_programmes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="会员积分")
    # ¥ a point is worth, for the liability report
    point_value: Mapped[Decimal] = mapped_column(Numeric(18, 4), default=Decimal("0.01"))
    # points per ¥1 paid, before the tier multiplier
    earn_per_yuan: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(1))
    signup_points: Mapped[int] = mapped_column(Integer, default=0)
    birthday_points: Mapped[int] = mapped_column(Integer, default=0)
    # order points stay pending this many days (the refund window); 0: active at once
    pending_days: Mapped[int] = mapped_column(Integer, default=7)
    default_validity: Mapped[str] = mapped_column(String(32), default="end_of_next_year")
    validity_by_source: Mapped[dict] = mapped_column(Json, default=dict)
    allow_negative: Mapped[bool] = mapped_column(default=False)
    # the ``Points Expiring`` event is recorded this many days before points expire
    expiry_notice_days: Mapped[int] = mapped_column(Integer, default=30)
    # tiers qualify on "points" earned or "spend" (¥ paid, net of refunds) over the window
    tier_basis: Mapped[str] = mapped_column(String(16), default="points")
    tier_window_days: Mapped[int] = mapped_column(Integer, default=365)
    # a tier holds this long after it was reached; then "one_down" or "reevaluate"
    tier_period_days: Mapped[int] = mapped_column(Integer, default=365)
    downgrade_policy: Mapped[str] = mapped_column(String(16), default="one_down")
    member_no_prefix: Mapped[str] = mapped_column(String(8), default="M")
    # check-in rewards: {"points": 1, "milestones": {"7": 20, "30": 100}}
    checkin: Mapped[dict] = mapped_column(Json, default=dict)
    settings: Mapped[dict] = mapped_column(Json, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyTier(Base):
    """A tier (会员等级). ``rank`` orders them (0 lowest); a member qualifies for the highest
    tier whose ``threshold`` (points earned or ¥ spent in the window) they reach."""

    __tablename__ = "loyalty_tiers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    threshold: Mapped[Decimal] = mapped_column(Numeric(18, 2), default=Decimal(0))
    multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal(1))
    # coupon template keys issued on reaching the tier and on the member's birthday
    upgrade_coupon: Mapped[str | None] = mapped_column(String(64), nullable=True)
    birthday_coupon: Mapped[str | None] = mapped_column(String(64), nullable=True)
    birthday_points: Mapped[int] = mapped_column(Integer, default=0)
    benefits: Mapped[dict] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyMember(Base):
    """A member (开卡): enrolled with consent, numbered, holding a tier. On a merge the
    survivor's card wins; the absorbed card's ledger rows move to the survivor."""

    __tablename__ = "loyalty_members"
    __table_args__ = (Index("ix_loyalty_members_review", "tier_review_at"), {"info": KEEP_SURVIVOR})

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    member_no: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_tiers.id"), nullable=True, index=True)
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # when the tier is next reviewed for a downgrade (end of its period)
    tier_review_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    birthday: Mapped[date | None] = mapped_column(Date, nullable=True)
    # the year the birthday gift was last given, so it is given once a year
    birthday_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    checkin_streak: Mapped[int] = mapped_column(Integer, default=0)
    last_checkin_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsEntry(Base):
    """One movement of points. ``kind``:

    * ``award`` (points > 0): ``status`` ``pending`` until ``available_at``, then ``active``;
      ``expired`` or ``voided`` (refunded while pending) at the end; ``remaining`` is what is
      left of it to spend or expire.
    * ``spend``, ``expire``, ``clawback`` (points < 0): drawn from awards via ``points_draws``;
      a clawback beyond what is left is a negative balance where the programme allows it.

    ``external_id`` makes a call idempotent per kind (an order's award, a spend's request id)."""

    __tablename__ = "points_entries"
    __table_args__ = (
        UniqueConstraint("kind", "external_id"),
        Index("ix_points_entries_contact", "contact_id", "kind", "status"),
        Index("ix_points_entries_expiry", "status", "expires_at"),
        Index("ix_points_entries_pending", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # earning source: order, signup, birthday, checkin, task, journey, referral, manual, …
    source: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True, index=True)
    # a clawback's or void's award; an expiry notice's award
    related_id: Mapped[int | None] = mapped_column(ForeignKey("points_entries.id"), nullable=True)
    # the ``Points Expiring`` notice was recorded for this award
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # a clawback's points that could not be taken back (no balance left, negative not allowed)
    shortfall: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    actor: Mapped[str] = mapped_column(String(120), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointsDraw(Base):
    """How many points a spend, expiry or clawback took from one award."""

    __tablename__ = "points_draws"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), index=True)
    award_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)


class TierChange(Base):
    """The tier history: every enrolment, upgrade, downgrade and manual change."""

    __tablename__ = "tier_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    from_tier_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_tiers.id"), nullable=True)
    to_tier_id: Mapped[int | None] = mapped_column(ForeignKey("loyalty_tiers.id"), nullable=True)
    # enrol, upgrade, downgrade, manual
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Checkin(Base):
    """One daily check-in (签到), on the member's local calendar day."""

    __tablename__ = "checkins"
    __table_args__ = ({"info": KEEP_SURVIVOR},)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    streak: Mapped[int] = mapped_column(Integer, default=1)
    points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoyaltyTask(Base):
    """A task: an event condition (``{"event": "Order Completed", "count": 1, "where": …}``)
    with a reward (points, a coupon template) and a badge."""

    __tablename__ = "loyalty_tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    condition: Mapped[dict] = mapped_column(Json, default=dict)
    reward_points: Mapped[int] = mapped_column(Integer, default=0)
    reward_coupon: Mapped[str | None] = mapped_column(String(64), nullable=True)
    badge: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TaskCompletion(Base):
    """A member completed a task (once per task) and earned its badge."""

    __tablename__ = "task_completions"
    __table_args__ = ({"info": KEEP_SURVIVOR},)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("loyalty_tasks.id"), primary_key=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RedemptionItem(Base):
    """The points catalogue (积分商城): points → a coupon (a template key) or a gift."""

    __tablename__ = "redemption_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # coupon | gift
    points: Mapped[int] = mapped_column(Integer)
    coupon_template: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # None: unlimited
    stock: Mapped[int | None] = mapped_column(Integer, nullable=True)
    per_member_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Redemption(Base):
    """One catalogue redemption: the spend it cost and the coupon it issued."""

    __tablename__ = "redemptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("redemption_items.id"), index=True)
    points: Mapped[int] = mapped_column(Integer)
    spend_id: Mapped[int] = mapped_column(ForeignKey("points_entries.id"))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
