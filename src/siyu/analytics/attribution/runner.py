"""Attribution: conversions and revenue per channel, by seven models, from aggregated paths or
from the warehouse's touches.

Two inputs, one set of models (``attribution.models``):

* **aggregated paths** (``paths`` parameter, or a CSV file in the format of the public
  ChannelAttribution reference data: ``path;total_conversions;total_conversion_value;total_null``)
  — no warehouse needed;
* **the warehouse**: every touch of a contact with a channel (the ``touches`` mirror) before each
  conversion event, within a lookback window, and the touches of journeys that have not converted
  as null paths. The journeys are cut in SQL (one window query, both engines) and encoded with
  NumPy, so the models never loop over conversions in Python.

The exact definitions are in ``docs/analytics/attribution.md``.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import (
    BigInteger,
    Double,
    Integer,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)

from siyu.analytics.activity.base import TimezoneField, valid_zone
from siyu.analytics.attribution.models import MODELS, Attribution, Paths, attribute
from siyu.analytics.base import FIRST_DAY, LAST_DAY, AnalyticsError, Day, Params, QueryRunner, register
from siyu.analytics.result import AnalysisResult
from siyu.analytics.zone import Zone
from siyu.warehouse.query import CONTACTS, EVENTS, TOUCHES, AgeSeconds, JsonText, TryDouble

if TYPE_CHECKING:
    import plotly.graph_objects as go

Model = Literal[
    "first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley", "all"
]
#: The channel of a conversion with no touch in its lookback window (so totals stay whole).
DIRECT = "(direct)"
DAY_S = 86_400.0


# --- parameters ----------------------------------------------------------------------------------------
class PathIn(Params):
    """One aggregated path."""

    path: list[str] = Field(
        min_length=1, description="Channels in time order (or one string joined by '>'). 渠道路径。"
    )
    conversions: float = Field(default=0, ge=0, allow_inf_nan=False, description="Conversions. 转化数。")
    value: float = Field(default=0, allow_inf_nan=False, description="Conversion value. 转化金额。")
    nulls: float = Field(
        default=0, ge=0, allow_inf_nan=False, description="Journeys on this path that did not convert."
    )

    @field_validator("path", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        parts = value.split(">") if isinstance(value, str) else value
        if isinstance(parts, list):
            parts = [p.strip() if isinstance(p, str) else p for p in parts]
            if any(p == "" for p in parts):
                raise ValueError("a channel name is empty")
        return parts


class AttributionParams(Params):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    model: Model = Field(default="all", description="Model, or 'all' for every model side by side.")
    paths: list[PathIn] | None = Field(
        default=None,
        description="Aggregated paths; when given, the warehouse is not read. 聚合路径（不读数仓）。",
    )
    conversion_event: str = Field(default="Order Completed", min_length=1, description="Conversion event.")
    value_property: str = Field(default="amount", min_length=1, description="Event property with the value.")
    lookback_days: float = Field(default=30, gt=0, le=3650, description="Touches this long before count.")
    from_: Day | None = Field(default=None, alias="from", description="First day of conversions.")
    to: Day | None = Field(default=None, description="Last day of conversions, inclusive.")
    timezone: str | None = TimezoneField

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return valid_zone(v)

    half_life_days: float = Field(
        default=7,
        gt=0,
        description="Time decay half-life: days (warehouse journeys) or touches (aggregated paths).",
    )


# --- reading aggregated paths ---------------------------------------------------------------------------
_COLUMNS = {
    "path": ("path",),
    "conversions": ("total_conversions", "conversions"),
    "value": ("total_conversion_value", "conversion_value", "value"),
    "nulls": ("total_null", "total_nulls", "nulls", "null"),
}


def read_paths_csv(source: str | Path, name: str | None = None) -> list[dict[str, Any]]:
    """Aggregated paths from CSV text or a file: ``;`` or ``,`` separated (read from the header),
    channels in ``path`` joined by ``>``. Bad rows raise an ``AnalyticsError`` naming the row
    (1 = first data row), its line and the column."""
    if isinstance(source, Path):
        label = name or source.name
        text = source.read_text(encoding="utf-8-sig")
    else:
        label, text = name or "paths", source
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader, [])]
    where: dict[str, int] = {}
    for key, names in _COLUMNS.items():
        for n in names:
            if n in header:
                where[key] = header.index(n)
                break
    for key in ("path", "conversions"):
        if key not in where:
            raise AnalyticsError(label, f"no {_COLUMNS[key][0]!r} column (header: {', '.join(header)})")
    path_col = where.pop("path")
    numbers = list(where.items())
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(reader, start=1):
        if not any(cell.strip() for cell in record):
            continue
        cell = record[path_col] if path_col < len(record) else ""
        channels = [c.strip() for c in cell.split(">")]
        if not all(channels):
            raise AnalyticsError(_at(label, number, reader, "path"), f"an empty channel name in {cell!r}")
        row: dict[str, Any] = {"path": channels}
        for key, col in numbers:
            cell = record[col].strip() if col < len(record) else ""
            try:
                x = float(cell) if cell else 0.0
            except ValueError:
                raise AnalyticsError(
                    _at(label, number, reader, header[col]), f"not a number: {cell!r}"
                ) from None
            if not math.isfinite(x) or (x < 0 and key != "value"):
                limit = "a finite number" if key == "value" else "a finite number ≥ 0"
                raise AnalyticsError(
                    _at(label, number, reader, header[col]), f"must be {limit}, not {cell!r}"
                )
            row[key] = x
        rows.append(row)
    return rows


def _at(label: str, number: int, reader: Any, column: str) -> str:
    """Where a bad cell is: ``paths.csv row 3 (line 4).total_null`` (rows count data rows)."""
    return f"{label} row {number} (line {reader.line_num}).{column}"


# --- result ------------------------------------------------------------------------------------------------
class AttributionResult(AnalysisResult):
    """Per channel and model: credited conversions, value and share of conversions."""

    kind = "attribution"

    def __init__(self, model: str, results: dict[str, Attribution], info: dict[str, Any]) -> None:
        super().__init__()
        self.model = model
        self.results = results
        self.info = info

    def _rows(self, name: str) -> list[dict[str, Any]]:
        res = self.results[name]
        total = float(res.conversions.sum())
        rows = [
            {
                "channel": ch,
                "conversions": float(res.conversions[i]),
                "value": float(res.value[i]),
                "share": float(res.conversions[i]) / total if total else 0.0,
            }
            for i, ch in enumerate(res.channels)
        ]
        rows.sort(key=lambda r: (-r["conversions"], r["channel"]))
        return rows

    def frame(self) -> pa.Table:
        if self.model != "all":
            rows = self._rows(self.model)
            effects = self.results[self.model].removal_effects
            if effects is not None:
                by_name = dict(zip(self.results[self.model].channels, effects.tolist(), strict=True))
                for row in rows:
                    row["removal_effect"] = by_name[row["channel"]]
            schema = pa.schema(
                [("channel", pa.string()), ("conversions", pa.float64()), ("value", pa.float64())]
                + [("share", pa.float64())]
                + ([("removal_effect", pa.float64())] if effects is not None else [])
            )
            return pa.Table.from_pylist(rows, schema=schema)
        order = [r["channel"] for r in self._rows("markov")]
        columns: dict[str, list[Any]] = {"channel": order}
        for name in MODELS:
            by_name = {r["channel"]: r for r in self._rows(name)}
            columns[f"{name}_conversions"] = [by_name[c]["conversions"] for c in order]
            columns[f"{name}_value"] = [by_name[c]["value"] for c in order]
        schema = pa.schema([(k, pa.string() if k == "channel" else pa.float64()) for k in columns])
        return pa.table(columns, schema=schema)

    def payload(self) -> Any:
        if self.model != "all":
            return self._rows(self.model)
        markov = self.results["markov"]
        assert markov.removal_effects is not None
        return {
            "models": {name: self._rows(name) for name in MODELS},
            "removal_effects": dict(zip(markov.channels, markov.removal_effects.tolist(), strict=True)),
            **self.info,
        }

    def figure(self) -> go.Figure:
        import plotly.graph_objects as go

        names = list(MODELS) if self.model == "all" else [self.model]
        order = [r["channel"] for r in self._rows("markov" if self.model == "all" else self.model)]
        fig = go.Figure()
        for name in names:
            by_name = {r["channel"]: r["conversions"] for r in self._rows(name)}
            fig.add_bar(name=name, x=order, y=[by_name[c] for c in order])
        fig.update_layout(barmode="group", xaxis_title="channel", yaxis_title="conversions")
        return fig


# --- runner ------------------------------------------------------------------------------------------------
@register
class AttributionRunner(QueryRunner[AttributionParams, AttributionResult]):
    """Conversions and value per channel: first/last touch, linear, time decay, position-based,
    Markov removal effect, Shapley."""

    kind: ClassVar[str] = "attribution"
    params_model = AttributionParams

    @classmethod
    def uses_warehouse(cls, params: AttributionParams) -> bool:
        # Aggregated paths carry all their data; only touch journeys are read from the warehouse.
        return params.paths is None

    def calculate(self) -> AttributionResult:
        p = self.params
        if p.paths is not None:
            paths = Paths.from_lists(
                [x.path for x in p.paths],
                [x.conversions for x in p.paths],
                [x.value for x in p.paths],
                [x.nulls for x in p.paths],
            )
            info: dict[str, Any] = {"source": "paths", "paths": len(p.paths)}
        else:
            paths = self._journeys()
            info = {"source": "warehouse", "paths": len(paths.lengths)}
        info["total"] = {"conversions": float(paths.conversions.sum()), "value": float(paths.value.sum())}
        names = list(MODELS) if p.model == "all" else [p.model]
        results = {name: attribute(paths, name, p.half_life_days) for name in names}
        return AttributionResult(p.model, results, info)

    # --- journeys from the warehouse ------------------------------------------------------------------
    def _journeys(self) -> Paths:
        p = self.params
        lookback_s = p.lookback_days * DAY_S
        # the days are the brand's: their local midnights as UTC instants
        zone = Zone.over(p.timezone, p.from_ or FIRST_DAY, p.to or LAST_DAY)
        start = zone.utc(p.from_) if p.from_ else None
        end = zone.utc(p.to + timedelta(days=1)) if p.to else None
        if start and end and end <= start:
            raise AnalyticsError("to", "must not be before 'from'")
        lo = start - timedelta(seconds=lookback_s) if start else None
        merged = select(CONTACTS.c.id).where(CONTACTS.c.merged_into_id.is_not(None))

        conv_where = [EVENTS.c.type == "track", EVENTS.c.event == p.conversion_event]
        touch_where = [TOUCHES.c.channel_id.is_not(None)]
        if lo is not None:
            conv_where.append(EVENTS.c.timestamp >= lo)
            touch_where.append(TOUCHES.c.occurred_at >= lo)
        if end is not None:
            conv_where.append(EVENTS.c.timestamp < end)
            touch_where.append(TOUCHES.c.occurred_at < end)
        conversions = select(
            EVENTS.c.contact_id.label("contact_id"),
            EVENTS.c.timestamp.label("ts"),
            literal(1, Integer).label("kind"),
            cast(null(), BigInteger).label("channel_id"),
            EVENTS.c.id.label("seq"),
            TryDouble(JsonText(EVENTS.c.properties, p.value_property)).label("value"),
        ).where(*conv_where, EVENTS.c.contact_id.not_in(merged))
        touches = select(
            TOUCHES.c.contact_id,
            TOUCHES.c.occurred_at,
            literal(0, Integer),
            TOUCHES.c.channel_id,
            cast(null(), BigInteger),
            cast(null(), Double),
        ).where(*touch_where, TOUCHES.c.contact_id.not_in(merged))
        stream = union_all(conversions, touches).subquery("stream")

        # grp = conversions strictly before the row: a conversion and the touches since the
        # previous conversion share it; touches after the last conversion form their own group.
        order = (stream.c.ts, stream.c.kind, stream.c.seq)
        grp = func.coalesce(
            func.sum(stream.c.kind).over(partition_by=stream.c.contact_id, order_by=order, rows=(None, -1)),
            0,
        )
        grouped = select(*stream.c, grp.label("grp")).subquery("grouped")
        conv_ts = func.max(case((grouped.c.kind == 1, grouped.c.ts))).over(
            partition_by=(grouped.c.contact_id, grouped.c.grp)
        )
        framed = select(*grouped.c, conv_ts.label("conv_ts")).subquery("framed")
        in_range = [framed.c.conv_ts >= start] if start else []
        in_range += [framed.c.conv_ts < end] if end else []
        touch_in_range = [framed.c.ts >= start] if start else []
        age = AgeSeconds(framed.c.ts, framed.c.conv_ts)
        keep = or_(
            and_(framed.c.conv_ts.is_not(None), *in_range, or_(framed.c.kind == 1, age <= lookback_s)),
            and_(framed.c.conv_ts.is_(None), *touch_in_range),
        )
        stmt = (
            select(
                framed.c.contact_id,
                framed.c.grp,
                framed.c.kind,
                framed.c.channel_id,
                (age / literal(DAY_S, Double)).label("age_days"),
                framed.c.value,
            )
            .where(keep)
            .order_by(framed.c.contact_id, framed.c.grp, framed.c.kind, framed.c.ts, framed.c.channel_id)
        )
        return self._encode(self.fetch(stmt))

    def _encode(self, table: pa.Table) -> Paths:
        """Rows sorted by (contact, group, kind, time) into flat paths; a conversion without a
        touch gets the single channel ``(direct)``."""
        n = table.num_rows

        def col(name: str, kind: pa.DataType, fill: Any) -> np.ndarray:
            # cast first: an empty PostgreSQL result has columns of Arrow's null type
            return table.column(name).cast(kind).fill_null(fill).to_numpy()

        contact = col("contact_id", pa.int64(), 0)
        grp = col("grp", pa.int64(), 0)
        kind = col("kind", pa.int64(), 0)
        channel = col("channel_id", pa.int64(), -1)
        age = col("age_days", pa.float64(), 0.0)
        value = col("value", pa.float64(), 0.0)
        new = np.ones(n, dtype=bool)
        new[1:] = (contact[1:] != contact[:-1]) | (grp[1:] != grp[:-1])
        gid = np.cumsum(new) - 1
        groups = int(gid[-1]) + 1 if n else 0
        is_conv = np.bincount(gid, (kind == 1).astype(np.float64), minlength=groups) > 0
        conv_value = np.bincount(gid, np.where(kind == 1, value, 0.0), minlength=groups)
        touch = kind == 0
        touches_per = np.bincount(gid[touch], minlength=groups)
        direct = np.flatnonzero(is_conv & (touches_per == 0))

        ids = np.unique(channel[touch])
        names = self._channel_names(ids.tolist())
        direct_code = len(names)
        codes = np.concatenate([np.searchsorted(ids, channel[touch]), np.full(len(direct), direct_code)])
        owner = np.concatenate([gid[touch], direct])
        ages = np.concatenate([np.where(is_conv[gid[touch]], age[touch], 0.0), np.zeros(len(direct))])
        order = np.argsort(owner, kind="stable")
        lengths = np.bincount(owner, minlength=groups)
        offsets = np.zeros(groups + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return Paths(
            channels=(*names, DIRECT) if len(direct) else tuple(names),
            offsets=offsets,
            codes=codes[order].astype(np.int64),
            conversions=is_conv.astype(np.float64),
            value=conv_value,
            nulls=(~is_conv).astype(np.float64),
            ages=ages[order],
        )

    def _channel_names(self, ids: list[int]) -> list[str]:
        """Channel names from the system of record when there is one; ``channel <id>`` for ids it
        does not know. Two channels with one name keep apart by their id."""
        known: dict[int, str] = {}
        if self.session is not None and ids:
            from siyu.store.models import Channel

            rows = self.session.execute(select(Channel.id, Channel.name).where(Channel.id.in_(ids)))
            known = {int(cid): name for cid, name in rows}
        names = [known.get(i, f"channel {i}") for i in ids]
        seen: dict[str, int] = {}
        for name in names:
            seen[name] = seen.get(name, 0) + 1
        return [f"{n} (#{i})" if seen[n] > 1 else n for n, i in zip(names, ids, strict=True)]
