"""What activity, stickiness, lifecycle and retention share: which events count as activity,
period numbering, date-range parameters, and per-contact activity bitmaps.

Period numbers. Every period (hour, day, week starting Monday, month) of naive UTC time gets an
integer: days since 1970-01-01, weeks since Monday 1969-12-29, months since January of year 0,
hours since 1970-01-01 00:00. The SQL (``PeriodNumber``) and Python (``period_number``) sides
compute the same integers, so queries return small integers the runner turns back into dates,
and "the previous period" is ``n - 1`` for every period kind (no interval arithmetic per engine).

Activity bitmaps. DAU/WAU/MAU, stickiness and lifecycle need, per contact, the set of periods in
which it was active. Reducing events to distinct (contact, day) pairs means a hash table with one
entry per pair (tens of millions at the target scale, the slow part of the naive query); grouping
by contact alone, with the periods folded into BIGINT bit sets (``bit_or(1 << offset)``, 63
periods per word so the sign bit is never set), needs one entry per contact and is several times
faster. The words go to NumPy, which counts bits per period position in a few vectorised passes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy import BigInteger, Integer, and_, case, cast, false, func, literal_column, not_, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement, Label
from sqlalchemy.sql.expression import FunctionElement

from siyu.analytics.base import FIRST_DAY, LAST_DAY, AnalyticsError, Day, Params
from siyu.analytics.zone import Zone, today_in
from siyu.brand import ZoneError, check_zone
from siyu.ingest.messages import TYPES
from siyu.segments.compiler import ACTIVITY_TYPES, NEGATED, value_condition
from siyu.segments.schemas import PropertyFilter, check_property
from siyu.store.models import SYSTEM_EVENTS
from siyu.warehouse.query import EVENTS, JsonText, TryDouble

Period = Literal["day", "week", "month"]
RetentionPeriod = Literal["hour", "day", "week", "month"]

EPOCH_DAY = date(1970, 1, 1)
EPOCH_MONDAY = date(1969, 12, 29)  # the Monday on or before 1970-01-01: week 0
WORD_BITS = 63  # bits used per BIGINT word (bit 63 would make the word negative)
ANY_EVENT = "*"


# --- which events are activity --------------------------------------------------------------------
#: Call types that are not activity. Ingest accepts a closed set of types, so "not one of
#: these" is exactly the segments' ``type IN ACTIVITY_TYPES``; DuckDB evaluates a short NOT IN
#: on the dictionary-compressed column about twice as fast as the IN list (measured: 1.3 s vs
#: 2.7 s for 50M events), and this filter is on every "any activity" scan.
NON_ACTIVITY_TYPES = tuple(sorted(TYPES - set(ACTIVITY_TYPES)))


def event_conditions(event: str | None, where: Sequence[PropertyFilter] = ()) -> list[ColumnElement[bool]]:
    """Conditions on ``events`` for "did ``event`` matching ``where``".

    ``None`` or ``"*"`` is any customer activity, as in segment conditions: track/page/screen
    calls, not the system events siyu writes itself (tag.added, segment.entered, …). Property
    filters compile exactly as in segments (``value_condition``), so ``ne``/``not_in``/``not_set``
    also match events without the property.
    """
    conds: list[ColumnElement[bool]] = []
    if event is None or event == ANY_EVENT:
        conds.append(EVENTS.c.type.not_in(NON_ACTIVITY_TYPES))
        conds.append(or_(EVENTS.c.event.is_(None), EVENTS.c.event.not_in(SYSTEM_EVENTS)))
    else:
        conds.append(EVENTS.c.event == event)
    for f in where:
        cond = value_condition(JsonText(EVENTS.c.properties, f.property), NEGATED.get(f.op, f.op), f.value)
        conds.append(not_(func.coalesce(cond, false())) if f.op in NEGATED else cond)
    return conds


def event_label(event: str | None) -> str | None:
    return None if event in (None, ANY_EVENT) else event


# --- period numbers ---------------------------------------------------------------------------------
class PeriodNumber(FunctionElement[int]):
    """The integer number of the period containing a timestamp (see the module docstring).

    One subclass per period kind, so the statement cache keys on the class; the same SQL text
    runs on DuckDB and PostgreSQL (``date - date`` is an integer on both; the week difference is
    an exact multiple of 7, so dividing and casting is exact whichever division an engine does).
    """

    type = BigInteger()
    inherit_cache = True
    template: ClassVar[str] = ""


class DayNumber(PeriodNumber):
    inherit_cache = True
    name = "day_number"
    template = "(CAST({ts} AS DATE) - DATE '1970-01-01')"


class WeekNumber(PeriodNumber):
    inherit_cache = True
    name = "week_number"
    template = "CAST((CAST(date_trunc('week', {ts}) AS DATE) - DATE '1969-12-29') / 7 AS BIGINT)"


class MonthNumber(PeriodNumber):
    inherit_cache = True
    name = "month_number"
    template = "(CAST(EXTRACT(YEAR FROM {ts}) AS BIGINT) * 12 + CAST(EXTRACT(MONTH FROM {ts}) AS BIGINT) - 1)"


class HourNumber(PeriodNumber):
    inherit_cache = True
    name = "hour_number"
    template = "((CAST({ts} AS DATE) - DATE '1970-01-01') * 24 + CAST(EXTRACT(HOUR FROM {ts}) AS BIGINT))"


@compiles(PeriodNumber)
def _period_number(element: PeriodNumber, compiler: Any, **kw: Any) -> str:
    return element.template.format(ts=compiler.process(element.clauses, **kw))


NUMBERS: dict[str, type[PeriodNumber]] = {
    "hour": HourNumber,
    "day": DayNumber,
    "week": WeekNumber,
    "month": MonthNumber,
}


def period_sql(period: str, ts: Any) -> PeriodNumber:
    return NUMBERS[period](ts)


def period_number(period: str, at: date | datetime) -> int:
    """The number of the period containing ``at`` (a date means its midnight)."""
    day = at.date() if isinstance(at, datetime) else at
    if period == "month":
        return day.year * 12 + day.month - 1
    if period == "week":
        return (day - EPOCH_MONDAY).days // 7
    days = (day - EPOCH_DAY).days
    if period == "day":
        return days
    return days * 24 + (at.hour if isinstance(at, datetime) else 0)


def period_start(period: str, number: int) -> datetime:
    """Midnight (or the hour) that period ``number`` starts at."""
    if period == "month":
        return datetime(number // 12, number % 12 + 1, 1)
    if period == "week":
        return datetime.combine(EPOCH_MONDAY + timedelta(weeks=number), datetime.min.time())
    if period == "day":
        return datetime.combine(EPOCH_DAY + timedelta(days=number), datetime.min.time())
    return datetime.combine(EPOCH_DAY, datetime.min.time()) + timedelta(hours=number)


def period_label(period: str, number: int) -> str:
    """``YYYY-MM-DD`` of the period's first day (``YYYY-MM-DDTHH:MM:SS`` for hours)."""
    start = period_start(period, number)
    return start.isoformat() if period == "hour" else start.date().isoformat()


