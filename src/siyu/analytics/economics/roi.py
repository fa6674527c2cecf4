"""Channel economics (``roi``): what each acquisition channel cost and what it brought.

Per first-touch channel (or channel and campaign) over a date range: spend (imported, see
``economics/spend.py``), new contacts acquired, CAC, customers, revenue, ROI, realised LTV and LTV/CAC,
and the acquisition funnel impression → click → consult → purchase → repurchase. The exact
definitions are in docs/analytics/economics.md; in short:

* a contact is *acquired* in the range when its first touch (earliest touch, else its creation
  time for contacts with no touch) falls on a day of [from, to]; its channel is the contact's
  first-touch channel, its campaign the ``campaign`` (else the ``state``) of its first entry code;
* revenue is what acquired contacts ordered from their acquisition until the end of ``to``, or
  for ``horizon_days`` after acquisition when given (so cohorts are compared on equal windows);
* spend rows are spread evenly over the days of their period, and only the days inside the
  range count (a monthly invoice and a weekly report then add up correctly).

Spend and names live in the system of record (``self.session``); contacts, touches and orders
in the warehouse (one query, grouped by first channel and first entry code). Because spend is
not part of the warehouse's data version, results are not cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pyarrow as pa
from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, literal, select
from sqlalchemy.types import DateTime

from siyu.analytics.activity.base import OrderParams, TimezoneField, valid_zone
from siyu.analytics.base import AnalyticsError, Day, QueryRunner, in_sane_range, register
from siyu.analytics.economics.spend import SpendRepository
from siyu.analytics.result import AnalysisResult, table_from_rows
from siyu.analytics.sql import PlusSeconds
from siyu.analytics.zone import RUNNER_DEFAULT, Zone
from siyu.brand import check_zone
from siyu.store.models import Channel, ChannelSpend, EntryCode
from siyu.warehouse.query import CONTACTS, EVENTS, TOUCHES

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: Label of contacts without a first-touch channel (organic, imported): no spend is theirs.
UNATTRIBUTED = "(unattributed)"
DEFAULT_RANGE_DAYS = 30
FUNNEL = ("impressions", "clicks", "acquired", "customers", "repurchasers")


class RoiParams(OrderParams):
    model_config = ConfigDict(populate_by_name=True)

    from_: Day | None = Field(default=None, alias="from", description="First day (default: to − 29 days).")
    to: Day | None = Field(default=None, description="Last day, inclusive (default: the last event day).")
    by: Literal["channel", "campaign"] = "channel"
    horizon_days: int | None = Field(
        default=None, ge=1, le=3660, description="Revenue within N days of acquisition (None: up to `to`)."
    )
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="Spend currency (needed when spend has several)."
    )
    timezone: str | None = TimezoneField

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return valid_zone(v)

    @model_validator(mode="after")
    def _range(self) -> RoiParams:
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise ValueError("to must be on or after from")
        return self


@dataclass
class _Acc:
    """What one row (a channel, or a channel and campaign) adds up."""

    channel: str | None
    channel_name: str
    campaign: str | None = None
    spend: Decimal = Decimal(0)
    spend_rows: int = 0
    impressions: float | None = 0.0
    clicks: float | None = 0.0
    acquired: int = 0
    customers: int = 0
    repurchasers: int = 0
    orders: int = 0
    revenue: float = 0.0

    def add_spend(self, row: ChannelSpend, share: Decimal) -> None:
        self.spend += Decimal(row.amount) * share
        self.spend_rows += 1
        # A channel's impressions (clicks) are known only when every spend row reports them.
        self.impressions = (
            None
            if row.impressions is None or self.impressions is None
            else (self.impressions + float(row.impressions * share))
        )
        self.clicks = (
            None if row.clicks is None or self.clicks is None else (self.clicks + float(row.clicks * share))
        )

    def add_acquired(self, other: dict[str, Any]) -> None:
        self.acquired += int(other["acquired"])
        self.customers += int(other["customers"])
        self.repurchasers += int(other["repurchasers"])
        self.orders += int(other["orders"])
        self.revenue += float(other["revenue"])

    def row(self, by: str) -> dict[str, Any]:
        spend = float(round(self.spend, 4))
        has_spend = self.spend > 0
        impressions = self.impressions if self.spend_rows else None
        clicks = self.clicks if self.spend_rows else None
        out: dict[str, Any] = {"channel": self.channel, "channel_name": self.channel_name}
        if by == "campaign":
            out["campaign"] = self.campaign
        out |= {
            "spend": spend,
            "impressions": _round(impressions),
            "clicks": _round(clicks),
            "acquired": self.acquired,
            "customers": self.customers,
            "repurchasers": self.repurchasers,
            "orders": self.orders,
            "revenue": round(self.revenue, 4),
            "cac": _div(spend, self.acquired) if has_spend else None,
            "cost_per_customer": _div(spend, self.customers) if has_spend else None,
            "roi": _div(self.revenue - spend, spend) if has_spend else None,
            "ltv": _div(self.revenue, self.acquired),
            "ltv_cac": _div(self.revenue, spend) if has_spend and self.acquired else None,
            "click_rate": _div(clicks, impressions),
            "consult_rate": _div(self.acquired, clicks),
            "purchase_rate": _div(self.customers, self.acquired),
            "repurchase_rate": _div(self.repurchasers, self.customers),
        }
        return out


def _div(a: float | int | None, b: float | int | None) -> float | None:
    """a / b, None when either is unknown or b is 0 (a rate of nothing is not 0)."""
    if a is None or b is None or b == 0:
        return None
    return round(float(a) / float(b), 6)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


_SCHEMA_FIELDS: list[tuple[str, pa.DataType]] = [
    ("spend", pa.float64()),
    ("impressions", pa.float64()),
    ("clicks", pa.float64()),
    ("acquired", pa.int64()),
    ("customers", pa.int64()),
    ("repurchasers", pa.int64()),
    ("orders", pa.int64()),
    ("revenue", pa.float64()),
    *((name, pa.float64()) for name in ("cac", "cost_per_customer", "roi", "ltv", "ltv_cac")),
    *((name, pa.float64()) for name in ("click_rate", "consult_rate", "purchase_rate", "repurchase_rate")),
]


def frame_schema(by: str) -> pa.Schema:
    head = [("channel", pa.string()), ("channel_name", pa.string())]
    if by == "campaign":
        head.append(("campaign", pa.string()))
    return pa.schema(head + _SCHEMA_FIELDS)


class RoiResult(AnalysisResult):
    kind = "roi"

    def __init__(self, info: dict[str, Any], rows: list[dict[str, Any]], total: dict[str, Any]) -> None:
        super().__init__()
        self.info = info
        self.rows = rows
        self.total = total

    def frame(self) -> pa.Table:
        return table_from_rows(self.rows, frame_schema(self.info["by"]))

    def payload(self) -> dict[str, Any]:
        return {**self.info, "rows": self.rows, "total": self.total}

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        labels = [r["channel_name"] + (f" / {r['campaign']}" if r.get("campaign") else "") for r in self.rows]
        fig = go.Figure()
        fig.add_bar(name="spend", x=labels, y=[r["spend"] for r in self.rows])
        fig.add_bar(
            name="revenue",
            x=labels,
            y=[r["revenue"] for r in self.rows],
            customdata=[r["roi"] for r in self.rows],
            hovertemplate="%{x}: %{y}<br>ROI %{customdata:.1%}<extra></extra>",
        )
        fig.update_layout(
            barmode="group", title=f"Spend and revenue, {self.info['from']} – {self.info['to']}"
        )
        return fig


def _start(day: date) -> datetime:
    return datetime.combine(day, time())


@register
class RoiRunner(QueryRunner[RoiParams, RoiResult]):
    """Spend, acquisition, revenue and the acquisition funnel per channel (or campaign)."""

    kind: ClassVar[str] = "roi"
    params_model = RoiParams
    #: Spend lives in the system of record, outside the warehouse's data version.
    cacheable: ClassVar[bool] = False

    def calculate(self) -> RoiResult:
        if self.session is None:
            raise AnalyticsError(
                "", "roi reads spend and channels from the system of record; run it via siyu"
            )
        p = self.params
        to = p.to or self._last_event_day()
        start = p.from_ or to - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if to < start:
            raise AnalyticsError("to", f"{to.isoformat()} is before from ({start.isoformat()})")
        channels = {c.id: c for c in self.session.scalars(select(Channel))}
        by_key = {c.key: c for c in channels.values()}
        campaigns = self._campaigns() if p.by == "campaign" else {}
        rows: dict[tuple[str | None, str | None], _Acc] = {}

        def acc(key: str | None, campaign: str | None) -> _Acc:
            k = (key, campaign if p.by == "campaign" else None)
            if k not in rows:
                name = by_key[key].name if key in by_key else (key or UNATTRIBUTED)
                rows[k] = _Acc(key, name, k[1])
            return rows[k]

        currency = self._add_spend(start, to, acc)
        for group in self._acquired(start, to).to_pylist():
            cid = group["channel_id"]
            key = None if cid is None else (channels[cid].key if cid in channels else f"#{cid}")
            campaign = campaigns.get(group["entry_code_id"]) if group["entry_code_id"] is not None else None
            acc(key, campaign).add_acquired(group)
        ordered = sorted(
            rows.values(),
            key=lambda a: (a.channel is None, a.channel or "", a.campaign is None, a.campaign or ""),
        )
        total = _Acc(None, "total")
        for a in ordered:
            total.spend += a.spend
            total.spend_rows += a.spend_rows
            total.add_acquired(
                {k: getattr(a, k) for k in ("acquired", "customers", "repurchasers", "orders", "revenue")}
            )
            for name in ("impressions", "clicks"):
                mine, theirs = getattr(a, name), getattr(total, name)
                if a.spend_rows:
                    setattr(total, name, None if mine is None or theirs is None else theirs + mine)
        info: dict[str, Any] = {
            "from": start.isoformat(),
            "to": to.isoformat(),
            "by": p.by,
            "horizon_days": p.horizon_days,
            "currency": currency,
            "order_event": p.order_event,
        }
        if p.by == "campaign":
            info["unmatched_campaigns"] = [
                {"channel": a.channel, "campaign": a.campaign}
                for a in ordered
                if a.campaign is not None and a.spend_rows and a.acquired == 0
            ]
        total_row = total.row("channel")
        del total_row["channel"], total_row["channel_name"]
        return RoiResult(info, [a.row(p.by) for a in ordered], total_row)

    # --- inputs -------------------------------------------------------------------------------
    def _last_event_day(self) -> date:
        last = (
            self.fetch(
                select(func.max(EVENTS.c.timestamp).label("at")).where(in_sane_range(EVENTS.c.timestamp))
            )
            .column(0)[0]
            .as_py()
        )
        if last is None:
            raise AnalyticsError("to", "the warehouse has no events; give from and to")
        # the brand's day of the last event (the warehouse keeps naive UTC)
        return Zone(check_zone(self.params.timezone or RUNNER_DEFAULT)).to_local(last).date()

    def _campaigns(self) -> dict[int, str]:
        """Entry code → its campaign, or its state when it names none."""
        assert self.session is not None
        rows = self.session.execute(select(EntryCode.id, EntryCode.campaign, EntryCode.state)).all()
        return {int(i): (c or s) for i, c, s in rows}

    def _add_spend(self, start: date, to: date, acc: Any) -> str | None:
        """Spread each overlapping spend row over its days; add the days inside [start, to]."""
        assert self.session is not None
        spend = SpendRepository(self.session).overlapping(start, to)
        currencies = sorted({r.currency for r in spend})
        wanted = self.params.currency
        if wanted is None and len(currencies) > 1:
            raise AnalyticsError(
                "currency", f"spend is in several currencies ({', '.join(currencies)}); choose one"
            )
        currency = wanted or (currencies[0] if currencies else None)
        for row in spend:
            if row.currency != currency:
                continue
            days = (row.period_end - row.period_start).days + 1
            inside = (min(row.period_end, to) - max(row.period_start, start)).days + 1
            acc(row.channel, row.campaign).add_spend(row, Decimal(inside) / Decimal(days))
        return currency

    def _acquired(self, start: date, to: date) -> pa.Table:
        """Per (first channel, first entry code): contacts acquired in the range, how many
        ordered once / twice or more, their orders and revenue (one warehouse query)."""
        p = self.params
        zone = Zone.over(p.timezone, start, to)  # the range is the brand's days
        lo, hi = zone.utc(_start(start)), zone.utc(_start(to + timedelta(days=1)))
        first = (
            select(TOUCHES.c.contact_id, func.min(TOUCHES.c.occurred_at).label("first_at"))
            .group_by(TOUCHES.c.contact_id)
            .subquery("first_touch")
        )
        acquired_at = func.coalesce(first.c.first_at, CONTACTS.c.created_at)
        acq = (
            select(
                CONTACTS.c.id.label("contact_id"),
                CONTACTS.c.first_channel_id.label("channel_id"),
                CONTACTS.c.first_entry_code_id.label("entry_code_id"),
                acquired_at.label("acquired_at"),
            )
            .select_from(CONTACTS.outerjoin(first, first.c.contact_id == CONTACTS.c.id))
            .where(CONTACTS.c.merged_into_id.is_(None), acquired_at >= lo, acquired_at < hi)
            .cte("acq")
        )
        if p.horizon_days is None:
            until: Any = literal(hi, DateTime())
        else:
            until = PlusSeconds(acq.c.acquired_at, literal(p.horizon_days * 86_400))
        amount = p.amount()
        orders = (
            select(
                acq.c.contact_id,
                func.count().label("n"),
                func.coalesce(func.sum(amount), 0.0).label("revenue"),
            )
            .select_from(acq.join(EVENTS, EVENTS.c.contact_id == acq.c.contact_id))
            .where(
                p.is_order(),
                EVENTS.c.timestamp >= acq.c.acquired_at,
                EVENTS.c.timestamp < until,
            )
            .group_by(acq.c.contact_id)
            .subquery("orders")
        )
        stmt = (
            select(
                acq.c.channel_id,
                acq.c.entry_code_id,
                func.count().label("acquired"),
                func.count().filter(orders.c.n >= 1).label("customers"),
                func.count().filter(orders.c.n >= 2).label("repurchasers"),
                func.coalesce(func.sum(orders.c.n), 0).label("orders"),
                func.coalesce(func.sum(orders.c.revenue), 0.0).label("revenue"),
            )
            .select_from(acq.outerjoin(orders, orders.c.contact_id == acq.c.contact_id))
            .group_by(acq.c.channel_id, acq.c.entry_code_id)
            .order_by(acq.c.channel_id, acq.c.entry_code_id)
        )
        return self.fetch(stmt)


__all__ = ["UNATTRIBUTED", "RoiParams", "RoiResult", "RoiRunner"]
