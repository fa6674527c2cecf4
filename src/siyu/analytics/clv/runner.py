"""Runners ``rfm`` (the per-contact purchase summary) and ``clv`` (BG/NBD + Gamma-Gamma, and
Pareto/NBD, fitted and turned into per-customer CLV, with a calibration/holdout check).

Both read the warehouse's orders (the brand's configured order event and amount property) as
one row per contact and day, so "purchases on the same day count once" is decided in one place
(``clv.data``); ``clv`` also accepts the transactions in its parameters, which is how a file is
analysed (``siyu analytics clv --transactions FILE``). Definitions: docs/analytics/clv.md.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.analytics.base import AnalyticsError, Day, Params, QueryRunner, register
from siyu.analytics.clv.data import (
    Summary,
    day_date,
    day_number,
    order_config,
    order_days_query,
    summarize,
)
from siyu.analytics.clv.models import (
    DEFAULT_HORIZON,
    UNIT_DAYS,
    Model,
    TimeUnit,
    fit_clv,
    holdout_check,
    per_unit_rate,
    predict,
)
from siyu.analytics.clv.table import clv_payload, clv_table, rfm_table
from siyu.analytics.result import AnalysisResult
from siyu.warehouse.query import RFM

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Pareto/NBD is fitted alongside BG/NBD, unasked, while the data have at most this many
#: distinct (x, t_x, T) rows (its likelihood costs ~10 hypergeometric calls per row).
PARETO_ALWAYS_ROWS = 20_000
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not ISO_DAY.match(value.strip()):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value.strip() if isinstance(value, str) else value


class Transaction(Params):
    customer_id: str = Field(min_length=1, max_length=200, description="Customer identifier.")
    date: Day = Field(description="Purchase day (YYYY-MM-DD); several purchases on one day count once.")
    amount: float = Field(
        ge=0, allow_inf_nan=False, description="Purchase value (same-day values are summed)."
    )

    _day = field_validator("date", mode="before")(_iso_day)


class ClvParams(Params):
    transactions: list[Transaction] | None = Field(
        default=None,
        description="Purchases to analyse; null reads the warehouse's orders "
        "(contact ids become customer ids).",
    )
    calibration_end: Day | None = Field(
        default=None,
        description="Last day of the calibration period (inclusive); default: the last purchase day.",
    )
    holdout_end: Day | None = Field(
        default=None,
        description="Last day of the holdout period (inclusive); default: the last purchase day.",
    )
    time_unit: TimeUnit = Field(default="week", description="Unit of t_x, T, the horizon and the parameters.")
    horizon: int | None = Field(
        default=None, ge=1, le=3660, description="CLV horizon in time units; default one year (52 weeks)."
    )
    discount_rate: float = Field(default=0.1, ge=0, le=10, description="Annual discount rate (0.1 = 10 %).")
    model: Model = Field(
        default="bgnbd", description="Purchase model for the predictions: bgnbd or pareto-nbd."
    )
    top: int = Field(default=10, ge=0, le=10_000, description="Customers listed in the payload, by CLV.")

    _days = field_validator("calibration_end", "holdout_end", mode="before")(_iso_day)


class RfmParams(Params):
    as_of: Day | None = Field(
        default=None, description="Orders up to this day (inclusive); default: the last order day."
    )
    time_unit: TimeUnit = Field(default="day", description="Unit of recency and T.")

    _day = field_validator("as_of", mode="before")(_iso_day)


# --- results -------------------------------------------------------------------------------------------
class ClvResult(AnalysisResult):
    kind = "clv"

    def __init__(self, table: pa.Table, document: dict[str, Any]) -> None:
        super().__init__()
        self.table = table
        self.document = document

    def frame(self) -> pa.Table:
        """Per customer: customer_id, x, t_x, T, monetary, expected_purchases, p_alive,
        expected_spend, clv (highest CLV first)."""
        return self.table

    def payload(self) -> dict[str, Any]:
        return self.document

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        holdout = self.document.get("holdout")
        if holdout:
            groups = [row["x"] for row in holdout["by_frequency"]]
            fig = go.Figure(
                [
                    go.Bar(name="actual", x=groups, y=[r["actual"] for r in holdout["by_frequency"]]),
                    go.Bar(name="predicted", x=groups, y=[r["predicted"] for r in holdout["by_frequency"]]),
                ]
            )
            fig.update_layout(
                barmode="group",
                title="Holdout purchases by calibration frequency",
                xaxis_title="repeat purchases in calibration",
                yaxis_title="mean purchases in holdout",
            )
            return fig
        fig = go.Figure([go.Histogram(x=self.table.column("clv").to_pylist(), nbinsx=50)])
        fig.update_layout(title="CLV per customer", xaxis_title="CLV", yaxis_title="customers")
        return fig


class RfmSummaryResult(AnalysisResult):
    kind = "rfm"

    def __init__(self, table: pa.Table, document: dict[str, Any]) -> None:
        super().__init__()
        self.table = table
        self.document = document

    def frame(self) -> pa.Table:
        return self.table

    def payload(self) -> dict[str, Any]:
        return {**self.document, "contacts": self.table.to_pylist()}

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        fig = go.Figure(
            [
                go.Histogram2d(
                    x=self.table.column("recency").to_pylist(),
                    y=self.table.column("frequency").to_pylist(),
                    colorscale="Blues",
                )
            ]
        )
        fig.update_layout(
            title="Contacts by recency and frequency", xaxis_title="recency", yaxis_title="frequency"
        )
        return fig


# --- reading orders --------------------------------------------------------------------------------------
def _warehouse_days(runner: QueryRunner[Any, Any], until: dt.date | None) -> tuple[np.ndarray, ...]:
    """(contact ids, day numbers, amounts, orders) of the warehouse's order days."""
    table = runner.fetch(order_days_query(order_config(runner.session), until))
    days = pc.cast(table.column("day"), pa.int32()).to_numpy(zero_copy_only=False)
    return (
        table.column("contact_id").to_numpy(zero_copy_only=False).astype(np.int64),
        days.astype(np.int64),
        table.column("amount").to_numpy(zero_copy_only=False).astype(float),
        table.column("orders").to_numpy(zero_copy_only=False).astype(np.int64),
    )


