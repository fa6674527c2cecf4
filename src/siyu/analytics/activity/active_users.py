"""Activity: DAU/WAU/MAU with DAU/MAU stickiness, and the stickiness histogram.

Definitions (docs/analytics/activity.md):

* A contact is *active* on a day when it did the chosen event (any customer activity by
  default) at some time of that UTC day.
* DAU/WAU/MAU of day t: distinct contacts active on at least one of the 1 / 7 / 30 days ending
  with t (t included); stickiness = DAU / MAU (null when MAU is 0).
* Stickiness histogram: for each n ≥ 1, the contacts active in exactly n distinct intervals
  (days, weeks or months) of the range.

Both read one bitmap of active days (or intervals) per contact (see ``activity.base``): one scan
of the events in range, one hash entry per contact. "Active in the trailing N days" is the
bitmap OR-ed with itself shifted by 1 … N-1 days, so DAU/WAU/MAU are bit counts per position.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from pydantic import Field
from sqlalchemy import literal_column, select

from siyu.analytics.activity.base import (
    EventField,
    Period,
    RangeParams,
    WhereField,
    bit_counts,
    bitmap_columns,
    event_conditions,
    event_label,
    period_label,
    period_sql,
    period_start,
    popcounts,
    spread,
    words_of,
)
from siyu.analytics.base import QueryRunner, register
from siyu.analytics.result import AnalysisResult
from siyu.analytics.zone import Zone, zone_name
from siyu.segments.schemas import PropertyFilter
from siyu.warehouse.query import EVENTS

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Trailing windows, in days, of DAU / WAU / MAU.
WINDOWS = (1, 7, 30)
LOOKBACK = max(WINDOWS) - 1


class ActivityParams(RangeParams):
    """DAU/WAU/MAU for every day from ``from`` to ``to``."""

    event: str | None = EventField
    where: list[PropertyFilter] = WhereField


class ActivityResult(AnalysisResult):
    kind = "activity"

    def __init__(self, params: ActivityParams, days: list[dict[str, Any]]) -> None:
        super().__init__()
        self.params = params
        self.days = days

    def frame(self) -> pa.Table:
        return pa.table(
            {
                "day": pa.array([d["day"] for d in self.days], pa.date32()),
                "dau": pa.array([d["dau"] for d in self.days], pa.int64()),
                "wau": pa.array([d["wau"] for d in self.days], pa.int64()),
                "mau": pa.array([d["mau"] for d in self.days], pa.int64()),
                "stickiness": pa.array([d["stickiness"] for d in self.days], pa.float64()),
            }
        )

    def payload(self) -> dict[str, Any]:
        return {
            "from": self.params.from_.isoformat(),
            "to": self.params.to.isoformat(),
            "timezone": zone_name(self.params),
            "event": event_label(self.params.event),
            "days": [{**d, "day": d["day"].isoformat()} for d in self.days],
        }

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        x = [d["day"] for d in self.days]
        fig = go.Figure()
        for key, name in (("mau", "MAU"), ("wau", "WAU"), ("dau", "DAU")):
            fig.add_trace(go.Scatter(x=x, y=[d[key] for d in self.days], mode="lines", name=name))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[d["stickiness"] for d in self.days],
                mode="lines",
                name="DAU/MAU",
                yaxis="y2",
                line={"dash": "dot"},
            )
        )
        fig.update_layout(
            title="Active contacts 活跃用户",
            yaxis={"title": "contacts"},
            yaxis2={"title": "DAU/MAU", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        )
        return fig


@register
class ActivityRunner(QueryRunner[ActivityParams, ActivityResult]):
    kind = "activity"
    params_model = ActivityParams

    def calculate(self) -> ActivityResult:
        p = self.params
        first_day, last_day = p.period_bounds("day")
        # Bit 0 is LOOKBACK days before `from`: MAU of `from` needs the 29 days before it.
        origin = first_day - LOOKBACK
        n_bits = last_day - origin + 1
        zone = Zone.over(p.timezone, period_start("day", origin).date(), p.to)
        offset = period_sql("day", zone.local(EVENTS.c.timestamp)) - literal_column(str(origin))
        stmt = (
            select(*bitmap_columns(offset, n_bits))
            .where(
                *event_conditions(p.event, p.where),
                EVENTS.c.timestamp >= zone.utc(period_start("day", origin)),
                EVENTS.c.timestamp < zone.utc(period_start("day", last_day + 1)),
            )
            .group_by(EVENTS.c.contact_id)
        )
        words = words_of(self.fetch(stmt), n_bits)
        counts = [bit_counts(spread(words, n), n_bits)[LOOKBACK:] for n in WINDOWS]
        days = []
        for i, (dau, wau, mau) in enumerate(zip(*counts, strict=True)):
            days.append(
                {
                    "day": p.from_ + timedelta(days=i),
                    "dau": int(dau),
                    "wau": int(wau),
                    "mau": int(mau),
                    "stickiness": float(dau) / float(mau) if mau else None,
                }
            )
        return ActivityResult(p, days)


# --- stickiness -----------------------------------------------------------------------------------------
class StickinessParams(RangeParams):
    """Contacts by the number of distinct intervals they were active in, within the range."""

    span_field = "interval"

    interval: Period = Field(default="day", description="Interval counted: day, week (from Monday) or month.")
    event: str | None = EventField
    where: list[PropertyFilter] = WhereField


class StickinessResult(AnalysisResult):
    kind = "stickiness"

    def __init__(self, params: StickinessParams, first: int, last: int, counts: list[int]) -> None:
        super().__init__()
        self.params = params
        self.first = first
        self.last = last
        #: counts[n-1] = contacts active in exactly n intervals
        self.counts = counts

    @property
    def total_intervals(self) -> int:
        return self.last - self.first + 1

    def frame(self) -> pa.Table:
        return pa.table(
            {
                "intervals": pa.array(range(1, len(self.counts) + 1), pa.int64()),
                "contacts": pa.array(self.counts, pa.int64()),
            }
        )

    def payload(self) -> dict[str, Any]:
        total = sum(self.counts)
        return {
            "interval": self.params.interval,
            "from": self.params.from_.isoformat(),
            "to": self.params.to.isoformat(),
            "timezone": zone_name(self.params),
            "first_interval": period_label(self.params.interval, self.first),
            "event": event_label(self.params.event),
            "total_intervals": self.total_intervals,
            "contacts": total,
            "histogram": [
                {"intervals": n, "contacts": c, "share": c / total if total else None}
                for n, c in enumerate(self.counts, start=1)
            ],
        }

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        fig = go.Figure(go.Bar(x=list(range(1, len(self.counts) + 1)), y=self.counts, name="contacts"))
        fig.update_layout(
            title="Stickiness 粘性",
            xaxis={"title": f"active {self.params.interval}s", "dtick": 1},
            yaxis={"title": "contacts"},
        )
        return fig


@register
class StickinessRunner(QueryRunner[StickinessParams, StickinessResult]):
    kind = "stickiness"
    params_model = StickinessParams

    def calculate(self) -> StickinessResult:
        p = self.params
        first, last = p.period_bounds(p.interval)
        n_bits = last - first + 1
        zone = p.zone(p.interval)
        offset = period_sql(p.interval, zone.local(EVENTS.c.timestamp)) - literal_column(str(first))
        stmt = (
            select(*bitmap_columns(offset, n_bits))
            .where(
                *event_conditions(p.event, p.where),
                EVENTS.c.timestamp >= zone.utc(period_start(p.interval, first)),
                EVENTS.c.timestamp < zone.utc(period_start(p.interval, last + 1)),
            )
            .group_by(EVENTS.c.contact_id)
        )
        per_contact = popcounts(words_of(self.fetch(stmt), n_bits))
        counts = np.bincount(per_contact, minlength=n_bits + 1)[1:]
        return StickinessResult(p, first, last, [int(c) for c in counts])
