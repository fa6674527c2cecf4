"""Retention: cohorts by a start event, counted back by a return event, period by period.

Definitions (docs/analytics/retention.md):

* Periods: hour, day, week (from Monday) or month, UTC. ``from``/``to`` are widened to whole
  periods; the cohorts are the periods from the one containing ``from`` to the one containing
  ``to``, and return events are read up to the end of that last period.
* first_time: a contact's cohort is the period of its first-ever start event (all history); a
  contact whose first start event falls before the first cohort period is in no cohort.
  recurring: a contact is in every cohort in whose period it did the start event.
* ``values[k]`` ("on"): contacts of the cohort that did the return event in period k after the
  cohort's period (k = 0 is the cohort period itself; with the same event and filters for start
  and return it is the whole cohort). "on_or_after": in period k or any later period up to the
  end. Only periods that have started by ``to`` are listed, and at most ``periods`` of them.
* average[k]: the cohort-size-weighted mean over the cohorts whose period k has started:
  sum of their values[k] / sum of their sizes.

Query. One statement: the cohort table (first-time: ``min(timestamp)`` per contact over the start
events; recurring: distinct contact and period), the distinct (contact, period) pairs of return
events in the window, their join on the contact where the return period is not before the
cohort's, grouped to counts per (cohort, period) — plus the cohort sizes, in a UNION ALL over the
same CTE. Periods are integers (``activity.base``), so k is a subtraction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import Field, field_validator, model_validator
from sqlalchemy import BigInteger, and_, cast, func, literal_column, null, select, union_all

from siyu.analytics.activity.base import (
    RangeParams,
    RetentionPeriod,
    WhereField,
    event_conditions,
    event_label,
    period_label,
    period_sql,
    period_start,
)
from siyu.analytics.base import QueryRunner, register
from siyu.analytics.result import AnalysisResult
from siyu.analytics.zone import zone_name
from siyu.segments.schemas import PropertyFilter
from siyu.warehouse.query import EVENTS

if TYPE_CHECKING:
    import plotly.graph_objects as go

MAX_PERIODS = 400


class RetentionParams(RangeParams):
    """Cohorts of contacts by a start event; how many come back with a return event."""

    span_field = "period"
    max_periods = MAX_PERIODS

    start_event: str = Field(
        min_length=1,
        max_length=200,
        description='Event that puts a contact in a cohort; "*": any customer activity.',
    )
    return_event: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description='Event that counts as coming back; "*": any customer activity. Default: the start event.',
    )
    start_where: list[PropertyFilter] = WhereField
    return_where: list[PropertyFilter] = WhereField
    type: Literal["first_time", "recurring"] = Field(
        default="first_time",
        description="first_time: cohort = period of the contact's first-ever start event; recurring: "
        "every period in which it did the start event. Also accepts first-time.",
    )
    period: RetentionPeriod = Field(default="week", description="hour, day, week (from Monday) or month.")
    periods: int | None = Field(
        default=None,
        ge=1,
        le=MAX_PERIODS,
        description="Periods followed after the cohort's (k = 0 … periods-1). Default: as many as fit "
        "from `from` to `to`.",
    )
    mode: Literal["on", "on_or_after"] = Field(
        default="on",
        description="on: came back in period k; on_or_after: in period k or any later one (up to `to`).",
    )

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        """The CLI spells values with dashes (first-time, on-or-after); accept both."""
        if isinstance(data, dict):
            data = dict(data)
            for key in ("type", "mode"):
                if isinstance(data.get(key), str):
                    data[key] = data[key].replace("-", "_")
        return data

    @field_validator("start_event", "return_event")
    @classmethod
    def _no_control(cls, v: str | None) -> str | None:
        if v is not None and any(ord(ch) < 32 for ch in v):
            raise ValueError("no control characters")
        return v


class RetentionResult(AnalysisResult):
    kind = "retention"

    def __init__(self, params: RetentionParams, cohorts: list[dict[str, Any]], periods: int) -> None:
        super().__init__()
        self.params = params
        #: one dict per cohort period: number, start (label), size, values
        self.cohorts = cohorts
        self.periods = periods

    def average(self) -> list[dict[str, Any]]:
        """Per k: contacts and eligible (sizes of cohorts whose period k has started), rate."""
        out = []
        for k in range(self.periods):
            listed = [c for c in self.cohorts if len(c["values"]) > k]
            if not listed:
                break
            contacts = sum(c["values"][k] for c in listed)
            eligible = sum(c["size"] for c in listed)
            out.append(
                {
                    "period": k,
                    "rate": contacts / eligible if eligible else None,
                    "contacts": contacts,
                    "eligible": eligible,
                }
            )
        return out

    def rate(self, k: int) -> float | None:
        """The average retention rate of period k (D1 of daily retention is ``rate(1)``)."""
        avg = self.average()
        return avg[k]["rate"] if k < len(avg) else None

    def frame(self) -> pa.Table:
        rows = [
            (c["number"], c["size"], k, n, n / c["size"] if c["size"] else None)
            for c in self.cohorts
            for k, n in enumerate(c["values"])
        ]
        period = self.params.period
        starts = [period_start(period, r[0]) for r in rows]
        return pa.table(
            {
                "cohort": pa.array(starts, pa.timestamp("us"))
                if period == "hour"
                else pa.array([s.date() for s in starts], pa.date32()),
                "size": pa.array([r[1] for r in rows], pa.int64()),
                "period": pa.array([r[2] for r in rows], pa.int64()),
                "contacts": pa.array([r[3] for r in rows], pa.int64()),
                "rate": pa.array([r[4] for r in rows], pa.float64()),
            }
        )

    def payload(self) -> dict[str, Any]:
        p = self.params
        return {
            "type": p.type,
            "period": p.period,
            "mode": p.mode,
            "start_event": event_label(p.start_event),
            "return_event": event_label(p.return_event or p.start_event),
            "from": p.from_.isoformat(),
            "to": p.to.isoformat(),
            "timezone": zone_name(p),
            "periods": self.periods,
            "cohorts": [
                {"start": c["start"], "size": c["size"], "values": c["values"]} for c in self.cohorts
            ],
            "average": self.average(),
        }

    def figure(self) -> go.Figure:
        """A heatmap of the cohort table (rates, counts as text) under the average row."""
        import plotly.graph_objects as go

        avg = self.average()
        labels = ["average 平均"] + [f"{c['start']} ({c['size']})" for c in self.cohorts]
        z: list[list[float | None]] = [[a["rate"] for a in avg]]
        text: list[list[str]] = [[f"{a['rate']:.1%}" if a["rate"] is not None else "" for a in avg]]
        for c in self.cohorts:
            z.append([n / c["size"] if c["size"] else None for n in c["values"]])
            text.append([str(n) for n in c["values"]])
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=[f"{self.params.period} {k}" for k in range(len(avg))],
                y=labels,
                text=text,
                texttemplate="%{text}",
                colorscale="Blues",
                zmin=0,
                zmax=1,
                colorbar={"title": "rate", "tickformat": ".0%"},
            )
        )
        fig.update_layout(title="Retention 留存", yaxis={"autorange": "reversed"})
        return fig


@register
class RetentionRunner(QueryRunner[RetentionParams, RetentionResult]):
    kind = "retention"
    params_model = RetentionParams

    def calculate(self) -> RetentionResult:
        p = self.params
        first, last = p.period_bounds(p.period)
        n_cohorts = last - first + 1
        horizon = p.periods or n_cohorts
        zone = p.zone(p.period)
        lo, hi = zone.utc(period_start(p.period, first)), zone.utc(period_start(p.period, last + 1))
        ts = EVENTS.c.timestamp
        local = zone.local
        start = event_conditions(p.start_event, p.start_where)
        back_conds = event_conditions(p.return_event or p.start_event, p.return_where)

        if p.type == "first_time":
            # The first-ever start event: all history before the window's end is read.
            cohort = (
                select(EVENTS.c.contact_id, period_sql(p.period, local(func.min(ts))).label("c"))
                .where(*start, ts < hi)
                .group_by(EVENTS.c.contact_id)
                .having(func.min(ts) >= lo)
                .cte("cohort")
            )
        else:
            cohort = (
                select(EVENTS.c.contact_id, period_sql(p.period, local(ts)).label("c"))
                .where(*start, ts >= lo, ts < hi)
                .distinct()
                .cte("cohort")
            )
        back = (
            select(EVENTS.c.contact_id, period_sql(p.period, local(ts)).label("p"))
            .where(*back_conds, ts >= lo, ts < hi)
            .distinct()
            .cte("back")
        )
        joined = and_(back.c.contact_id == cohort.c.contact_id, back.c.p >= cohort.c.c)
        sizes = select(cohort.c.c, cast(null(), BigInteger).label("p"), func.count().label("n")).group_by(
            cohort.c.c
        )
        if p.mode == "on":
            within = back.c.p < cohort.c.c + literal_column(str(horizon))
            counts = (
                select(cohort.c.c, back.c.p, func.count().label("n"))
                .select_from(cohort.join(back, and_(joined, within)))
                .group_by(cohort.c.c, back.c.p)
            )
        else:
            # Per (contact, cohort), the last period it came back in: "k or later" holds for
            # every k up to it.
            latest = (
                select(cohort.c.contact_id, cohort.c.c, func.max(back.c.p).label("p"))
                .select_from(cohort.join(back, joined))
                .group_by(cohort.c.contact_id, cohort.c.c)
                .subquery("latest")
            )
            counts = select(latest.c.c, latest.c.p, func.count().label("n")).group_by(latest.c.c, latest.c.p)
        rows = self.fetch(union_all(sizes, counts)).to_pylist()

        size: dict[int, int] = {}
        found: dict[tuple[int, int], int] = {}
        for row in rows:
            c, per, n = int(row["c"]), row["p"], int(row["n"])
            if per is None:
                size[c] = n
            else:
                found[(c, int(per))] = n
        cohorts = []
        for c in range(first, last + 1):
            shown = min(horizon, last - c + 1)  # periods that have started by `to`
            if p.mode == "on":
                values = [found.get((c, c + k), 0) for k in range(shown)]
            else:
                values = [sum(found.get((c, q), 0) for q in range(c + k, last + 1)) for k in range(shown)]
            cohorts.append(
                {"number": c, "start": period_label(p.period, c), "size": size.get(c, 0), "values": values}
            )
        return RetentionResult(p, cohorts, horizon)
