"""Member vs non-member repurchase (``member_repurchase``, 会员复购率).

Over a range of the brand's days (definitions in docs/analytics/loyalty.md):

* an order *counts* when it was placed in the range, in ``currency``, and is not fully refunded
  (status ``refunded``, or refunds reaching its total); its value is what was paid net of
  partial refunds (``total − refunded``);
* a *buyer* is a contact with at least one counted order; a *repeat buyer* has two or more;
* a buyer is a *member* when enrolled (开卡) before the end of the range, whatever they did
  later; every other buyer is a non-member;
* repurchase rate = repeat buyers ÷ buyers; AOV (客单价) = net value ÷ counted orders.

One query: counted orders per contact, joined to the membership table, summed per group.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from pydantic import Field
from sqlalchemy import and_, case, func, not_, or_, select

from siyu.analytics.base import AnalyticsError, Day, register
from siyu.analytics.loyalty.base import RangeParams, RecordRunner, RowsResult, dec, ratio, yuan
from siyu.store.models import LoyaltyMember, Order

if TYPE_CHECKING:
    import plotly.graph_objects as go

DEFAULT_DAYS = 365
GROUPS = ("members", "non_members", "all")
LABELS = {
    "zh": {
        "members": "会员",
        "non_members": "非会员",
        "all": "全部",
        "rate": "复购率",
        "aov": "客单价（元）",
        "title": "会员与非会员复购率、客单价",
    },
    "en": {
        "members": "Members",
        "non_members": "Non-members",
        "all": "All",
        "rate": "Repurchase rate",
        "aov": "AOV (¥)",
        "title": "Repurchase rate and AOV, members vs non-members",
    },
}
SCHEMA = pa.schema(
    [
        ("segment", pa.string()),
        ("buyers", pa.int64()),
        ("repeat_buyers", pa.int64()),
        ("repurchase_rate", pa.float64()),
        ("orders", pa.int64()),
        ("gmv", pa.float64()),
        ("aov", pa.float64()),
        ("orders_per_buyer", pa.float64()),
    ]
)


class RepurchaseParams(RangeParams):
    from_: Day | None = Field(default=None, alias="from", description="First day (default: to − 364 days).")
    to: Day | None = Field(default=None, description="Last day, inclusive (default: today, brand's zone).")
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$", description="Orders in this currency.")


def counted_orders(lo: Any, hi: Any, currency: str) -> list[Any]:
    """Conditions of an order that counts: placed in [lo, hi), in ``currency``, not fully refunded."""
    fully_refunded = or_(Order.status == "refunded", and_(Order.total > 0, Order.refunded >= Order.total))
    return [Order.ordered_at >= lo, Order.ordered_at < hi, Order.currency == currency, not_(fully_refunded)]


class RepurchaseResult(RowsResult):
    kind = "member_repurchase"

    schema = SCHEMA
    params: RepurchaseParams

    def payload(self) -> dict[str, Any]:
        by = {r["segment"]: r for r in self.rows}
        m, n = by["members"]["repurchase_rate"], by["non_members"]["repurchase_rate"]
        difference = None if m is None or n is None else round(m - n, 6)
        return {**super().payload(), "difference": difference}

    def figure(self, lang: str = "en") -> go.Figure:
        from plotly.subplots import make_subplots

        text = LABELS.get(lang, LABELS["en"])
        names = [text[r["segment"]] for r in self.rows]
        fig = make_subplots(rows=1, cols=2, subplot_titles=(text["rate"], text["aov"]))
        fig.add_bar(
            x=names,
            y=[r["repurchase_rate"] for r in self.rows],
            name=text["rate"],
            customdata=[[r["repeat_buyers"], r["buyers"]] for r in self.rows],
            hovertemplate="%{x}: %{y:.1%} (%{customdata[0]} / %{customdata[1]})<extra></extra>",
            row=1,
            col=1,
        )
        fig.add_bar(
            x=names,
            y=[r["aov"] for r in self.rows],
            name=text["aov"],
            hovertemplate="%{x}: ¥%{y:,.2f}<extra></extra>",
            row=1,
            col=2,
        )
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=1, col=1)
        fig.update_yaxes(tickprefix="¥", rangemode="tozero", row=1, col=2)
        fig.update_layout(
            title=f"{text['title']} · {self.info['from']} – {self.info['to']}", showlegend=False
        )
        return fig


@register
class RepurchaseRunner(RecordRunner[RepurchaseParams, RepurchaseResult]):
    """Member vs non-member repurchase rate and AOV over a range of days."""

    kind: ClassVar[str] = "member_repurchase"
    params_model = RepurchaseParams

    def compute(self) -> RepurchaseResult:
        p = self.params
        to = p.to or self.today()
        start = p.from_ or to - timedelta(days=DEFAULT_DAYS - 1)
        if to < start:
            raise AnalyticsError("to", f"{to.isoformat()} is before from ({start.isoformat()})")
        lo, hi = self.bounds(start, to)
        per_contact = (
            select(
                Order.contact_id.label("contact_id"),
                func.count().label("orders"),
                func.sum(Order.total - Order.refunded).label("net"),
            )
            .where(*counted_orders(lo, hi, p.currency))
            .group_by(Order.contact_id)
            .subquery("buyers")
        )
        is_member = case((LoyaltyMember.contact_id.is_(None), 0), else_=1).label("member")
        stmt = (
            select(
                is_member,
                func.count().label("buyers"),
                func.sum(case((per_contact.c.orders >= 2, 1), else_=0)).label("repeat_buyers"),
                func.sum(per_contact.c.orders).label("orders"),
                func.sum(per_contact.c.net).label("net"),
            )
            .select_from(
                per_contact.outerjoin(
                    LoyaltyMember,
                    and_(
                        LoyaltyMember.contact_id == per_contact.c.contact_id, LoyaltyMember.enrolled_at < hi
                    ),
                )
            )
            .group_by(is_member)
        )
        found = {int(r.member): r for r in self.rows(stmt)}
        acc: dict[str, list[Any]] = {g: [0, 0, 0, Decimal(0)] for g in GROUPS}
        for member, r in found.items():
            for group in ("members" if member else "non_members", "all"):
                a = acc[group]
                a[0] += int(r.buyers)
                a[1] += int(r.repeat_buyers or 0)
                a[2] += int(r.orders or 0)
                a[3] += dec(r.net)
        rows = [
            {
                "segment": g,
                "buyers": a[0],
                "repeat_buyers": a[1],
                "repurchase_rate": ratio(a[1], a[0]),
                "orders": a[2],
                "gmv": yuan(a[3]),
                "aov": yuan(a[3] / a[2]) if a[2] else None,
                "orders_per_buyer": ratio(a[2], a[0]),
            }
            for g, a in acc.items()
        ]
        info = {
            "from": start.isoformat(),
            "to": to.isoformat(),
            "timezone": self.zone_name,
            "currency": p.currency,
        }
        return RepurchaseResult(p, info, rows)