def _no_orders(session: Session | None) -> AnalyticsError:
    cfg = order_config(session)
    return AnalyticsError("", f"no orders (events {cfg.event!r}) in the warehouse")


@register
class ClvRunner(QueryRunner[ClvParams, ClvResult]):
    kind = "clv"
    params_model = ClvParams

    @classmethod
    def uses_warehouse(cls, params: ClvParams) -> bool:
        """Transactions in the parameters make the warehouse unnecessary."""
        return params.transactions is None

    def calculate(self) -> ClvResult:
        p = self.params
        if p.transactions is not None:
            if not p.transactions:
                raise AnalyticsError("transactions", "no transactions")
            ids, codes = np.unique(np.array([t.customer_id for t in p.transactions]), return_inverse=True)
            days = np.array([day_number(t.date) for t in p.transactions], dtype=np.int64)
            amounts = np.array([t.amount for t in p.transactions], dtype=float)
            orders = None
            where = "transactions"
        else:
            ids = None
            codes, days, amounts, orders = _warehouse_days(self, p.holdout_end)
            if not len(codes):
                raise _no_orders(self.session)
            where = "calibration_end"
        last = int(days.max())
        hold_end = day_number(p.holdout_end) if p.holdout_end is not None else last
        cal_end = day_number(p.calibration_end) if p.calibration_end is not None else min(hold_end, last)
        if hold_end < cal_end:
            if p.holdout_end is not None:
                raise AnalyticsError("holdout_end", "must not be before calibration_end")
            hold_end = cal_end
        if cal_end < int(days.min()):
            raise AnalyticsError(
                "calibration_end", f"is before the first purchase ({day_date(int(days.min()))})"
            )
        s = summarize(codes, days, amounts, cal_end, hold_end, orders)
        if not np.any(s.x > 0):
            raise AnalyticsError(where, "no customer has a repeat purchase in the calibration period")
        names = ids[s.codes] if ids is not None else s.codes.astype(str)
        return self._model(s, names.astype(str), cal_end, hold_end)

    def _model(self, s: Summary, names: np.ndarray, cal_end: int, hold_end: int) -> ClvResult:
        p = self.params
        unit = UNIT_DAYS[p.time_unit]
        x, t_x, T = s.x.astype(float), s.t_x / unit, s.T / unit
        horizon = p.horizon or DEFAULT_HORIZON[p.time_unit]
        rate = per_unit_rate(p.discount_rate, p.time_unit)
        fit = fit_clv(
            x, t_x, T, s.monetary, pareto=p.model == "pareto-nbd", pareto_max_rows=PARETO_ALWAYS_ROWS
        )
        pred = predict(fit, x, t_x, T, s.monetary, horizon=horizon, rate_per_unit=rate, model=p.model)
        holdout = None
        if hold_end > cal_end:
            holdout, _ = holdout_check(fit, x, t_x, T, s.holdout, (hold_end - cal_end) / unit, model=p.model)
            holdout = {"start": day_date(cal_end + 1), "end": day_date(hold_end), **holdout}
        table = clv_table(names, x, t_x, T, s.monetary, pred)
        settings = {
            "model": p.model,
            "time_unit": p.time_unit,
            "calibration_end": day_date(cal_end),
            "holdout_end": day_date(hold_end) if hold_end > cal_end else None,
            "horizon": horizon,
            "discount_rate": p.discount_rate,
            "discount_rate_per_unit": rate,
        }
        return ClvResult(table, clv_payload(settings, fit, s, pred, holdout, table, p.top))


@register
class RfmRunner(QueryRunner[RfmParams, RfmSummaryResult]):
    kind = "rfm"
    params_model = RfmParams

    def calculate(self) -> RfmSummaryResult:
        p = self.params
        codes, days, amounts, orders = _warehouse_days(self, p.as_of)
        as_of = day_number(p.as_of) if p.as_of is not None else (int(days.max()) if len(days) else None)
        scores = self.fetch(select(RFM.c.contact_id, RFM.c.r, RFM.c.f, RFM.c.m, RFM.c.segment))
        if as_of is None:
            s = summarize(codes, days, amounts, 0, 0, orders)  # empty
        else:
            s = summarize(codes, days, amounts, as_of, as_of, orders)
        table = rfm_table(s, UNIT_DAYS[p.time_unit], scores)
        document = {
            "as_of": day_date(as_of) if as_of is not None else None,
            "time_unit": p.time_unit,
            "customers": len(s.codes),
            "repeat_customers": int((s.x > 0).sum()),
            "orders": int(s.orders.sum()),
            "revenue": float(s.revenue.sum()),
        }
        return RfmSummaryResult(table, document)
