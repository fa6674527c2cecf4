"""Booking orders and refunds, set-based: a batch of thousands costs a handful of statements.

``book`` is idempotent by ``(source, order_no)`` and ``refund`` by ``(order, refund_no)``: the
same order arriving twice, or by two ingest paths, or from two concurrent batches, is booked once
(INSERT … ON CONFLICT DO NOTHING decides, not a read before the write). A bad item is reported
with its index and never costs its neighbours. Coupons (``siyu.coupons``) and points
(``siyu.loyalty``) are settled from what was booked, in the same transaction; the caller commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.commerce.repository import SOURCE_KINDS, SOURCE_NAMES, OrderRepository
from siyu.commerce.schemas import BookResult, OrderIn, Problem, RefundIn, RefundResult
from siyu.coupons.batch import BatchRedeemer
from siyu.coupons.service import CouponService, OrderContext
from siyu.loyalty.service import LoyaltyService
from siyu.sources.service import SourcesService
from siyu.store.changes import note_changed
from siyu.store.dialect import chunked, driver_insert
from siyu.store.models import Order, OrderLine, OrderRefund, utcnow

#: Properties an order's columns and lines hold already (the event keeps them all).
BOOKED_FIELDS = frozenset(
    {
        "order_id",
        "total",
        "amount",
        "revenue",
        "shipping",
        "tax",
        "discount",
        "currency",
        "coupon",
        "products",
    }
    | {"source", "staff", "device"}
)


@dataclass(frozen=True, slots=True)
class CouponOutcome:
    """What redeeming an order's coupon gave: booked orders keep their coupon code either way
    (the shop already took the money), a refusal is reported so operators can see it."""

    index: int
    order_id: int
    code: str
    ok: bool
    reason: str | None


class OrderService:
    def __init__(self, session: Session, *, now: datetime | None = None, tz: str = "Asia/Shanghai") -> None:
        self.session = session
        self.now = now or utcnow()
        self.tz = tz
        self.repo = OrderRepository(session)
        self.coupon_outcomes: list[CouponOutcome] = []

    # --- booking ------------------------------------------------------------------------------
    def book(self, orders: list[OrderIn]) -> BookResult:
        """Book new orders; an order already booked (or twice in ``orders``) counts as a
        duplicate and changes nothing. New orders redeem their coupon and earn points."""
        result = BookResult()
        if not orders:
            return result
        first: dict[tuple[str, str], int] = {}
        fresh: list[tuple[int, OrderIn]] = []
        for index, order in enumerate(orders):
            key = (order.source, order.order_no)
            if key in first:
                result.duplicates += 1
                continue
            first[key] = index
            fresh.append((index, order))
        existing = self.repo.existing(first)
        todo = [(i, o) for i, o in fresh if (o.source, o.order_no) not in existing]
        result.duplicates += len(fresh) - len(todo)
        channels = self._channels({o.source for _, o in todo})
        followers = self.repo.followers({o.contact_id for _, o in todo if not o.staff})
        stamp = self.now
        rows = [
            {
                "contact_id": o.contact_id,
                "source": o.source,
                "channel_id": channels.get(o.source),
                "order_no": o.order_no,
                "status": "completed",
                "currency": o.currency,
                "total": o.total,
                "revenue": o.revenue,
                "discount": o.discount,
                "shipping": o.shipping,
                "tax": o.tax,
                "refunded": Decimal(0),
                "coupon_code": o.coupon,
                "staff_userid": o.staff or followers.get(o.contact_id),
                "subscription_id": o.subscription_id,
                "message_id": o.message_id,
                # what the columns and order_lines do not hold of the shop's properties
                "properties": {k: v for k, v in o.properties.items() if k not in BOOKED_FIELDS},
                "ordered_at": o.ordered_at,
                "created_at": stamp,
                "updated_at": stamp,
            }
            for _, o in todo
        ]
        new_ids = self.repo.insert_orders(rows)
        # a concurrent batch booked the rest between our read and our insert: duplicates too
        result.duplicates += len(todo) - len(new_ids)
        existing.update(new_ids)
        for key, index in first.items():
            if key in existing:
                result.order_ids[index] = existing[key]
        booked = [
            (i, o, new_ids[(o.source, o.order_no)]) for i, o in todo if (o.source, o.order_no) in new_ids
        ]
        result.booked = [oid for _, _, oid in booked]
        if not booked:
            return result
        self._insert_lines(booked)
        # Only members earn and only orders with a coupon redeem one: the other orders of a
        # large import are never loaded as objects (that would cost more than booking them).
        members = self.repo.members({o.contact_id for _, o, _ in booked})
        wanted = [oid for _, o, oid in booked if o.coupon or o.contact_id in members]
        objects = {o.id: o for o in self.repo.by_ids(wanted)}
        self._redeem_coupons([(i, o, objects[oid]) for i, o, oid in booked if o.coupon])
        earning = [objects[oid] for _, o, oid in booked if o.contact_id in members]
        LoyaltyService(self.session, now=self.now, tz=self.tz).on_orders(earning)
        note_changed(self.session, {o.contact_id for _, o, _ in booked})
        return result

    def _channels(self, keys: set[str]) -> dict[str, int]:
        """Channel ids of the sources, creating the channel of a source seen for the first time."""
        known = self.repo.channel_ids(keys)
        sources = SourcesService(self.session)
        for key in sorted(keys - known.keys()):
            channel = sources.ensure_channel(key, SOURCE_KINDS.get(key, "other"), SOURCE_NAMES.get(key, key))
            known[key] = channel.id
        return known

    def _insert_lines(self, booked: list[tuple[int, OrderIn, int]]) -> None:
        columns = ("order_id", "contact_id", "position", "product_id", "sku", "name", "category")
        columns += ("price", "quantity", "refunded_quantity")
        # SQLite has no decimal type: the price as SQLAlchemy binds it there; psycopg takes Decimal
        dialect = self.session.get_bind().dialect
        bind = OrderLine.__table__.c.price.type.bind_processor(dialect) if dialect.name == "sqlite" else None
        price = bind or (lambda v: v)
        rows = [
            (
                oid,
                o.contact_id,
                pos,
                ln.product_id,
                ln.sku,
                ln.name,
                ln.category,
                price(ln.price),
                ln.quantity,
                0,
            )
            for _, o, oid in booked
            for pos, ln in enumerate(o.lines)
        ]
        driver_insert(self.session, "order_lines", columns, rows)

    def _redeem_coupons(self, items: list[tuple[int, OrderIn, Order]]) -> None:
        """One redemption per order that names a coupon, each its own decision (limits, single
        use), written for the whole batch at once (``siyu.coupons.batch``). The amount checked
        against a minimum is the goods' amount before the discount (a 满减 threshold is on that)."""
        if not items:
            return
        asked: list[tuple[str, OrderContext]] = []
        for _index, o, _order in items:
            assert o.coupon is not None
            ctx = OrderContext(
                order_source=o.source,
                order_no=o.order_no,
                amount=o.total + o.discount,
                contact_id=o.contact_id,
                channel=o.source,
                product_ids=[ln.product_id for ln in o.lines if ln.product_id],
                device=o.device,
                at=o.ordered_at,
                shipping=o.shipping,
            )
            asked.append((o.coupon, ctx))
        done = BatchRedeemer(self.session, self.now).redeem_many(asked)
        for (index, _o, order), (code, _ctx), res in zip(items, asked, done, strict=True):
            self.coupon_outcomes.append(CouponOutcome(index, order.id, code, res.ok, res.reason))

    # --- refunds ------------------------------------------------------------------------------
    def refund(self, refunds: list[RefundIn]) -> RefundResult:
        """Book refunds (partial or whole). A refund of an unknown order, or of more than is
        left of it, is a problem of its own index; the others are booked."""
        result = RefundResult()
        if not refunds:
            return result
        orders = self.repo.orders_for_update({(r.source, r.order_no) for r in refunds})
        done = self.repo.refund_numbers(o.id for o in orders.values())
        lines = self.repo.lines_of(o.id for o in orders.values())
        booked: list[tuple[Order, OrderRefund]] = []
        for index, r in enumerate(refunds):
            order = orders.get((r.source, r.order_no))
            if order is None:
                msg = f"no order {r.order_no!r} from {r.source!r} is booked"
                result.problems.append(Problem(index, "order_id", "order_not_found", msg))
                continue
            if (order.id, r.refund_no) in done:
                result.duplicates += 1
                continue
            problem = self._refund_one(index, order, r, lines.get(order.id, []), booked)
            if problem is not None:
                result.problems.append(problem)
                continue
            done.add((order.id, r.refund_no))
        if not booked:
            return result
        self.session.flush()
        result.refunded = [refund.id for _, refund in booked]
        coupons = CouponService(self.session, now=self.now)
        settled: dict[int, Order] = {}
        for order, _ in booked:
            settled[order.id] = order
        for order in settled.values():
            if order.coupon_code:
                coupons.on_refund(order.source, order.order_no, full=order.status == "refunded")
        LoyaltyService(self.session, now=self.now, tz=self.tz).on_refunds(booked)
        note_changed(self.session, {o.contact_id for o, _ in booked})
        return result

    def _refund_one(
        self,
        index: int,
        order: Order,
        r: RefundIn,
        lines: list[OrderLine],
        booked: list[tuple[Order, OrderRefund]],
    ) -> Problem | None:
        left = order.total - order.refunded
        by_product: dict[str, list[OrderLine]] = defaultdict(list)
        for line in lines:
            if line.product_id:
                by_product[line.product_id].append(line)
        taken: list[tuple[OrderLine, int]] = []
        line_amount = Decimal(0)
        for i, item in enumerate(r.lines):
            want = int(item["quantity"])
            candidates = by_product.get(item["product_id"], [])
            if not candidates:
                msg = f"order {order.order_no!r} has no product {item['product_id']!r}"
                return Problem(index, f"products[{i}].product_id", "product_not_in_order", msg)
            for line in candidates:
                room = line.quantity - line.refunded_quantity - sum(q for ln, q in taken if ln is line)
                step = min(room, want)
                if step > 0:
                    taken.append((line, step))
                    line_amount += line.price * step
                    want -= step
            if want > 0:
                msg = f"more of {item['product_id']!r} refunded than the order has left"
                return Problem(index, f"products[{i}].quantity", "quantity_above_remaining", msg)
        amount = r.amount if r.amount is not None else (min(line_amount, left) if r.lines else left)
        if left <= 0:
            return Problem(
                index, "order_id", "already_refunded", f"order {order.order_no!r} is refunded in full"
            )
        if amount <= 0:
            return Problem(index, "amount", "not_positive", "a refund must be more than ¥0")
        if amount > left:
            msg = f"¥{amount} is more than the ¥{left} left of order {order.order_no!r}"
            return Problem(index, "amount", "amount_above_remaining", msg)
        for line, q in taken:
            line.refunded_quantity += q
        order.refunded = order.refunded + amount
        order.status = "refunded" if order.refunded >= order.total else "partially_refunded"
        order.updated_at = self.now
        refund = OrderRefund(
            order_id=order.id,
            contact_id=order.contact_id,
            refund_no=r.refund_no,
            amount=amount,
            lines=list(r.lines),
            reason=r.reason,
            message_id=r.message_id,
            refunded_at=r.refunded_at,
            created_at=self.now,
        )
        self.session.add(refund)
        booked.append((order, refund))
        return None


