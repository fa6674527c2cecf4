"""What an order and a refund are on the way in, and the checks that turn a Segment e-commerce v2
``properties`` object (from any ingest path, a CSV row or REST) into one.

Every check names the field it failed on, so an operator sees "products[2].price: not a number"
rather than a stack trace; money becomes ``Decimal`` yuan with two places, never a float.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

#: The largest amount one order, line or refund may carry: far above any real order and far below
#: what ``Numeric(18, 2)`` holds, so sums over millions of orders cannot overflow the column type.
MAX_AMOUNT = Decimal("100000000")  # ¥100,000,000
MAX_QUANTITY = 1_000_000
MAX_LINES = 500
CENT = Decimal("0.01")
SOURCE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class CommerceError(ValueError):
    """A request about orders or subscriptions that cannot be carried out. ``code`` is stable
    (snake_case), ``field`` says where."""

    code = "commerce_error"

    def __init__(self, field: str, message: str, code: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        if code is not None:
            self.code = code


class CommerceNotFound(CommerceError):
    code = "not_found"


@dataclass(slots=True)
class LineIn:
    product_id: str | None = None
    sku: str | None = None
    name: str | None = None
    category: str | None = None
    price: Decimal = Decimal(0)
    quantity: int = 1


@dataclass(slots=True)
class OrderIn:
    """One order to book. ``source`` is a channel key; ``(source, order_no)`` identifies it."""

    source: str
    order_no: str
    contact_id: int
    total: Decimal
    ordered_at: datetime
    revenue: Decimal | None = None
    discount: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    tax: Decimal = Decimal(0)
    currency: str = "CNY"
    coupon: str | None = None
    staff: str | None = None
    device: str | None = None
    lines: list[LineIn] = field(default_factory=list)
    subscription_id: int | None = None
    message_id: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RefundIn:
    """One refund of the order ``(source, order_no)``; ``amount`` None refunds what is left."""

    source: str
    order_no: str
    refund_no: str
    refunded_at: datetime
    amount: Decimal | None = None
    reason: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Why item ``index`` of a batch was not booked."""

    index: int
    field: str
    code: str
    message: str

    def dump(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "code": self.code, "message": self.message}


@dataclass
class BookResult:
    booked: list[int] = field(default_factory=list)  # ids of the orders this call created
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)
    # index → order id, for every item booked now or before
    order_ids: dict[int, int] = field(default_factory=dict)

    def dump(self) -> dict[str, Any]:
        return {
            "booked": len(self.booked),
            "duplicates": self.duplicates,
            "problems": [p.dump() for p in self.problems],
        }


@dataclass
class RefundResult:
    refunded: list[int] = field(default_factory=list)  # ids of the refunds this call created
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return {
            "refunded": len(self.refunded),
            "duplicates": self.duplicates,
            "problems": [p.dump() for p in self.problems],
        }


