"""Lifecycle: per period, new / returning / resurrecting / dormant contacts.

Definitions (as the leading open-source product-analytics tool; docs/analytics/activity.md). For
a period P in the range, among contacts that did the event:

* new: active in P, P is the contact's creation period (``contacts.created_at``), and it was
  never active before P;
* returning: active in P and in the period before P;
* resurrecting: active in P, not in the period before, and not new;
* dormant: active in the period before P but not in P, reported as a negative number.

Reading. One scan of the events from one period before the first shown period to the end of the
last, folded into one bitmap of active periods per contact (``activity.base``), joined to the
contact's creation period. Because only one earlier period is read, "never active before P" is
completed by one more look: contacts created in the range that have any matching event before
the scanned window (those are never new, whatever the window shows).
"""

from __future__ import annotations

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
    bitmap_columns,
    event_conditions,
    event_label,
    period_label,
    period_sql,
    period_start,
    unpack,
    word_names,
    words_of,
)
from siyu.analytics.base import QueryRunner, register
from siyu.analytics.result import AnalysisResult
from siyu.analytics.zone import Zone, zone_name
from siyu.segments.schemas import PropertyFilter
from siyu.warehouse.query import CONTACTS, EVENTS

if TYPE_CHECKING:
    import plotly.graph_objects as go

STATUSES = ("new", "returning", "resurrecting", "dormant")
_CHUNK = 1 << 16


class LifecycleParams(RangeParams):
    """New / returning / resurrecting / dormant contacts per period from ``from`` to ``to``."""

    span_field = "period"

    period: Period = Field(default="week", description="Period: day, week (from Monday) or month.")
    event: str | None = EventField
    where: list[PropertyFilter] = WhereField


class LifecycleResult(AnalysisResult):
    kind = "lifecycle"

    def __init__(self, params: LifecycleParams, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.params = params
        #: one dict per period: number, period (label), new, returning, resurrecting, dormant
        self.rows = rows

    def frame(self) -> pa.Table:
        start = [period_start(self.params.period, r["number"]).date() for r in self.rows]
        cols: dict[str, pa.Array] = {"period": pa.array(start, pa.date32())}
        for status in STATUSES:
            cols[status] = pa.array([r[status] for r in self.rows], pa.int64())
        return pa.table(cols)

    def payload(self) -> dict[str, Any]:
        return {
            "period": self.params.period,
            "from": self.params.from_.isoformat(),
            "to": self.params.to.isoformat(),
            "timezone": zone_name(self.params),
            "event": event_label(self.params.event),
            "periods": [{"period": r["period"], **{s: r[s] for s in STATUSES}} for r in self.rows],
        }

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        x = [r["period"] for r in self.rows]
        colours = {"new": "#2ca02c", "returning": "#1f77b4", "resurrecting": "#ff7f0e", "dormant": "#d62728"}
        fig = go.Figure(
            [go.Bar(x=x, y=[r[s] for r in self.rows], name=s, marker_color=colours[s]) for s in STATUSES]
        )
        fig.update_layout(barmode="relative", title="Lifecycle 生命周期", yaxis={"title": "contacts"})
        return fig


@register
class LifecycleRunner(QueryRunner[LifecycleParams, LifecycleResult]):
    kind = "lifecycle"
    params_model = LifecycleParams

    def calculate(self) -> LifecycleResult:
        p = self.params
        first, last = p.period_bounds(p.period)
        origin = first - 1  # bit 0: the period before the first shown one
        n_bits = last - origin + 1
        zone = Zone.over(p.timezone, period_start(p.period, origin).date(), p.to)
        lo, hi = zone.utc(period_start(p.period, origin)), zone.utc(period_start(p.period, last + 1))
        shown_from = zone.utc(period_start(p.period, first))
        conds = event_conditions(p.event, p.where)
        pn = period_sql(p.period, zone.local(EVENTS.c.timestamp))
        bitmaps = (
            select(EVENTS.c.contact_id, *bitmap_columns(pn - literal_column(str(origin)), n_bits))
            .where(
                *conds,
                EVENTS.c.timestamp >= lo,
                EVENTS.c.timestamp < hi,
            )
            .group_by(EVENTS.c.contact_id)
            .subquery("bitmaps")
        )
        # Contacts created in the shown range that were active before the scanned window.
        earlier = (
            select(EVENTS.c.contact_id)
            .where(
                *conds,
                EVENTS.c.timestamp < lo,
                EVENTS.c.contact_id.in_(select(CONTACTS.c.id).where(CONTACTS.c.created_at >= shown_from)),
            )
            .distinct()
            .subquery("earlier")
        )
        created = period_sql(p.period, zone.local(CONTACTS.c.created_at)) - literal_column(str(origin))
        stmt = select(
            *(bitmaps.c[n] for n in word_names(n_bits)),
            created.label("created"),
            earlier.c.contact_id.is_not(None).label("earlier"),
        ).select_from(
            bitmaps.outerjoin(CONTACTS, CONTACTS.c.id == bitmaps.c.contact_id).outerjoin(
                earlier, earlier.c.contact_id == bitmaps.c.contact_id
            )
        )
        table = self.fetch(stmt)
        counts = _count(table, n_bits)
        rows = []
        for i in range(1, n_bits):
            number = origin + i
            rows.append(
                {
                    "number": number,
                    "period": period_label(p.period, number),
                    "new": int(counts["new"][i]),
                    "returning": int(counts["returning"][i]),
                    "resurrecting": int(counts["active"][i] - counts["new"][i] - counts["returning"][i]),
                    "dormant": -int(counts["dormant"][i]),
                }
            )
        return LifecycleResult(p, rows)


def _count(table: pa.Table, n_bits: int) -> dict[str, np.ndarray]:
    """Per bit position: active, returning (active and active before), dormant (active before,
    not now) and new contacts."""
    words = words_of(table, n_bits)
    if table.num_rows:
        created = np.asarray(table.column("created").to_numpy(zero_copy_only=False), dtype=np.float64)
        earlier = np.asarray(table.column("earlier").to_numpy(zero_copy_only=False), dtype=bool)
    else:
        created, earlier = np.zeros(0), np.zeros(0, dtype=bool)
    out = {k: np.zeros(n_bits, dtype=np.int64) for k in ("active", "returning", "dormant", "new")}
    for i in range(0, len(words), _CHUNK):
        bits = unpack(words[i : i + _CHUNK], n_bits).astype(bool)
        now, before = bits[:, 1:], bits[:, :-1]
        out["active"] += bits.sum(axis=0)
        out["returning"][1:] += (now & before).sum(axis=0)
        out["dormant"][1:] += (before & ~now).sum(axis=0)
        # Every row has a bit set (it comes from a matching event in the window).
        first_active = bits.argmax(axis=1)
        is_new = (first_active == created[i : i + _CHUNK]) & ~earlier[i : i + _CHUNK]
        out["new"] += np.bincount(first_active[is_new], minlength=n_bits)[:n_bits]
    return out