# --- the profile's figures ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OrderSummary:
    """Lifetime figures of one contact. ``spend`` is net of refunds; ``orders`` counts the
    orders not refunded in full (a returned order is not a purchase); ``aov`` = spend / orders."""

    spend: Decimal
    orders: int
    aov: Decimal | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    refunded: Decimal

    def dump(self) -> dict[str, Any]:
        return {
            "spend": str(self.spend),
            "orders": self.orders,
            "aov": None if self.aov is None else str(self.aov),
            "first_order_at": None if self.first_order_at is None else self.first_order_at.isoformat(),
            "last_order_at": None if self.last_order_at is None else self.last_order_at.isoformat(),
            "refunded": str(self.refunded),
        }


EMPTY = OrderSummary(Decimal("0.00"), 0, None, None, None, Decimal("0.00"))


def summary(session: Session, contact_ids: list[int]) -> dict[int, OrderSummary]:
    """Lifetime spend (net of refunds), order count, AOV and first/last order per contact; a
    contact without orders gets zeros."""
    out = {cid: EMPTY for cid in contact_ids}
    for chunk in chunked(sorted(set(contact_ids))):
        stmt = (
            select(
                Order.contact_id,
                func.sum(Order.total),
                func.sum(Order.refunded),
                func.count(),
                func.min(Order.ordered_at),
                func.max(Order.ordered_at),
            )
            .where(Order.contact_id.in_(chunk))
            .group_by(Order.contact_id)
        )
        refunded_whole = dict(
            session.execute(
                select(Order.contact_id, func.count())
                .where(Order.contact_id.in_(chunk), Order.status == "refunded")
                .group_by(Order.contact_id)
            ).all()
        )
        for cid, total, refunded, count, first, last in session.execute(stmt):
            spend = (Decimal(total or 0) - Decimal(refunded or 0)).quantize(Decimal("0.01"))
            orders = int(count) - int(refunded_whole.get(cid, 0))
            aov = (spend / orders).quantize(Decimal("0.01")) if orders else None
            out[cid] = OrderSummary(
                spend, orders, aov, first, last, Decimal(refunded or 0).quantize(Decimal("0.01"))
            )
    return out