def period_range(period: str, first: date, last: date) -> tuple[int, int]:
    """Numbers of the periods containing the first and the last day (for hours: the first hour
    of ``first`` and the last hour of ``last``)."""
    if period == "hour":
        return period_number("hour", first), period_number("hour", last) + 23
    return period_number(period, first), period_number(period, last)


# --- parameters ---------------------------------------------------------------------------------------
def utc_today() -> date:
    return datetime.now(UTC).date()


TimezoneField = Field(
    default=None,
    description="Time zone (IANA name) the days and periods are in. Default: the brand time zone "
    "(SIYU_TIMEZONE, else the one set in the console, else Asia/Shanghai) when run through the "
    "Python API, CLI, REST or console; UTC for a runner called directly.",
)


def valid_zone(v: str | None) -> str | None:
    """A ``timezone`` parameter: an IANA name, or None for the default."""
    if v is None:
        return None
    try:
        return check_zone(v)
    except ZoneError as exc:
        raise ValueError(str(exc)) from None


#: Default span when ``from`` is not given, in periods ending with the one containing ``to``.
DEFAULT_SPAN = {"hour": 48, "day": 30, "week": 12, "month": 12}


def default_from(period: str, to: date) -> date:
    n = DEFAULT_SPAN[period]
    if period == "hour":
        return to - timedelta(days=n // 24 - 1)
    if period == "month":
        start = period_start("month", period_number("month", to) - n + 1)
        return start.date()
    if period == "week":
        return period_start("week", period_number("week", to) - n + 1).date()
    return to - timedelta(days=n - 1)


class OrderParams(Params):
    """What an order is, for analyses that count orders and revenue (one definition for all)."""

    order_event: str = Field(default="Order Completed", min_length=1, max_length=200)
    amount_property: str = "amount"

    @field_validator("amount_property")
    @classmethod
    def _prop(cls, v: str) -> str:
        return check_property(v)

    def is_order(self) -> ColumnElement[bool]:
        return and_(EVENTS.c.type == "track", EVENTS.c.event == self.order_event)

    def amount(self) -> ColumnElement[Any]:
        """The order's value; NULL when missing or not a number."""
        return TryDouble(JsonText(EVENTS.c.properties, self.amount_property))


def is_activity() -> ColumnElement[bool]:
    """Any customer activity (``event_conditions(None)`` as one condition)."""
    return and_(*event_conditions(None))


class RangeParams(Params):
    """``from``/``to`` (inclusive days in ``timezone``). Missing: ``to`` is today there and
    ``from`` covers the default span of the analysis's period before it (filled in at
    validation, so the cache key and the echoed parameters always hold real dates)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)

    #: The period field whose default span applies (``None``: days).
    span_field: ClassVar[str | None] = None
    #: The most periods a range may hold (keeps results and bitmaps bounded).
    max_periods: ClassVar[int] = 3700

    # Both default to None only so that schemas show them as optional: ``_fill_range`` puts real
    # dates in before validation, so after it they are always dates.
    from_: Day = Field(
        default=None,  # type: ignore[assignment]
        alias="from",
        description="First day (YYYY-MM-DD, in `timezone`), inclusive. Default: the analysis's default span "
        "ending with `to`.",
    )
    to: Day = Field(
        default=None,  # type: ignore[assignment]
        description="Last day (YYYY-MM-DD, in `timezone`), inclusive. Default: today there.",
    )
    timezone: str | None = TimezoneField

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return valid_zone(v)

    @model_validator(mode="before")
    @classmethod
    def _fill_range(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("to") is None:
            try:
                data["to"] = today_in(data.get("timezone"))
            except ZoneError:
                return data  # `timezone` is reported by its own validation
        if data.get("from") is None and data.get("from_") is None:
            data.pop("from_", None)
            period = data.get(cls.span_field) if cls.span_field else None
            period = period if period in DEFAULT_SPAN else cls._default_period()
            to = data["to"]
            try:
                to_day = to if isinstance(to, date) else date.fromisoformat(str(to))
            except ValueError:
                return data  # `to` is reported by its own validation
            if not FIRST_DAY <= to_day <= LAST_DAY:
                return data  # likewise (and the default span before it could overflow)
            data["from"] = default_from(period, to_day)
        return data

    @classmethod
    def _default_period(cls) -> str:
        if cls.span_field is None:
            return "day"
        default = cls.model_fields[cls.span_field].default
        return default if isinstance(default, str) else "day"

    @field_validator("to")
    @classmethod
    def _after_from(cls, to: date, info: ValidationInfo) -> date:
        start = info.data.get("from_")
        if start is not None and to < start:
            raise ValueError(f"must not be before from ({start.isoformat()})")
        return to

    def zone(self, period: str = "day") -> Zone:
        """The time zone of this range's days (with its offset when constant over them)."""
        start = self.from_
        if period in ("week", "month"):  # whole periods are scanned
            start = period_start(period, period_number(period, start)).date()
        return Zone.over(self.timezone, start, self.to)

    def period_bounds(self, period: str) -> tuple[int, int]:
        """First and last period numbers of the range; too many periods is an error on ``from``."""
        first, last = period_range(period, self.from_, self.to)
        if last - first + 1 > self.max_periods:
            raise AnalyticsError(
                "from", f"the range holds {last - first + 1} {period}s; at most {self.max_periods}"
            )
        return first, last


EventField = Field(
    default=None,
    min_length=1,
    max_length=200,
    description='Event that counts as activity; null or "*": any customer activity (track/page/screen '
    "calls, not system events such as tag.added).",
)
WhereField = Field(
    default_factory=list,
    max_length=50,
    description="Property filters the event must match (all of them), as in segment event conditions.",
)


# --- activity bitmaps -------------------------------------------------------------------------------
def bitmap_columns(offset: ColumnElement[int], n_bits: int) -> list[Label[Any]]:
    """``bit_or`` aggregates m0, m1, … folding ``offset`` (0 ≤ offset < n_bits) into 63-bit words.

    Word bounds are integers the runner computed, spliced as literals (DuckDB folds constants
    best); the shift is cast to INTEGER because PostgreSQL has no ``bigint << bigint``.
    """
    words = []
    n_words = max(1, -(-n_bits // WORD_BITS))
    for w in range(n_words):
        low = literal_column(str(w * WORD_BITS))
        bit = _ONE.op("<<")(cast(offset - low if w else offset, Integer))
        if n_words == 1:
            words.append(func.bit_or(bit).label(f"m{w}"))
            continue
        inside = and_(offset >= low, offset < literal_column(str((w + 1) * WORD_BITS)))
        words.append(func.bit_or(case((inside, bit), else_=_ZERO)).label(f"m{w}"))
    return words


_ONE = literal_column("CAST(1 AS BIGINT)", BigInteger)
_ZERO = literal_column("CAST(0 AS BIGINT)", BigInteger)


def word_names(n_bits: int) -> list[str]:
    return [f"m{w}" for w in range(max(1, -(-n_bits // WORD_BITS)))]


def words_of(table: pa.Table, n_bits: int) -> np.ndarray:
    """The bitmap words of a fetched table as a (contacts × words) uint64 matrix."""
    names = word_names(n_bits)
    if table.num_rows == 0:
        return np.zeros((0, len(names)), dtype=np.uint64)
    cols = [np.asarray(table.column(n).to_numpy(zero_copy_only=False), dtype=np.int64) for n in names]
    return np.ascontiguousarray(np.column_stack(cols)).view(np.uint64)


_LOW63 = np.uint64((1 << WORD_BITS) - 1)


def shift_up(words: np.ndarray, s: int) -> np.ndarray:
    """Every bit moved ``s`` positions (0 < s < 63) towards later periods, across words."""
    out = (words << np.uint64(s)) & _LOW63
    out[:, 1:] |= words[:, :-1] >> np.uint64(WORD_BITS - s)
    return out


def spread(words: np.ndarray, n: int) -> np.ndarray:
    """Bit p set when any of bits p-n+1 … p is: "active in the trailing n periods"."""
    acc = words.copy()
    span = 1
    while span < n:
        step = min(span, n - span)
        acc |= shift_up(acc, step)
        span += step
    return acc


def _chunks(words: np.ndarray, rows: int = 1 << 16) -> Iterator[np.ndarray]:
    for i in range(0, len(words), rows):
        yield words[i : i + rows]


def unpack(words: np.ndarray, n_bits: int) -> np.ndarray:
    """(rows × n_bits) uint8 0/1 matrix of the bits."""
    raw = np.unpackbits(words.astype("<u8").view(np.uint8), axis=1, bitorder="little")
    return raw.reshape(len(words), -1, 64)[:, :, :WORD_BITS].reshape(len(words), -1)[:, :n_bits]


def bit_counts(words: np.ndarray, n_bits: int) -> np.ndarray:
    """How many rows have each bit set (int64, length n_bits), in bounded-memory chunks."""
    total = np.zeros(n_bits, dtype=np.int64)
    for part in _chunks(words):
        total += unpack(part, n_bits).sum(axis=0, dtype=np.int64)
    return total


def popcounts(words: np.ndarray) -> np.ndarray:
    """Bits set per row."""
    if words.size == 0:
        return np.zeros(len(words), dtype=np.int64)
    return np.bitwise_count(words).sum(axis=1, dtype=np.int64)


def day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())
