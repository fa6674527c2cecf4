"""What a coupon is worth on an order, and which rule refuses it. Pure functions of the template,
the coupon and the order: ``validate`` and ``redeem`` share them, so a validation and the
redemption that follows can never disagree."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from siyu.store.models.coupons import Coupon, CouponTemplate

CENT = Decimal("0.01")
#: Stable failure reasons (the contract's list), in the order they are checked.
REASONS = (
    "not_found",
    "voided",
    "already_redeemed",
    "expired",
    "not_yet_valid",
    "paused",
    "not_yours",
    "channel",
    "products",
    "min_order",
    "per_customer",
    "budget",
)


@dataclass
class OrderContext:
    """The order a code is presented on. ``amount`` is what the order costs before the coupon
    (yuan); ``shipping`` is the shipping fee a free-shipping coupon covers. ``amount`` None is a
    code checked at a counter (核销) without the order: the rules on the amount are the shop's
    to check, and the discount is the coupon's face value (a percent coupon's cap)."""

    order_source: str
    order_no: str
    amount: Decimal | None
    contact_id: int | None = None
    channel: str | None = None
    product_ids: list[str] = field(default_factory=list)
    device: str | None = None
    at: datetime | None = None
    shipping: Decimal | None = None


def discount(t: CouponTemplate, order: OrderContext) -> Decimal:
    """The discount in yuan, never more than the order (or, for free shipping, its shipping)."""
    if order.amount is None:
        if t.kind == "percent":
            return Decimal(t.max_discount or 0).quantize(CENT)
        face = Decimal(t.amount) if t.kind != "free_shipping" else Decimal(order.shipping or 0)
        capped = min(face, Decimal(t.max_discount)) if t.max_discount is not None else face
        return capped.quantize(CENT)
    amount = Decimal(order.amount)
    if t.kind == "fixed" or t.kind == "threshold":
        value = Decimal(t.amount)
    elif t.kind == "percent":
        value = (amount * Decimal(t.amount) / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    else:  # free_shipping
        value = Decimal(order.shipping or 0)
    if t.max_discount is not None:
        value = min(value, Decimal(t.max_discount))
    if t.kind != "free_shipping":
        value = min(value, amount)
    return max(Decimal(0), value).quantize(CENT)


def refusal(t: CouponTemplate, c: Coupon, order: OrderContext, at: datetime) -> str | None:
    """The first rule the order breaks (per-customer and budget need the database: the service
    checks them), or None."""
    if c.status == "unassigned":
        return "not_found"
    if c.status == "voided":
        return "voided"
    if c.status == "redeemed":
        return "already_redeemed"
    if c.status == "expired" or (c.expires_at is not None and c.expires_at <= at):
        return "expired"
    if c.valid_from is not None and c.valid_from > at:
        return "not_yet_valid"
    if t.status != "active":
        return "paused"
    if c.contact_id is not None and order.contact_id is not None and c.contact_id != order.contact_id:
        return "not_yours"
    rules = t.rules or {}
    channels = rules.get("channels") or []
    if channels and (order.channel or order.order_source) not in channels:
        return "channel"
    products = rules.get("products") or []
    if products and not set(products) & {str(p) for p in order.product_ids}:
        return "products"
    if order.amount is not None and Decimal(order.amount) < Decimal(t.min_order or 0):
        return "min_order"
    return None


def held_out(template_key: str, contact_id: int, percent: int) -> bool:
    """Deterministic: the same contact is always in (or out of) a template's holdout, whichever
    journey or worker asks, so the comparison group is stable."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{template_key}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent
