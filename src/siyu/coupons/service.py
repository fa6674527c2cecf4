"""Issuing, validating and redeeming coupons.

Race-safety (PostgreSQL, READ COMMITTED): a single-use coupon is redeemed by one conditional
``UPDATE coupons … WHERE status = 'issued'``; the loser of a race waits on the row lock, re-reads
the row and finds it redeemed. The template's ``spent`` counter moves by ``UPDATE … WHERE
budget IS NULL OR spent + d <= budget``, which also serialises one template's redemptions, so the
per-customer count read after it sees every committed redemption. Issues lock the template row
the same way (``issued`` counter) before looking up external ids. Locks are always taken coupon
first, template second, so two redemptions cannot deadlock each other."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from siyu.coupons.codes import normalise
from siyu.coupons.errors import CouponError
from siyu.coupons.issuing import Issuer
from siyu.coupons.rules import OrderContext, discount, refusal
from siyu.coupons.templates import TemplateService
from siyu.store.changes import emit_timed_events, note_changed
from siyu.store.dialect import chunked
from siyu.store.models.base import utcnow
from siyu.store.models.coupons import Coupon, CouponRedemption, CouponTemplate

__all__ = ["CouponService", "OrderContext", "RedeemResult"]

REDEEMED = "Coupon Redeemed"
MAX_ORDER = Decimal("1000000000000")


@dataclass
class RedeemResult:
    ok: bool
    reason: str | None
    discount: Decimal | None
    coupon: Coupon | None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "discount": None if self.discount is None else str(self.discount),
            "code": self.coupon.code if self.coupon else None,
        }


def _digest(order: OrderContext) -> str:
    """A short stable id of the order (source and order id may be long; message ids are not)."""
    return hashlib.sha256(f"{order.order_source}\0{order.order_no}".encode()).hexdigest()[:24]


def _cut(value: str | None, size: int) -> str | None:
    return None if value is None else value[:size]


def check_order(order: OrderContext) -> None:
    """The order fields the redemption tables store, checked before any rule."""
    amount = Decimal(0 if order.amount is None else order.amount)
    if not amount.is_finite() or amount < 0 or amount > MAX_ORDER:
        raise CouponError("invalid_order", f"amount: {order.amount} is not an order amount", field="amount")
    if order.shipping is not None and not (Decimal(0) <= Decimal(order.shipping) <= MAX_ORDER):
        raise CouponError("invalid_order", f"shipping: {order.shipping} is not a fee", field="shipping")
    if not order.order_no or not order.order_source:
        raise CouponError("invalid_order", "order_no: the order needs its id and source", field="order_no")
    if len(order.order_no) > 128 or len(order.order_source) > 64:  # the orders table's sizes
        raise CouponError("invalid_order", "order_no: at most 128 characters, source 64", field="order_no")


def customer(c: Coupon, order: OrderContext) -> int | None:
    """Whose redemption it is: the coupon's holder, else (an unassigned bearer code) the buyer."""
    return c.contact_id if c.contact_id is not None else order.contact_id


def attempt_row(
    code: str,
    c: Coupon | None,
    order: OrderContext,
    status: str,
    reason: str | None,
    value: Decimal | None,
    now: datetime,
) -> dict[str, Any]:
    """One ``coupon_redemptions`` row: every attempt is kept, refused ones with their reason."""
    return {
        "coupon_id": c.id if c else None,
        "template_id": c.template_id if c else None,
        "contact_id": customer(c, order) if c else order.contact_id,
        "code": normalise(code)[:64],
        "order_source": _cut(order.order_source, 64),
        "order_no": order.order_no[:128],
        "order_amount": None if order.amount is None else Decimal(order.amount),
        "discount": value,
        "status": status,
        "reason": reason,
        "device": _cut(order.device, 128),
        "details": {"channel": order.channel} if order.channel else {},
        "at": order.at or now,
    }


def redeemed_event(
    c: Coupon, t: CouponTemplate, order: OrderContext, value: Decimal, now: datetime
) -> tuple[str, int, dict[str, Any], datetime] | None:
    """The ``Coupon Redeemed`` event of a success (message id, contact, properties, time), or
    None for a bearer code nobody holds on an order without a contact."""
    who = customer(c, order)
    if who is None:
        return None
    props = {
        "code": c.code,
        "template": t.key,
        "order_id": order.order_no,
        "source": order.order_source,
        "discount": float(value),
    }
    return f"coupon.redeemed:{who:012d}:{c.id}:{_digest(order)}", who, props, order.at or now


