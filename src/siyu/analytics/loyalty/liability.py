"""Points liability and breakage (``points_liability``, 积分负债与沉淀率).

* **Outstanding** points are what is left of awards (``remaining``) that are still ``active``
  or ``pending``: points a member can still spend, or will be able to once their refund window
  passes. Liability = outstanding × the programme's ``point_value`` (¥ per point), grouped by
  the brand's month in which the points expire (no month: points that never expire). It is the
  ledger as it stands when the analysis runs: the ledger keeps no past balances to replay.
  Awards whose expiry has passed but that the expiry job has not processed yet stay in their
  (past) month, so a late job shows.
* **Breakage** over the range: points expired ÷ (expired + spent), by the time the expiry or
  spend was recorded; expired points are also shown in ¥. Clawbacks (refunds) are neither: the
  points were never really earned. With nothing expired or spent the rate is unknown, not 0.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from pydantic import Field
from sqlalchemy import func, select

from siyu.analytics.base import AnalyticsError, Day, register
from siyu.analytics.loyalty.base import (
    LocalMonth,
    RangeParams,
    RecordRunner,
    RowsResult,
    month_of,
    ratio,
    yuan,
)
from siyu.analytics.zone import Zone
from siyu.store.models import PointsEntry

if TYPE_CHECKING:
    import plotly.graph_objects as go

OUTSTANDING = ("active", "pending")
SCHEMA = pa.schema(
    [
        ("month", pa.string()),
        ("active_points", pa.int64()),
        ("pending_points", pa.int64()),
        ("points", pa.int64()),
        ("liability", pa.float64()),
    ]
)
LABELS = {
    "zh": {
        "active": "可用积分",
        "pending": "待生效积分",
        "never": "永久有效",
        "month": "到期月份",
        "title": "积分负债（按到期月份，元）",
    },
    "en": {
        "active": "Active points",
        "pending": "Pending points",
        "never": "never expires",
        "month": "Month of expiry",
        "title": "Points liability by month of expiry (¥)",
    },
}


class LiabilityParams(RangeParams):
    from_: Day | None = Field(
        default=None, alias="from", description="First day of the breakage period (default: all time)."
    )
    to: Day | None = Field(default=None, description="Last day of the breakage period (default: today).")


class LiabilityResult(RowsResult):
    kind = "points_liability"

    schema = SCHEMA
    params: LiabilityParams

    def figure(self, lang: str = "en") -> go.Figure:
        import plotly.graph_objects as go

        text = LABELS.get(lang, LABELS["en"])
        value = self.info["point_value"]
        months = [r["month"] or text["never"] for r in self.rows]
        fig = go.Figure()
        for status in ("active", "pending"):
            points = [r[f"{status}_points"] for r in self.rows]
            fig.add_bar(
                name=text[status],
                x=months,
                y=[round(n * value, 2) for n in points],
                customdata=points,
                hovertemplate="%{x}: ¥%{y:,.2f} (%{customdata:,})<extra></extra>",
            )
        fig.update_layout(
            barmode="stack",
            title=text["title"],
            xaxis={"title": text["month"], "type": "category"},
            yaxis={"tickprefix": "¥", "rangemode": "tozero"},
        )
        return fig


@register
class LiabilityRunner(RecordRunner[LiabilityParams, LiabilityResult]):
    """Outstanding points × point value by month of expiry, and breakage over a range."""

    kind: ClassVar[str] = "points_liability"
    params_model = LiabilityParams

    def compute(self) -> LiabilityResult:
        p = self.params
        to = p.to or self.today()
        if p.from_ is not None and to < p.from_:
            raise AnalyticsError("to", f"{to.isoformat()} is before from ({p.from_.isoformat()})")
        point_value, configured = self.point_value()
        rows = self._outstanding(point_value)
        active = sum(r["active_points"] for r in rows)
        pending = sum(r["pending_points"] for r in rows)
        info: dict[str, Any] = {
            "from": p.from_.isoformat() if p.from_ else None,
            "to": to.isoformat(),
            "timezone": self.zone_name,
            "point_value": float(point_value),
            "programme": configured,
            "outstanding": {
                "active_points": active,
                "pending_points": pending,
                "points": active + pending,
                "liability": yuan((active + pending) * point_value),
            },
            "breakage": self._breakage(p.from_, to, point_value),
        }
        return LiabilityResult(p, info, rows)

    def _outstanding(self, point_value: Decimal) -> list[dict[str, Any]]:
        award = [PointsEntry.kind == "award", PointsEntry.status.in_(OUTSTANDING), PointsEntry.remaining > 0]
        span = self.rows(
            select(func.min(PointsEntry.expires_at), func.max(PointsEntry.expires_at)).where(*award)
        )
        first, last = span[0] if span else (None, None)
        zone = Zone.over(self.zone_name, _day(first), _day(last))
        month = LocalMonth(PointsEntry.expires_at, zone).label("month")
        stmt = (
            select(month, PointsEntry.status, func.sum(PointsEntry.remaining).label("points"))
            .where(*award)
            .group_by(month, PointsEntry.status)
        )
        acc: dict[str | None, dict[str, int]] = defaultdict(lambda: {"active": 0, "pending": 0})
        for r in self.rows(stmt):
            acc[month_of(r.month, zone)][r.status] += int(r.points or 0)
        ordered = sorted(acc, key=lambda m: (m is None, m or ""))
        return [
            {
                "month": m,
                "active_points": acc[m]["active"],
                "pending_points": acc[m]["pending"],
                "points": acc[m]["active"] + acc[m]["pending"],
                "liability": yuan((acc[m]["active"] + acc[m]["pending"]) * point_value),
            }
            for m in ordered
        ]

    def _breakage(self, start: date | None, to: date, point_value: Decimal) -> dict[str, Any]:
        conds = [PointsEntry.kind.in_(("spend", "expire", "award", "clawback"))]
        if start is not None:
            conds.append(PointsEntry.created_at >= self.instant(start))
        conds.append(PointsEntry.created_at < self.bounds(to, to)[1])
        stmt = (
            select(PointsEntry.kind, PointsEntry.status, func.sum(PointsEntry.points).label("points"))
            .where(*conds)
            .group_by(PointsEntry.kind, PointsEntry.status)
        )
        sums: dict[str, int] = defaultdict(int)
        for r in self.rows(stmt):
            if r.kind == "award" and r.status == "voided":
                continue  # refunded while pending: never earned
            sums[r.kind] += abs(int(r.points or 0))
        expired, spent = sums["expire"], sums["spend"]
        return {
            "awarded_points": sums["award"],
            "spent_points": spent,
            "expired_points": expired,
            "clawed_back_points": sums["clawback"],
            "breakage_rate": ratio(expired, expired + spent),
            "expired_value": yuan(expired * point_value),
            "spent_value": yuan(spent * point_value),
        }


def _day(at: datetime | None) -> date:
    """A day of the expiry span for ``Zone.over`` (any day when there is none)."""
    return at.date() if at is not None else date(2000, 1, 1)