# --- field checks -------------------------------------------------------------------------------
def money(value: Any, name: str, *, required: bool = False, positive: bool = False) -> Decimal | None:
    """A non-negative amount in yuan (two places) from a number or numeric text."""
    if value is None or value == "":
        if required:
            raise CommerceError(name, "is required", "missing")
        return None
    if isinstance(value, bool):
        raise CommerceError(name, f"not a number: {value!r}", "not_a_number")
    if isinstance(value, float) and not math.isfinite(value):
        raise CommerceError(name, "must be a finite number", "not_a_number")
    try:
        amount = (
            Decimal(str(value).strip().replace(",", "").lstrip("¥"))
            if isinstance(value, str)
            else (Decimal(str(value)) if isinstance(value, int | float | Decimal) else None)
        )
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise CommerceError(name, f"not a number: {str(value)[:40]!r}", "not_a_number")
    if amount < 0:
        raise CommerceError(name, f"must not be negative ({amount})", "negative")
    if positive and amount == 0:
        raise CommerceError(name, "must be more than 0", "not_positive")
    if amount > MAX_AMOUNT:
        raise CommerceError(
            name, f"more than ¥{MAX_AMOUNT:,} is not a real amount ({amount:.2E})", "too_large"
        )
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def quantity(value: Any, name: str) -> int:
    if value is None or value == "":
        return 1
    if isinstance(value, bool):
        raise CommerceError(name, f"not a whole number: {value!r}", "not_a_number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise CommerceError(name, f"not a whole number: {str(value)[:40]!r}", "not_a_number") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise CommerceError(name, f"not a whole number: {str(value)[:40]!r}", "not_a_number")
    if number < 1 or number > MAX_QUANTITY:
        raise CommerceError(name, f"must be between 1 and {MAX_QUANTITY:,}", "out_of_range")
    return int(number)


def text(value: Any, name: str, limit: int, *, required: bool = False) -> str | None:
    if value is None or value == "":
        if required:
            raise CommerceError(name, "is required", "missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise CommerceError(name, "should be text", "not_text")
    out = str(value).strip()
    if not out:
        if required:
            raise CommerceError(name, "is required", "missing")
        return None
    if len(out) > limit:
        raise CommerceError(name, f"longer than {limit} characters", "too_long")
    return out


def source_key(value: Any, name: str = "source") -> str:
    key = text(value, name, 64, required=True)
    assert key is not None
    key = key.lower()
    if not SOURCE_KEY.match(key):
        raise CommerceError(name, f"{key!r} is not a channel key (a-z, 0-9, _ and -)", "bad_source")
    return key


def _lines(raw: Any) -> list[LineIn]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise CommerceError("products", "should be a list", "not_a_list")
    if len(raw) > MAX_LINES:
        raise CommerceError("products", f"at most {MAX_LINES} products per order", "too_many")
    lines = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise CommerceError(f"products[{i}]", "should be an object", "not_an_object")
        try:  # field names are built only for a line that fails (most orders pass)
            lines.append(
                LineIn(
                    product_id=text(item.get("product_id"), "product_id", 128),
                    sku=text(item.get("sku"), "sku", 128),
                    name=text(item.get("name"), "name", 200),
                    category=text(item.get("category"), "category", 200),
                    price=money(item.get("price"), "price") or Decimal(0),
                    quantity=quantity(item.get("quantity"), "quantity"),
                )
            )
        except CommerceError as exc:
            raise CommerceError(f"products[{i}].{exc.field}", exc.message, exc.code) from None
    return lines


def parse_order(
    props: dict[str, Any],
    *,
    contact_id: int,
    at: datetime,
    default_source: str,
    message_id: str | None = None,
) -> OrderIn:
    """An ``Order Completed`` event's properties as an order; raises :class:`CommerceError`."""
    order_no = text(props.get("order_id"), "order_id", 128, required=True)
    assert order_no is not None
    lines = _lines(props.get("products"))
    revenue = money(props.get("revenue"), "revenue")
    shipping = money(props.get("shipping"), "shipping") or Decimal(0)
    tax = money(props.get("tax"), "tax") or Decimal(0)
    discount = money(props.get("discount"), "discount") or Decimal(0)
    total = money(props.get("total"), "total")
    if total is None:
        # siyu's RFM reads an order's value from ``amount`` (its default amount_property), so
        # integrations written for it send that; Segment lets a shop send revenue only, or just
        # its products
        total = money(props.get("amount"), "amount")
    if total is None:
        if revenue is not None:
            total = revenue + shipping + tax
        elif lines:
            total = sum((ln.price * ln.quantity for ln in lines), Decimal(0)) + shipping + tax - discount
            total = max(total, Decimal(0))
        else:
            raise CommerceError(
                "total", "is required (or amount, revenue, or products with prices)", "missing"
            )
        if total > MAX_AMOUNT:
            raise CommerceError("total", "more than ¥100,000,000 is not a real amount", "too_large")
    currency = (text(props.get("currency"), "currency", 3) or "CNY").upper()
    if not CURRENCY.match(currency):
        raise CommerceError("currency", f"{currency!r} is not a currency code (CNY, USD …)", "bad_currency")
    return OrderIn(
        source=source_key(props["source"]) if props.get("source") not in (None, "") else default_source,
        order_no=order_no,
        contact_id=contact_id,
        total=total,
        ordered_at=at,
        revenue=revenue,
        discount=discount,
        shipping=shipping,
        tax=tax,
        currency=currency,
        coupon=text(props.get("coupon"), "coupon", 64),
        staff=text(props.get("staff"), "staff", 64),
        device=text(props.get("device"), "device", 128),
        lines=lines,
        message_id=message_id,
        properties=props,
    )


def parse_refund(
    props: dict[str, Any], *, at: datetime, default_source: str, message_id: str | None = None
) -> RefundIn:
    """An ``Order Refunded`` event's properties as a refund. Without ``refund_id`` the event's
    message id names it (so a replayed event refunds once); ``amount`` (or ``total``) absent
    refunds what is left of the order."""
    order_no = text(props.get("order_id"), "order_id", 128, required=True)
    assert order_no is not None
    refund_no = text(props.get("refund_id"), "refund_id", 200) or message_id
    if refund_no is None:
        raise CommerceError("refund_id", "is required", "missing")
    raw_amount = props.get("amount", props.get("total"))
    amount = money(raw_amount, "amount" if "amount" in props else "total", positive=True)
    lines = []
    raw_lines = props.get("products")
    if raw_lines is not None:
        for i, ln in enumerate(_lines(raw_lines)):
            if ln.product_id is None:
                raise CommerceError(f"products[{i}].product_id", "is required on a refund", "missing")
            lines.append({"product_id": ln.product_id, "quantity": ln.quantity})
    return RefundIn(
        source=source_key(props["source"]) if props.get("source") not in (None, "") else default_source,
        order_no=order_no,
        refund_no=refund_no,
        refunded_at=at,
        amount=amount,
        reason=text(props.get("reason"), "reason", 200),
        lines=lines,
        message_id=message_id,
    )
