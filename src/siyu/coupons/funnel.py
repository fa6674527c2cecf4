"""A campaign's funnel: issued → redeemed, the discount given, the GMV of the orders that used it,
and the incremental GMV against the holdout (contacts the campaign deliberately skipped).

Incremental GMV compares net order value per contact (total minus refunds) between the contacts
given a coupon and the held-out ones, over the same window (first issue or hold-out → the end of
validity, or now); the difference per contact times the contacts given a coupon is the lift the
campaign bought. Helper analytics (charts, CSV) read these figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from siyu.coupons.templates import TemplateService
from siyu.store.models.base import utcnow
from siyu.store.models.commerce import Order
from siyu.store.models.coupons import Coupon, CouponHoldout, CouponRedemption

CENT = Decimal("0.01")


@dataclass
class Funnel:
    template: str
    issued: int
    redeemed: int
    redemption_rate: float | None
    discount: Decimal
    gmv: Decimal
    window_start: datetime | None
    window_end: datetime | None
    issued_contacts: int
    holdout_contacts: int
    gmv_per_issued: Decimal | None
    gmv_per_holdout: Decimal | None
    incremental_gmv: Decimal | None
    roi: float | None  # (incremental GMV − discount) / discount

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, Decimal):
                out[k] = str(v)
            elif isinstance(v, datetime):
                out[k] = v.isoformat()
        return out


def _net(session: Session, contacts: Any, start: datetime, end: datetime) -> Decimal:
    q = select(func.coalesce(func.sum(Order.total - Order.refunded), 0)).where(
        Order.contact_id.in_(contacts), Order.ordered_at >= start, Order.ordered_at <= end
    )
    return Decimal(session.scalar(q) or 0)


def funnel(session: Session, template_key: str, *, now: datetime | None = None) -> Funnel:
    now = now or utcnow()
    t = TemplateService(session, now=now).get(template_key)
    given = Coupon.template_id == t.id
    issued = int(session.scalar(select(func.count()).where(given, Coupon.issued_at.is_not(None))) or 0)
    redeemed = int(session.scalar(select(func.count()).where(given, Coupon.status == "redeemed")) or 0)
    won = and_(CouponRedemption.template_id == t.id, CouponRedemption.status == "succeeded")
    discount = Decimal(
        session.scalar(select(func.coalesce(func.sum(CouponRedemption.discount), 0)).where(won)) or 0
    )
    gmv_q = select(func.coalesce(func.sum(Order.total - Order.refunded), 0)).join(
        CouponRedemption,
        and_(CouponRedemption.order_source == Order.source, CouponRedemption.order_no == Order.order_no),
    )
    gmv = Decimal(session.scalar(gmv_q.where(won)) or 0)
    starts = [
        session.scalar(select(func.min(Coupon.issued_at)).where(given)),
        session.scalar(select(func.min(CouponHoldout.at)).where(CouponHoldout.template_id == t.id)),
    ]
    start = min((s for s in starts if s is not None), default=None)
    last = t.valid_until or session.scalar(select(func.max(Coupon.expires_at)).where(given))
    end = min(now, last) if last else now
    issued_ids = select(Coupon.contact_id).where(given, Coupon.contact_id.is_not(None)).distinct()
    held_ids = select(CouponHoldout.contact_id).where(CouponHoldout.template_id == t.id)
    n_issued = int(session.scalar(select(func.count()).select_from(issued_ids.subquery())) or 0)
    n_held = int(session.scalar(select(func.count()).select_from(held_ids.subquery())) or 0)
    per_issued = per_held = incremental = None
    roi = None
    if start is not None and n_issued:
        per_issued = (_net(session, issued_ids, start, end) / n_issued).quantize(CENT)
    if start is not None and n_held:
        per_held = (_net(session, held_ids, start, end) / n_held).quantize(CENT)
    if per_issued is not None and per_held is not None:
        incremental = ((per_issued - per_held) * n_issued).quantize(CENT)
        if discount > 0:
            roi = round(float((incremental - discount) / discount), 4)
    return Funnel(
        template=t.key,
        issued=issued,
        redeemed=redeemed,
        redemption_rate=round(redeemed / issued, 4) if issued else None,
        discount=discount.quantize(CENT),
        gmv=gmv.quantize(CENT),
        window_start=start,
        window_end=end if start is not None else None,
        issued_contacts=n_issued,
        holdout_contacts=n_held,
        gmv_per_issued=per_issued,
        gmv_per_holdout=per_held,
        incremental_gmv=incremental,
        roi=roi,
    )
