"""Distribution (分销): the brand's settings, promoters, the binding of customers to the promoter
who brought them, the commission ledger and payouts.

Commissions keep their own ledger, never points: holding them as withdrawable points is how
other systems paid them twice. The ledger is movements: one ``earn`` row per (order, level) and
one ``reversal`` row per (order, level, refund); the earn row carries its state and how much of
it was reversed, so per promoter ``pending + frozen + settled = earned − reversed``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

Money = Numeric(18, 2)
Rate = Numeric(6, 4)


class DistributionSettings(Base):
    """One row per brand, created with defaults (off) on first use. ``mode``: ``appointed``
    (指定分销: approved promoters only) or ``everyone`` (人人分销: an application is approved at
    once). ``auto_threshold``: cumulative spend (¥) after which a customer becomes a promoter
    by themself (None: never). ``levels`` 1 or 2; ``level1_rate + level2_rate ≤ 1``.
    ``binding``: ``new_users`` (only contacts without an order bind) or ``anyone``.
    ``lock_days``: how long a binding cannot be replaced by another promoter's link (0: for
    ever). ``freeze_days`` (0–180): how long a commission stays frozen before it is settled."""

    __tablename__ = "distribution_settings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False)
    mode: Mapped[str] = mapped_column(String(16), default="appointed")
    auto_threshold: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    levels: Mapped[int] = mapped_column(Integer, default=2)
    level1_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0.10"))
    level2_rate: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0.05"))
    self_purchase: Mapped[bool] = mapped_column(default=False)
    freeze_days: Mapped[int] = mapped_column(Integer, default=7)
    binding: Mapped[str] = mapped_column(String(16), default="new_users")
    lock_days: Mapped[int] = mapped_column(Integer, default=30)
    min_withdrawal: Mapped[Decimal] = mapped_column(Money, default=Decimal("1.00"))
    # the share of an order WeChat Pay lets the merchant split (分账比例, ≤ 30% by default)
    sharing_ratio: Mapped[Decimal] = mapped_column(Rate, default=Decimal("0.30"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Promoter(Base):
    """A contact who may earn commission. ``status``: ``pending`` (applied), ``approved``,
    ``rejected``. ``source``: ``application``, ``spend`` (the cumulative-spend threshold),
    ``operator``. ``code`` is the ``?promoter=`` value. ``openid`` is the WeChat Pay receiver
    account used for profit sharing."""

    __tablename__ = "promoters"
    # A merge leaves the row on the contact it was made for: bindings and commissions point at
    # the promoter, not the contact, so the code and the earnings keep working (see
    # siyu.distribution.repository.promoter_of, which also finds it through the survivor).
    __table_args__ = ({"info": {"merge": "custom"}},)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), unique=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    source: Mapped[str] = mapped_column(String(16), default="application")
    openid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PromoterBinding(Base):
    """The promoter a customer is bound to (one per customer): level 1 of the customer's
    orders; the promoter's own binding gives level 2. ``locked_until`` None: for ever."""

    __tablename__ = "promoter_bindings"
    # on a merge the survivor's binding wins
    __table_args__ = ({"info": {"merge": "keep_survivor"}},)

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    # erasing a promoter unbinds their customers
    promoter_id: Mapped[int] = mapped_column(ForeignKey("promoters.id", ondelete="CASCADE"), index=True)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # link (a visit through ?promoter= / promoter_code), operator
    via: Mapped[str] = mapped_column(String(16), default="link")


class Commission(Base):
    """One movement of the commission ledger. ``kind`` ``earn`` (amount > 0) or
    ``reversal:<refund id>`` (amount < 0); unique per (order, level, kind) so a redone ingest
    batch books nothing twice. Earn rows move ``pending`` → ``frozen`` (until
    ``frozen_until``) → ``settled``; ``reversed`` is what refunds took back from them.
    Reversal rows keep the state their earning had when reversed (a settled one is a negative
    adjustment of the settled balance)."""

    __tablename__ = "commissions"
    __table_args__ = (
        UniqueConstraint("order_id", "level", "kind"),
        Index("ix_commissions_promoter_state", "promoter_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # erasing a promoter erases their earnings with them
    promoter_id: Mapped[int] = mapped_column(ForeignKey("promoters.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    # the buyer
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(48), default="earn")
    base: Mapped[Decimal] = mapped_column(Money)
    rate: Mapped[Decimal] = mapped_column(Rate)
    amount: Mapped[Decimal] = mapped_column(Money)
    reversed: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    frozen_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    payout_id: Mapped[int | None] = mapped_column(
        ForeignKey("distribution_payouts.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DistributionPayout(Base):
    """One profit-sharing request (分账) to WeChat Pay: ``out_order_no`` is its idempotency key,
    ``receivers`` what was asked ``[{"account": openid, "amount": fen, "promoter": id}]``.
    ``status``: ``requested``, ``processing``, ``finished``, ``failed``."""

    __tablename__ = "distribution_payouts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    out_order_no: Mapped[str] = mapped_column(String(64), unique=True)
    # erased with the buyer's order
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    transaction_id: Mapped[str] = mapped_column(String(64))
    receivers: Mapped[list] = mapped_column(Json, default=list)
    amount: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    wechat_order_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
