"""Funnels: how many contacts go through ordered steps within a conversion window.

Definitions (docs/analytics/funnels.md; they follow the leading open-source product-analytics
tool):

* An entry is a step-1 event in [from, to] (UTC days, inclusive). Later steps may happen after
  ``to``, as long as they are within the window: at most ``window_days`` after the entry's step-1
  event, inclusive.
* sequential: steps in order, other events allowed between them; strict: no other activity event
  of the contact between consecutive steps; any_order: step k counts the contacts that did any k
  of the steps within one window that starts at the first of them.
* Events with the same timestamp may be taken in any order; the best outcome counts.
* A contact counts once, at the furthest step reached over all its entries (its counted entry:
  the furthest step, then the one reaching it first, then the latest start).
* Exclusions: a contact whose counted entry has the exclusion event strictly after step
  ``from_step`` and strictly before step ``to_step`` (0-based; up to the end of the window when
  that step was not reached) is removed from the funnel.
* Times to convert: seconds from the previous step to the step, in the counted entry, over the
  contacts that reached the step (median and mean).

The query is one statement (``funnel_sql``); this module validates, runs it and shapes the result.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import select

from siyu.analytics.activity.base import ANY_EVENT, RangeParams, WhereField
from siyu.analytics.base import AnalyticsError, Params, QueryRunner, register
from siyu.analytics.funnels.sqltext import SqlText
from siyu.analytics.funnels.statement import MAX_STEPS, EventDef, Exclusion, FunnelQuery, funnel_sql
from siyu.analytics.result import AnalysisResult
from siyu.analytics.zone import zone_name
from siyu.segments.schemas import PropertyFilter

if TYPE_CHECKING:
    import plotly.graph_objects as go

Mode = Literal["sequential", "strict", "any_order"]
NONE_LABEL = "(none)"
OTHER_LABEL = "(other)"


def _event_name(v: str) -> str:
    if any(ord(ch) < 32 for ch in v):
        raise ValueError("no control characters")
    return v


class FunnelStep(Params):
    event: str = Field(min_length=1, max_length=200, description="Event name of the step.")
    where: list[PropertyFilter] = WhereField

    @field_validator("event")
    @classmethod
    def _name(cls, v: str) -> str:
        return _event_name(v)


class FunnelExclusion(Params):
    """Removes contacts that did ``event`` between two steps of their counted entry."""

    event: str = Field(min_length=1, max_length=200, description="Event that excludes the contact.")
    where: list[PropertyFilter] = WhereField
    from_step: int = Field(
        default=0, ge=0, lt=MAX_STEPS, description="0-based step after which the event excludes."
    )
    to_step: int | None = Field(
        default=None,
        ge=1,
        lt=MAX_STEPS,
        description="0-based step before which the event excludes (up to the end of the window when "
        "the contact did not reach it). Default: the last step.",
    )

    @field_validator("event")
    @classmethod
    def _name(cls, v: str) -> str:
        return _event_name(v)


class FunnelBreakdown(Params):
    by: Literal["first_channel", "attribute"] = Field(
        description="first_channel: the channel of the contact's first touch; attribute: a profile "
        "attribute (give its name)."
    )
    name: str | None = Field(
        default=None, min_length=1, max_length=200, validate_default=True, description="Attribute name."
    )
    limit: int = Field(
        default=25, ge=1, le=500, description="Most common values shown; the rest are grouped as (other)."
    )

    @field_validator("name")
    @classmethod
    def _name_for_attribute(cls, v: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("by") == "attribute" and not v:
            raise ValueError("an attribute breakdown needs the attribute's name")
        if info.data.get("by") == "first_channel" and v:
            raise ValueError("a first_channel breakdown takes no name")
        return v


class FunnelParams(RangeParams):
    """Contacts through ordered steps within a conversion window, step by step."""

    steps: list[FunnelStep] = Field(
        min_length=2, max_length=MAX_STEPS, description="The steps in order (2 to 20)."
    )
    window_days: int = Field(
        default=14, ge=1, le=3650, description="Conversion window in days from the step-1 event, inclusive."
    )
    mode: Mode = Field(
        default="sequential",
        description="sequential: in order, other events allowed between steps; strict: no other event "
        "between consecutive steps; any_order: step k = any k of the steps within the window.",
    )
    breakdown: FunnelBreakdown | None = Field(default=None, description="Split the funnel by a value.")
    exclusions: list[FunnelExclusion] = Field(
        default_factory=list, max_length=20, description="Events that remove a contact from the funnel."
    )

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        """The CLI spells modes with dashes (any-order); accept both."""
        if isinstance(data, dict) and isinstance(data.get("mode"), str):
            data = {**data, "mode": data["mode"].replace("-", "_")}
        return data

    def checked(self) -> list[tuple[int, int]]:
        """Rules across fields (errors name the field); the 1-based step range of each exclusion."""
        n = len(self.steps)
        if self.mode == "any_order":
            seen: dict[str, int] = {}
            for j, step in enumerate(self.steps):
                if step.event == ANY_EVENT:
                    raise AnalyticsError(f"steps[{j}].event", '"*" (any event) cannot be an any_order step')
                if step.event in seen:
                    raise AnalyticsError(
                        f"steps[{j}].event",
                        f"any_order needs a different event per step ({step.event!r} is also step "
                        f"{seen[step.event]})",
                    )
                seen[step.event] = j
        ranges = []
        for i, x in enumerate(self.exclusions):
            field = f"exclusions[{i}]"
            to_step = n - 1 if x.to_step is None else x.to_step
            if to_step > n - 1:
                raise AnalyticsError(f"{field}.to_step", f"the funnel's last step is {n - 1} (0-based)")
            if x.from_step >= to_step:
                raise AnalyticsError(f"{field}.from_step", "must be before to_step")
            if self.mode == "any_order" and (x.from_step, to_step) != (0, n - 1):
                raise AnalyticsError(
                    f"{field}.from_step", "any_order exclusions span the whole funnel (0 to the last step)"
                )
            if x.event == ANY_EVENT:
                raise AnalyticsError(f"{field}.event", '"*" (any event) cannot be an exclusion')
            for j, step in enumerate(self.steps):
                if (step.event, step.where) == (x.event, x.where):
                    raise AnalyticsError(f"{field}.event", f"is step {j} itself; it cannot also exclude")
            ranges.append((x.from_step + 1, to_step + 1))
        return ranges


class FunnelResult(AnalysisResult):
    kind = "funnel"

    def __init__(
        self, params: FunnelParams, steps: list[dict[str, Any]], values: list[dict[str, Any]] | None
    ) -> None:
        super().__init__()
        self.params = params
        #: per step: step, event, label, count, conversions, median/average seconds
        self.steps = steps
        #: per breakdown value: value (and channel id/key), steps; None without a breakdown
        self.values = values

    def frame(self) -> pa.Table:
        """Steps as rows; with a breakdown, the steps of every value (column ``breakdown``)."""
        groups = (
            [(None, self.steps)] if self.values is None else [(v["value"], v["steps"]) for v in self.values]
        )
        cols: dict[str, pa.Array] = {}
        if self.values is not None:
            cols["breakdown"] = pa.array([g for g, steps in groups for _ in steps], pa.string())
        rows = [s for _, steps in groups for s in steps]
        for name, kind in STEP_COLUMNS:
            cols[name] = pa.array([s[name] for s in rows], kind)
        return pa.table(cols)

    def payload(self) -> dict[str, Any]:
        p = self.params
        breakdown = None
        if p.breakdown is not None:
            breakdown = {"by": p.breakdown.by, "name": p.breakdown.name, "values": self.values}
        return {
            "steps": self.steps,
            "breakdown": breakdown,
            "window_days": p.window_days,
            "mode": p.mode,
            "from": p.from_.isoformat(),
            "to": p.to.isoformat(),
            "timezone": zone_name(p),
        }

    def figure(self) -> go.Figure:
        """Bars per step (counts, conversion from step 1 as text); one trace per breakdown value."""
        import plotly.graph_objects as go

        labels = [f"{s['step']}. {s['label']}" for s in self.steps]
        groups = (
            [("all 全部", self.steps)]
            if self.values is None
            else [(v["value"], v["steps"]) for v in self.values]
        )
        fig = go.Figure()
        for name, steps in groups:
            text = [
                f"{s['conversion_from_first']:.1%}" if s["conversion_from_first"] is not None else ""
                for s in steps
            ]
            fig.add_trace(go.Bar(x=labels, y=[s["count"] for s in steps], name=str(name), text=text))
        fig.update_layout(
            title=f"Funnel 漏斗 ({self.params.mode}, {self.params.window_days} days)",
            barmode="group",
            yaxis={"title": "contacts 人数"},
            showlegend=self.values is not None,
        )
        return fig


STEP_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("step", pa.int64()),
    ("event", pa.string()),
    ("label", pa.string()),
    ("count", pa.int64()),
    ("conversion_from_first", pa.float64()),
    ("conversion_from_previous", pa.float64()),
    ("median_seconds_to_convert", pa.float64()),
    ("average_seconds_to_convert", pa.float64()),
]


def step_rows(params: FunnelParams, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-step dicts of one result row (n1…, med2…, avg2…)."""
    n = len(params.steps)
    counts = [int(row[f"n{j}"] or 0) for j in range(1, n + 1)]
    out = []
    for j, step in enumerate(params.steps, 1):
        count = counts[j - 1]
        prev = counts[j - 2] if j > 1 else count
        label = step.event if params.mode != "any_order" else f"any {j} of {n}"
        out.append(
            {
                "step": j,
                "event": step.event,
                "label": label,
                "count": count,
                "conversion_from_first": count / counts[0] if counts[0] else None,
                "conversion_from_previous": count / prev if prev else None,
                "median_seconds_to_convert": _num(row.get(f"med{j}")),
                "average_seconds_to_convert": _num(row.get(f"avg{j}")),
            }
        )
    return out


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


