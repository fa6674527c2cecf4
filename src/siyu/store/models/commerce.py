"""Orders and subscriptions (周期购): the system of record of what customers bought.

Orders come from ``Order Completed`` / ``Order Refunded`` events (Segment e-commerce v2) through
every ingest path, from order imports and from REST; ``(source, order_no)`` identifies an order,
so the same order arriving twice, or by two paths, is one order. Money is in yuan
(``Numeric(18, 2)``), never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.store.models.base import Base, BigId, Json, UTCDateTime, utcnow

Money = Numeric(18, 2)


class Order(Base):
    """One order. ``source`` is the key of the channel it was placed on (``mini_program``,
    ``youzan``, ``taobao``, ``douyin``, ``store``, …); ``status`` follows its refunds:
    ``completed`` → ``partially_refunded`` → ``refunded``."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("source", "order_no"),
        Index("ix_orders_contact_time", "contact_id", "ordered_at"),
        Index("ix_orders_ordered_at", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    source: Mapped[str] = mapped_column(String(64))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), nullable=True)
    # the shop's order id (Segment ``order_id``)
    order_no: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(24), default="completed")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    # what the customer paid (Segment ``total``); revenue excludes shipping and tax
    total: Mapped[Decimal] = mapped_column(Money)
    revenue: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    shipping: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    tax: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    refunded: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # the coupon code the order used (Segment ``coupon``)
    coupon_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the staff member credited (WeCom userid): the order's ``staff`` property, else the
    # contact's WeCom follower when the order was booked
    staff_userid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # the subscription this order renews, if any
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"), nullable=True)
    # the ingest message that booked it ("import:<job>:<row>" or "api:<uuid>" otherwise)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    properties: Mapped[dict] = mapped_column(Json, default=dict)
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderLine(Base):
    """One product line of an order (Segment ``products[]``)."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    product_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    sku: Mapped[str | None] = mapped_column(String(128), nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    category: Mapped[str | None] = mapped_column(String(200), nullable=True)
    price: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    refunded_quantity: Mapped[int] = mapped_column(Integer, default=0)


class OrderRefund(Base):
    """One refund of an order, whole or partial; ``refund_no`` (the shop's refund id, or the
    event's message id) makes it idempotent."""

    __tablename__ = "order_refunds"
    __table_args__ = (UniqueConstraint("order_id", "refund_no"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    refund_no: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    # [{"product_id": …, "quantity": n}] when lines were named
    lines: Mapped[list] = mapped_column(Json, default=list)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionPlan(Base):
    """A 周期购 plan: a product delivered every ``interval_days`` at ``price``; members are
    reminded ``remind_days`` before each renewal."""

    __tablename__ = "subscription_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    product_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    price: Mapped[Decimal] = mapped_column(Money)
    interval_days: Mapped[int] = mapped_column(Integer)
    # deliveries in all; None: until cancelled
    periods: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remind_days: Mapped[int] = mapped_column(Integer, default=3)
    source: Mapped[str] = mapped_column(String(64), default="mini_program")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    """One customer's subscription to a plan. ``status``: ``active``, ``paused``,
    ``cancelled``, ``ended`` (all periods delivered) or ``failed`` (renewal failed too often)."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_due", "status", "next_renewal_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("subscription_plans.id"))
    # the shop's subscription id, when it has one: makes creation idempotent
    external_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_renewal_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the renewal a reminder was last sent for (so each is reminded once)
    reminded_for: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrderProblem(Base):
    """An order event, import row or renewal that could not be booked (a refund of an unknown
    order, an amount above what is left, a total that is not a number …). The event itself stays
    stored; this row is what the console's "未入账的订单事件" page shows operators. It holds
    where and why only, never the call's properties (they may carry PII)."""

    __tablename__ = "order_problems"
    __table_args__ = (Index("ix_order_problems_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # ingest (an event), import (a CSV row), api, subscription
    origin: Mapped[str] = mapped_column(String(16))
    event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    order_no: Mapped[str | None] = mapped_column(String(128), nullable=True)
    refund_no: Mapped[str | None] = mapped_column(String(200), nullable=True)
    field: Mapped[str] = mapped_column(String(64))
    # a stable code (order_not_found, amount_above_remaining, not_a_number …) and the English text
    code: Mapped[str] = mapped_column(String(48))
    message: Mapped[str] = mapped_column(String(500))
