"""Coupons: templates (the campaign: what a coupon is worth, how long it is valid, the rules an
order must meet), the coupons themselves (one unique code each), every redemption attempt,
and the holdout that measures a campaign's incremental GMV."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

Money = Numeric(18, 2)


class CouponTemplate(Base):
    """A coupon campaign. ``kind``: ``fixed`` (¥ ``amount`` off), ``percent`` (``amount`` % off,
    up to ``max_discount``), ``threshold`` (满减: ¥ ``amount`` off an order of at least
    ``min_order``), ``free_shipping``. Validity: ``valid_from``/``valid_until`` fixed dates, or
    ``valid_days`` after issue. ``rules``: ``{"min_order": …, "channels": […], "products": […],
    "per_customer": n}``; ``budget`` caps the total discount given, ``issue_limit`` the coupons
    issued. ``holdout_percent`` of the contacts a journey targets get none, to measure lift."""

    __tablename__ = "coupon_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    min_order: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    max_discount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rules: Mapped[dict] = mapped_column(Json, default=dict)
    budget: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    issue_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=0)
    # a refunded order's coupon: "restore" (usable again while valid) or "void"
    refund_rule: Mapped[str] = mapped_column(String(16), default="restore")
    code_prefix: Mapped[str] = mapped_column(String(16), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | paused | ended
    # counters kept by conditional UPDATEs (``WHERE spent + d <= budget``), so two workers racing
    # for the last of a budget or of an issue limit cannot both pass (0020_coupons)
    spent: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")
    issued: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Coupon(Base):
    """One coupon and its unique code. ``status``: ``unassigned`` (generated or imported, not
    yet given), ``issued``, ``redeemed``, ``expired``, ``voided``. A single-use coupon is
    redeemed by one conditional UPDATE (``WHERE status = 'issued'``), so two workers racing
    for it cannot both win."""

    __tablename__ = "coupons"
    __table_args__ = (
        Index("ix_coupons_contact", "contact_id", "status"),
        Index("ix_coupons_template", "template_id", "status"),
        Index("ix_coupons_expiry", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="issued")
    # who issued it: journey:<key>, tier:<key>, redemption, referral, task:<key>, manual, api
    issued_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    # the caller's idempotency key for the issue ("journey:<id>:<step>", …)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the order it was redeemed on (source and the shop's order id)
    order_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_no: Mapped[str | None] = mapped_column(String(128), nullable=True)
    discount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CouponRedemption(Base):
    """Every redemption attempt, failed ones too (Voucherify records a refused redemption with
    the rule that failed): ``status`` ``succeeded``, ``failed`` or ``rolled_back`` (its order
    was refunded)."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (Index("ix_coupon_redemptions_order", "order_source", "order_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), nullable=True, index=True)
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("coupon_templates.id"), nullable=True, index=True
    )
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), nullable=True, index=True)
    # the code as presented (a failed attempt may name no coupon at all)
    code: Mapped[str] = mapped_column(String(64))
    order_source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_no: Mapped[str] = mapped_column(String(128))
    order_amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    discount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # the rule that failed: not_found, not_yours, already_redeemed, expired, not_yet_valid,
    # min_order, channel, products, per_customer, budget, paused
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # device id / phone hash seen on the order, for abuse signals (薅羊毛)
    device: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    details: Mapped[dict] = mapped_column(Json, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class CouponHoldout(Base):
    """A contact a campaign deliberately did not give its coupon, to compare GMV against."""

    __tablename__ = "coupon_holdouts"
    __table_args__ = ({"info": {"merge": "keep_survivor"}},)

    template_id: Mapped[int] = mapped_column(ForeignKey("coupon_templates.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    issued_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
