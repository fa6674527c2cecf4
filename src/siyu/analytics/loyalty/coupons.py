"""Coupon redemption, funnel and ROI per campaign (``coupons``, 优惠券核销与 ROI).

Per coupon template, over the campaign window [``from``, ``to``] of the brand's days (either end
open when not given); definitions in docs/analytics/loyalty.md:

* **issued**: coupons given to a contact in the window (``issued_at``; generated-but-unassigned
  codes are not issued); **attempted**: those with at least one redemption attempt (failed ones
  too) or redeemed; **redeemed**: those redeemed now (a redemption rolled back by a refund that
  restored or voided the coupon no longer counts). Funnel issued → attempted → redeemed;
  redemption rate = redeemed ÷ issued.
* **discount**: the discount the redeemed coupons gave; **redeemed GMV**: what the redeeming
  orders were paid, net of refunds.
* **incremental GMV** against the holdout (``coupon_holdouts``: contacts the campaign
  deliberately left out): (GMV per issued contact − GMV per held-out contact) × issued contacts,
  where GMV is every order (net of refunds, in ``currency``) the contact placed in the window.
  A contact both issued a coupon and held out counts as issued. **ROI** = (incremental GMV −
  discount) ÷ discount. A template without a holdout has no incremental GMV and no ROI: the
  result says ``no_holdout`` rather than pretend that redeemed GMV was all extra.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from pydantic import Field
from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from siyu.analytics.base import AnalyticsError, register
from siyu.analytics.loyalty.base import RangeParams, RecordRunner, RowsResult, dec, ratio, yuan
from siyu.store.models import Coupon, CouponHoldout, CouponRedemption, CouponTemplate, Order

if TYPE_CHECKING:
    import plotly.graph_objects as go

SCHEMA = pa.schema(
    [
        ("template", pa.string()),
        ("template_name", pa.string()),
        ("issued", pa.int64()),
        ("attempted", pa.int64()),
        ("redeemed", pa.int64()),
        ("redemption_rate", pa.float64()),
        ("discount", pa.float64()),
        ("redeemed_gmv", pa.float64()),
        ("issued_contacts", pa.int64()),
        ("holdout_contacts", pa.int64()),
        ("gmv_per_issued", pa.float64()),
        ("gmv_per_holdout", pa.float64()),
        ("incremental_gmv", pa.float64()),
        ("roi", pa.float64()),
        ("note", pa.string()),
    ]
)
LABELS = {
    "zh": {
        "issued": "发放",
        "attempted": "尝试核销",
        "redeemed": "核销",
        "title": "优惠券漏斗（发放 → 核销）",
    },
    "en": {"issued": "Issued", "attempted": "Attempted", "redeemed": "Redeemed", "title": "Coupon funnel"},
}


def template_choices(session: Session) -> list[tuple[str, str]]:
    """(key, name) of every coupon template, for forms that pick one by its name."""
    stmt = select(CouponTemplate.key, CouponTemplate.name).order_by(CouponTemplate.id)
    return [(str(k), str(n)) for k, n in session.execute(stmt)]


class CouponsParams(RangeParams):
    template: str | None = Field(default=None, max_length=64, description="One template (key); default: all.")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="Orders in this currency.")


class CouponsResult(RowsResult):
    kind = "coupons"

    schema = SCHEMA
    params: CouponsParams

    def figure(self, lang: str = "en") -> go.Figure:
        import plotly.graph_objects as go

        text = LABELS.get(lang, LABELS["en"])
        names = [r["template_name"] for r in self.rows]
        fig = go.Figure()
        for stage in ("issued", "attempted", "redeemed"):
            fig.add_bar(
                name=text[stage],
                x=names,
                y=[r[stage] for r in self.rows],
                customdata=[r["redemption_rate"] for r in self.rows],
                hovertemplate="%{x}: %{y:,}<extra></extra>"
                if stage != "redeemed"
                else "%{x}: %{y:,} (%{customdata:.1%})<extra></extra>",
            )
        fig.update_layout(barmode="group", title=text["title"], xaxis={"type": "category"})
        return fig


@register
class CouponsRunner(RecordRunner[CouponsParams, CouponsResult]):
    """Per coupon template: issued → redeemed, discount, redeemed GMV, incremental GMV and ROI."""

    kind: ClassVar[str] = "coupons"
    params_model = CouponsParams

    def compute(self) -> CouponsResult:
        p = self.params
        lo = self.instant(p.from_) if p.from_ else None
        hi = self.bounds(p.to, p.to)[1] if p.to else None
        templates = {
            r.id: r
            for r in self.rows(
                select(CouponTemplate.id, CouponTemplate.key, CouponTemplate.name).order_by(CouponTemplate.id)
            )
        }
        wanted = None
        if p.template is not None:
            wanted = next((i for i, t in templates.items() if t.key == p.template), None)
            if wanted is None:
                raise AnalyticsError("template", f"no coupon template {p.template!r}")
        funnel = self._funnel(lo, hi, wanted)
        redeemed_gmv = self._redeemed_gmv(lo, hi, wanted)
        arms = self._arms(lo, hi, wanted)
        ids = sorted(set(funnel) | {t for t, _ in arms} | ({wanted} if wanted else set()))
        rows = [self._row(templates[i], funnel.get(i), redeemed_gmv.get(i, Decimal(0)), arms) for i in ids]
        info = {
            "from": p.from_.isoformat() if p.from_ else None,
            "to": p.to.isoformat() if p.to else None,
            "timezone": self.zone_name,
            "currency": p.currency,
        }
        return CouponsResult(p, info, rows)

    # --- queries ------------------------------------------------------------------------------
    def _window(self, column: Any, lo: Any, hi: Any) -> list[Any]:
        conds = []
        if lo is not None:
            conds.append(column >= lo)
        if hi is not None:
            conds.append(column < hi)
        return conds

    def _issued(self, lo: Any, hi: Any, wanted: int | None) -> list[Any]:
        conds = [Coupon.issued_at.is_not(None), Coupon.status != "unassigned", Coupon.contact_id.is_not(None)]
        conds += self._window(Coupon.issued_at, lo, hi)
        if wanted is not None:
            conds.append(Coupon.template_id == wanted)
        return conds

    def _funnel(self, lo: Any, hi: Any, wanted: int | None) -> dict[int, Any]:
        redeemed = Coupon.status == "redeemed"
        tried = exists().where(CouponRedemption.coupon_id == Coupon.id)
        stmt = (
            select(
                Coupon.template_id,
                func.count().label("issued"),
                func.count(Coupon.contact_id.distinct()).label("contacts"),
                func.sum(case((or_(redeemed, tried), 1), else_=0)).label("attempted"),
                func.sum(case((redeemed, 1), else_=0)).label("redeemed"),
                func.sum(case((redeemed, func.coalesce(Coupon.discount, 0)), else_=0)).label("discount"),
            )
            .where(*self._issued(lo, hi, wanted))
            .group_by(Coupon.template_id)
        )
        return {int(r.template_id): r for r in self.rows(stmt)}

    def _redeemed_gmv(self, lo: Any, hi: Any, wanted: int | None) -> dict[int, Decimal]:
        join = and_(Order.source == Coupon.order_source, Order.order_no == Coupon.order_no)
        stmt = (
            select(Coupon.template_id, func.sum(Order.total - Order.refunded).label("gmv"))
            .select_from(Coupon)
            .join(Order, join)
            .where(Coupon.status == "redeemed", *self._issued(lo, hi, wanted))
            .group_by(Coupon.template_id)
        )
        return {int(r.template_id): dec(r.gmv) for r in self.rows(stmt)}

    def _arms(self, lo: Any, hi: Any, wanted: int | None) -> dict[tuple[int, str], tuple[int, Decimal]]:
        """(template, "issued" | "holdout") → (contacts, GMV of their orders in the window)."""
        issued = (
            select(Coupon.template_id, Coupon.contact_id)
            .where(*self._issued(lo, hi, wanted))
            .distinct()
            .cte("issued_contacts")
        )
        held_conds = self._window(CouponHoldout.at, lo, hi)
        if wanted is not None:
            held_conds.append(CouponHoldout.template_id == wanted)
        also_issued = exists().where(
            issued.c.template_id == CouponHoldout.template_id, issued.c.contact_id == CouponHoldout.contact_id
        )
        held = select(
            CouponHoldout.template_id, CouponHoldout.contact_id, literal("holdout").label("arm")
        ).where(*held_conds, ~also_issued)
        arms = union_all(
            select(issued.c.template_id, issued.c.contact_id, literal("issued").label("arm")), held
        ).subquery("arms")
        spend = (
            select(Order.contact_id, func.sum(Order.total - Order.refunded).label("gmv"))
            .where(Order.currency == self.params.currency, *self._window(Order.ordered_at, lo, hi))
            .group_by(Order.contact_id)
            .subquery("spend")
        )
        stmt = (
            select(
                arms.c.template_id,
                arms.c.arm,
                func.count().label("contacts"),
                func.sum(spend.c.gmv).label("gmv"),
            )
            .select_from(arms.outerjoin(spend, spend.c.contact_id == arms.c.contact_id))
            .group_by(arms.c.template_id, arms.c.arm)
        )
        return {(int(r.template_id), str(r.arm)): (int(r.contacts), dec(r.gmv)) for r in self.rows(stmt)}

    # --- one template -------------------------------------------------------------------------
    def _row(
        self,
        template: Any,
        funnel: Any,
        redeemed_gmv: Decimal,
        arms: dict[tuple[int, str], tuple[int, Decimal]],
    ) -> dict[str, Any]:
        issued = int(funnel.issued) if funnel else 0
        redeemed = int(funnel.redeemed or 0) if funnel else 0
        discount = dec(funnel.discount) if funnel else Decimal(0)
        n_issued, gmv_issued = arms.get((template.id, "issued"), (0, Decimal(0)))
        n_held, gmv_held = arms.get((template.id, "holdout"), (0, Decimal(0)))
        per_issued = gmv_issued / n_issued if n_issued else None
        per_held = gmv_held / n_held if n_held else None
        incremental = None
        note = None
        if n_held == 0:
            note = "no_holdout"
        elif per_issued is not None and per_held is not None:
            incremental = (per_issued - per_held) * n_issued
        roi = None
        if incremental is not None:
            roi = ratio(incremental - discount, discount)
            if discount == 0:
                note = "no_discount"
        return {
            "template": template.key,
            "template_name": template.name,
            "issued": issued,
            "attempted": int(funnel.attempted or 0) if funnel else 0,
            "redeemed": redeemed,
            "redemption_rate": ratio(redeemed, issued),
            "discount": yuan(discount),
            "redeemed_gmv": yuan(redeemed_gmv),
            "issued_contacts": n_issued,
            "holdout_contacts": n_held,
            "gmv_per_issued": yuan(per_issued),
            "gmv_per_holdout": yuan(per_held),
            "incremental_gmv": yuan(incremental),
            "roi": roi,
            "note": note,
        }