@register
class FunnelRunner(QueryRunner[FunnelParams, FunnelResult]):
    kind = "funnel"
    params_model = FunnelParams

    def calculate(self) -> FunnelResult:
        p = self.params
        ranges = p.checked()
        bd = p.breakdown
        zone = p.zone()  # the range is local days; the window after it is a duration
        f = FunnelQuery(
            steps=tuple(EventDef(s.event, tuple(s.where)) for s in p.steps),
            mode=p.mode,
            window_s=p.window_days * 86400,
            lo=zone.utc(_midnight(p.from_)),
            hi=zone.utc(_midnight(p.to, 1)),
            exclusions=tuple(
                Exclusion(EventDef(x.event, tuple(x.where)), a, b)
                for x, (a, b) in zip(p.exclusions, ranges, strict=True)
            ),
            breakdown=None
            if bd is None
            else (bd.by,)
            if bd.by == "first_channel"
            else (bd.by, bd.name or ""),
            breakdown_limit=bd.limit if bd else 25,
        )
        q = SqlText(self.engine)
        sql, values = q.render(funnel_sql(q, f))
        rows = self.fetch(sql, values).to_pylist()
        if bd is None:
            return FunnelResult(p, step_rows(p, rows[0]), None)
        total = next(r for r in rows if r["total"])
        return FunnelResult(p, step_rows(p, total), self._values(rows))

    def _values(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        p = self.params
        assert p.breakdown is not None
        parts = [r for r in rows if not r["total"]]
        channels = (
            self._channels([r["bkey"] for r in parts if r["kind"] == 1])
            if p.breakdown.by == "first_channel"
            else {}
        )
        out = []
        for r in sorted(parts, key=lambda r: (r["kind"] == 0, r["kind"] == 2, -int(r["n1"]), str(r["bkey"]))):
            entry: dict[str, Any] = {}
            if r["kind"] == 0:
                entry["value"] = NONE_LABEL
            elif r["kind"] == 2:
                entry["value"] = OTHER_LABEL
            elif p.breakdown.by == "first_channel":
                cid = int(r["bkey"])
                key, name = channels.get(cid, (None, None))
                entry.update(value=name or str(cid), channel_id=cid, key=key)
            else:
                entry["value"] = r["bkey"]
            entry["steps"] = step_rows(p, r)
            out.append(entry)
        return out

    def _channels(self, ids: list[str]) -> dict[int, tuple[str | None, str | None]]:
        """Channel id → (key, name) from the system of record, when there is one."""
        if self.session is None or not ids:
            return {}
        from siyu.store.models import Channel

        wanted = [int(i) for i in ids]
        found = self.session.execute(
            select(Channel.id, Channel.key, Channel.name).where(Channel.id.in_(wanted))
        )
        return {int(i): (k, n) for i, k, n in found}


def _midnight(day: date, plus_days: int = 0) -> datetime:
    return datetime.combine(day, time()) + timedelta(days=plus_days)