class CouponService:
    def __init__(self, session: Session, *, now: datetime | None = None) -> None:
        self.session = session
        self.now = now or utcnow()
        self.templates = TemplateService(session, now=self.now)

    # --- issue -------------------------------------------------------------------------------
    def issue(
        self, template_key: str, contact_id: int, *, issued_by: str, external_id: str | None = None
    ) -> Coupon | None:
        """One coupon for the contact; the coupon an earlier call with the same ``external_id``
        issued; or None when the contact is in the template's holdout."""
        got = Issuer(self.session, self.now).issue(template_key, [(contact_id, external_id)], issued_by)
        if contact_id not in got:
            raise CouponError(
                "issue_limit", "the template has issued all the coupons it may", field="template"
            )
        return got[contact_id]

    def issue_many(
        self,
        template_key: str,
        contact_ids: list[int],
        *,
        issued_by: str,
        external_prefix: str,
        external_ids: dict[int, str] | None = None,
    ) -> dict[int, Coupon | None]:
        """A coupon each (external id ``<external_prefix>:<contact id>``, or the contact's entry in
        ``external_ids``); None for the held-out. Contacts left out of the result got nothing
        because the issue limit was reached."""
        wanted = list(dict.fromkeys(contact_ids))
        ext = external_ids or {}
        return Issuer(self.session, self.now).issue(
            template_key, [(c, ext.get(c) or f"{external_prefix}:{c}") for c in wanted], issued_by
        )

    # --- validate / redeem -------------------------------------------------------------------
    def _find(self, code: str) -> tuple[Coupon | None, CouponTemplate | None]:
        c = self.session.scalar(select(Coupon).where(Coupon.code == normalise(code)))
        return (c, self.session.get(CouponTemplate, c.template_id)) if c else (None, None)

    def _check_order(self, order: OrderContext) -> None:
        check_order(order)

    def _customer(self, c: Coupon, order: OrderContext) -> int | None:
        return customer(c, order)

    def _used(self, t: CouponTemplate, contact_id: int | None) -> int:
        if contact_id is None:
            return 0
        q = select(func.count()).where(
            CouponRedemption.template_id == t.id,
            CouponRedemption.contact_id == contact_id,
            CouponRedemption.status == "succeeded",
        )
        return int(self.session.scalar(q) or 0)

    def _judge(
        self, c: Coupon | None, t: CouponTemplate | None, order: OrderContext
    ) -> tuple[str | None, Decimal | None]:
        if c is None or t is None:
            return "not_found", None
        reason = refusal(t, c, order, order.at or self.now)
        if reason:
            return reason, None
        value = discount(t, order)
        per = (t.rules or {}).get("per_customer")
        if per is not None and self._used(t, self._customer(c, order)) >= per:
            return "per_customer", None
        if t.budget is not None and Decimal(t.spent or 0) + value > Decimal(t.budget):
            return "budget", None
        return None, value

    def validate(self, code: str, order: OrderContext) -> RedeemResult:
        """What redeeming would do now (the rule that fails, or the discount); changes nothing."""
        self._check_order(order)
        c, t = self._find(code)
        if (
            c is not None
            and c.status == "redeemed"
            and (c.order_source, c.order_no) == (order.order_source, order.order_no)
        ):
            return RedeemResult(True, None, c.discount, c)
        reason, value = self._judge(c, t, order)
        return RedeemResult(reason is None, reason, value, c)

    def redeem(self, code: str, order: OrderContext) -> RedeemResult:
        """Redeems the code on the order. The same order presenting the same code again gets the
        first success back (nothing is redeemed twice); every other attempt is recorded."""
        self._check_order(order)
        c, t = self._find(code)
        if (
            c is not None
            and c.status == "redeemed"
            and (c.order_source, c.order_no) == (order.order_source, order.order_no)
        ):
            return RedeemResult(True, None, c.discount, c)
        reason, value = self._judge(c, t, order)
        if reason is None:
            assert c is not None and t is not None and value is not None
            reason = self._take(c, t, order, value)
            if reason is None:
                self._record(code, c, order, "succeeded", None, value)
                self._redeemed(c, t, order, value)
                return RedeemResult(True, None, value, c)
            if reason == "same_order":
                return RedeemResult(True, None, c.discount, c)
        self._record(code, c, order, "failed", reason, None)
        return RedeemResult(False, reason, None, c)

    def _take(self, c: Coupon, t: CouponTemplate, order: OrderContext, value: Decimal) -> str | None:
        """The race-safe part: coupon row, then template row; undone by hand when a later check
        fails (the locks are held, so nobody saw the intermediate state)."""
        at = order.at or self.now
        won = self.session.execute(
            update(Coupon)
            .where(Coupon.id == c.id, Coupon.status == "issued")
            .values(
                status="redeemed",
                redeemed_at=at,
                order_source=order.order_source,
                order_no=order.order_no,
                discount=value,
            )
        ).rowcount
        if not won:
            self.session.refresh(c)
            if (c.order_source, c.order_no) == (
                order.order_source,
                order.order_no,
            ) and c.status == "redeemed":
                return "same_order"
            return refusal(t, c, order, at) or "already_redeemed"
        table = CouponTemplate.__table__
        budget_ok = self.session.execute(
            update(table)
            .where(table.c.id == t.id, (table.c.budget.is_(None)) | (table.c.spent + value <= table.c.budget))
            .values(spent=table.c.spent + value)
        ).rowcount
        reason = None if budget_ok else "budget"
        per = (t.rules or {}).get("per_customer")
        if reason is None and per is not None and self._used(t, self._customer(c, order)) >= per:
            self.session.execute(update(table).where(table.c.id == t.id).values(spent=table.c.spent - value))
            reason = "per_customer"
        if reason is not None:
            self.session.execute(
                update(Coupon)
                .where(Coupon.id == c.id)
                .values(status="issued", redeemed_at=None, order_source=None, order_no=None, discount=None)
            )
        self.session.refresh(c)
        self.session.expire(t, ["spent"])
        return reason

    def _record(
        self,
        code: str,
        c: Coupon | None,
        order: OrderContext,
        status: str,
        reason: str | None,
        value: Decimal | None,
    ) -> None:
        self.session.add(CouponRedemption(**attempt_row(code, c, order, status, reason, value, self.now)))
        self.session.flush()

    def _redeemed(self, c: Coupon, t: CouponTemplate, order: OrderContext, value: Decimal) -> None:
        event = redeemed_event(c, t, order, value, self.now)
        if event is None:
            return
        emit_timed_events(self.session, REDEEMED, [event])
        note_changed(self.session, [event[1]])

    # --- refunds, expiry, holdings ------------------------------------------------------------
    def on_refund(self, order_source: str, order_no: str, *, full: bool) -> None:
        """A refunded order's coupon. Only a full refund releases it (a partial refund leaves
        the order standing, and the coupon with it): the redemption is ``rolled_back``, its
        discount returns to the budget, and the template's ``refund_rule`` decides the coupon:
        ``restore`` makes it usable again while still valid (else ``expired``), ``void`` voids it."""
        if not full:
            return
        rows = self.session.scalars(
            select(CouponRedemption).where(
                CouponRedemption.order_source == order_source,
                CouponRedemption.order_no == order_no,
                CouponRedemption.status == "succeeded",
            )
        ).all()
        touched: list[int] = []
        table = CouponTemplate.__table__
        for r in rows:
            c = self.session.get(Coupon, r.coupon_id) if r.coupon_id else None
            t = self.session.get(CouponTemplate, r.template_id) if r.template_id else None
            if c is None or t is None:
                continue
            undone = self.session.execute(
                update(Coupon)
                .where(
                    Coupon.id == c.id,
                    Coupon.status == "redeemed",
                    Coupon.order_source == order_source,
                    Coupon.order_no == order_no,
                )
                .values(
                    status=self._after_refund(c, t),
                    redeemed_at=None,
                    order_source=None,
                    order_no=None,
                    discount=None,
                )
            ).rowcount
            if not undone:
                continue
            r.status = "rolled_back"
            r.details = {**(r.details or {}), "rolled_back_at": self.now.isoformat(), "rule": t.refund_rule}
            self.session.execute(
                update(table).where(table.c.id == t.id).values(spent=table.c.spent - (r.discount or 0))
            )
            self.session.refresh(c)
            if c.contact_id is not None:
                touched.append(c.contact_id)
        self.session.flush()
        note_changed(self.session, touched)

    def _after_refund(self, c: Coupon, t: CouponTemplate) -> str:
        if t.refund_rule == "void":
            return "voided"
        if c.expires_at is not None and c.expires_at <= self.now:
            return "expired"
        return "issued"

    def held(self, contact_id: int) -> list[Coupon]:
        """The coupons the contact can use now or later: issued, unexpired, unredeemed."""
        q = (
            select(Coupon)
            .where(Coupon.contact_id == contact_id, Coupon.status == "issued")
            .where((Coupon.expires_at.is_(None)) | (Coupon.expires_at > self.now))
            .order_by(Coupon.expires_at, Coupon.id)
        )
        return list(self.session.scalars(q))

    def expire(self) -> int:
        """The expiry job: issued coupons past their end become ``expired``."""
        q = select(Coupon.id, Coupon.contact_id).where(
            Coupon.status == "issued", Coupon.expires_at <= self.now
        )
        rows = self.session.execute(q).all()
        for chunk in chunked([r.id for r in rows], 1_000):
            self.session.execute(
                update(Coupon).where(Coupon.id.in_(chunk), Coupon.status == "issued").values(status="expired")
            )
        note_changed(self.session, [r.contact_id for r in rows if r.contact_id is not None])
        return len(rows)
