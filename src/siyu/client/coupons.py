"""Python API for coupons: ``s.coupons``. Templates (campaigns), codes, issuing, validating and
redeeming, a contact's coupons, the funnel and the abuse report. Like the CLI it acts with the
database's own authority; the REST API and the console check roles."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.context import AppContext
from siyu.coupons import abuse, codes
from siyu.coupons.funnel import funnel
from siyu.coupons.service import CouponService, OrderContext
from siyu.coupons.templates import TemplateService, template_json
from siyu.profiles import views
from siyu.store.models.commerce import Order
from siyu.store.models.coupons import Coupon, CouponTemplate


def coupon_json(c: Coupon, template: str | None = None) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {
        "code": c.code,
        "template": template,
        "status": c.status,
        "contact_id": c.contact_id,
        "issued_by": c.issued_by,
        "issued_at": iso(c.issued_at),
        "valid_from": iso(c.valid_from),
        "expires_at": iso(c.expires_at),
        "redeemed_at": iso(c.redeemed_at),
        "order_source": c.order_source,
        "order_id": c.order_no,
        "discount": None if c.discount is None else str(c.discount),
    }


def _money(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


class CouponsClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # --- templates -----------------------------------------------------------------------------
    def templates(self, status: str | None = None) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [template_json(t) for t in TemplateService(s).list(status=status)]

    def template(self, key: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return template_json(TemplateService(s).get(key))

    def create_template(self, **fields: Any) -> dict[str, Any]:
        """``key``, ``name``, ``kind`` (fixed, percent, threshold, free_shipping), ``amount``,
        validity (``valid_until`` or ``valid_days``) and the rules; raises ``CouponError``
        naming the field of a bad value."""
        with self.ctx.db.session() as s:
            return template_json(TemplateService(s).create(fields))

    def update_template(self, key: str, **changes: Any) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return template_json(TemplateService(s).update(key, changes))

    def set_status(self, key: str, status: str) -> dict[str, Any]:
        """``active``, ``paused`` (no issuing, no redeeming) or ``ended``."""
        with self.ctx.db.session() as s:
            return template_json(TemplateService(s).set_status(key, status))

    # --- codes -------------------------------------------------------------------------------
    def generate(self, key: str, count: int, length: int = 10) -> list[str]:
        """``count`` unassigned codes for the template, handed out by later issues."""
        with self.ctx.db.session() as s:
            return codes.generate(s, TemplateService(s).get(key), count, length=length)

    def import_codes(self, key: str, text: str) -> dict[str, Any]:
        """Codes from CSV text; ``{"added": n, "errors": [{"row", "code", "reason"}]}``."""
        with self.ctx.db.session() as s:
            return codes.import_codes(s, TemplateService(s).get(key), text).as_json()

    # --- issue, validate, redeem -------------------------------------------------------------------
    def _contact(self, s: Session, who: int | str) -> int:
        if isinstance(who, int):
            return who
        return views.find_contact_id(self.ctx.profiles(s), self.ctx.parser, who)

    def issue(
        self, key: str, contact: int | str, issued_by: str = "api", external_id: str | None = None
    ) -> dict[str, Any] | None:
        """A coupon for the contact (an id, or an identifier such as a phone); None when the
        contact is in the template's holdout. A repeated ``external_id`` changes nothing."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            c = CouponService(s).issue(key, cid, issued_by=issued_by, external_id=external_id)
            return None if c is None else coupon_json(c, key)

    def _order(
        self, s: Session, order_id: str, source: str, amount: Any, contact: int | str | None, **extra: Any
    ) -> OrderContext:
        """The order as given; the amount and contact of a booked order fill what is missing."""
        booked = s.scalar(select(Order).where(Order.source == source, Order.order_no == order_id))
        value = _money(amount)
        cid = self._contact(s, contact) if contact not in (None, "") else None
        if booked is not None:
            value = booked.total + booked.discount if value is None else value
            cid = booked.contact_id if cid is None else cid
        products = [str(p) for p in extra.pop("products", None) or []]
        shipping = _money(extra.pop("shipping", None))
        return OrderContext(
            source, order_id, value, contact_id=cid, product_ids=products, shipping=shipping, **extra
        )

    def validate(
        self,
        code: str,
        order_id: str,
        source: str = "api",
        amount: Any = None,
        contact: int | str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """What redeeming would do (``ok``, ``reason``, ``discount``); changes nothing."""
        with self.ctx.db.session() as s:
            order = self._order(s, order_id, source, amount, contact, **extra)
            return CouponService(s).validate(code, order).as_json()

    def redeem(
        self,
        code: str,
        order_id: str,
        source: str = "api",
        amount: Any = None,
        contact: int | str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Redeem the code on the order (``channel``, ``products``, ``device``, ``shipping`` may
        be given). The same order and code again return the first result; a code redeemed on
        another order is refused with ``reason`` ``already_redeemed``."""
        with self.ctx.db.session() as s:
            order = self._order(s, order_id, source, amount, contact, **extra)
            return CouponService(s).redeem(code, order).as_json()

    def held(self, contact: int | str) -> list[dict[str, Any]]:
        """The contact's usable coupons (issued, unexpired, unredeemed), soonest expiry first."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            keys = dict(s.execute(select(CouponTemplate.id, CouponTemplate.key)).all())
            return [coupon_json(c, keys.get(c.template_id)) for c in CouponService(s).held(cid)]

    def coupons(self, contact: int | str, limit: int = 100) -> list[dict[str, Any]]:
        """Every coupon of the contact, newest first (redeemed, expired and voided too)."""
        with self.ctx.db.session() as s:
            cid = self._contact(s, contact)
            q = select(Coupon, CouponTemplate.key).join(
                CouponTemplate, CouponTemplate.id == Coupon.template_id
            )
            q = (
                q.where(Coupon.contact_id == cid)
                .order_by(Coupon.issued_at.desc(), Coupon.id.desc())
                .limit(limit)
            )
            return [coupon_json(c, key) for c, key in s.execute(q).all()]

    def expire(self, now: datetime | None = None) -> dict[str, int]:
        with self.ctx.db.session() as s:
            return {"expired": CouponService(s, now=now).expire()}

    # --- figures -----------------------------------------------------------------------------
    def funnel(self, key: str, now: datetime | None = None) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return funnel(s, key, now=now).as_json()

    def abuse(self, now: datetime | None = None, **limits: int) -> list[dict[str, Any]]:
        """Flagged devices, contacts and templates with the reason (see ``siyu.coupons.abuse``);
        ``days``, ``accounts``, ``burst``, ``burst_minutes``, ``guesses``, ``refunds`` tune it."""
        with self.ctx.db.session() as s:
            return [f.as_json() for f in abuse.report(s, now=now, limits=abuse.Thresholds(**limits))]
