"""What the loyalty, coupon and order analyses share.

They read the system of record, not the warehouse: orders, the points ledger, tier history and
coupons are state kept there (the warehouse mirrors events and profile state for segments, not
these ledgers), and an analysis of points liability must agree to the point with
``siyu loyalty verify``. So these runners need no warehouse (``needs_source`` False: the
Python API runs them on a session without opening DuckDB, which ``siyu serve`` may be holding),
and are not cached (the warehouse's data version does not cover these tables).

Statements are SQLAlchemy Core, compiled for the session's engine (SQLite or PostgreSQL) and
recorded on the result like every runner's (snapshot tests keep them reviewable). The one
engine-specific expression is the local month of a timestamp (``LocalMonth``).

Days are the brand's: a range ``from`` … ``to`` is the local midnights converted to UTC instants
(``Zone.utc``), compared with the stored column, so the filter uses the column's index.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from pydantic import ConfigDict, Field, field_validator, model_validator
from sqlalchemy import String, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.expression import FunctionElement

from siyu.analytics.activity.base import TimezoneField, valid_zone
from siyu.analytics.base import AnalyticsError, Day, Params, QueryRunner
from siyu.analytics.result import AnalysisResult, table_from_rows
from siyu.analytics.zone import Zone, today_in
from siyu.store.models import LoyaltyProgramme

#: The programme's point value when no programme row exists yet (the model's default).
DEFAULT_POINT_VALUE = Decimal("0.01")
CENT = Decimal("0.01")


class RangeParams(Params):
    """A range of the brand's days, both ends optional (each runner says what it defaults to)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: Day | None = Field(default=None, alias="from", description="First day (YYYY-MM-DD).")
    to: Day | None = Field(default=None, description="Last day, inclusive (YYYY-MM-DD).")
    timezone: str | None = TimezoneField

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        return valid_zone(v)

    @model_validator(mode="after")
    def _range(self) -> RangeParams:
        if self.from_ is not None and self.to is not None and self.to < self.from_:
            raise ValueError("to must be on or after from")
        return self


P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=AnalysisResult)


class RowsResult(AnalysisResult):
    """A result made of summary figures (``info``) and one table of rows, which is its CSV;
    subclasses name the table's ``schema`` and draw the chart."""

    schema: ClassVar[Any]

    def __init__(self, params: Any, info: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.params = params
        self.info = info
        self.rows = rows

    def frame(self) -> Any:
        return table_from_rows(self.rows, self.schema)

    def payload(self) -> dict[str, Any]:
        return {**self.info, "rows": self.rows}


class RecordRunner(QueryRunner[P, R]):
    """A runner over the system of record (``self.session``); see the module docstring."""

    needs_source: ClassVar[bool] = False
    cacheable: ClassVar[bool] = False

    def calculate(self) -> R:
        if self.session is None:
            raise AnalyticsError("", f"{self.kind} reads the system of record; run it via siyu")
        return self.compute()

    def compute(self) -> R:
        raise NotImplementedError

    def rows(self, stmt: ClauseElement) -> list[Row[Any]]:
        """Execute ``stmt`` on the session, recording its SQL for the result."""
        assert self.session is not None
        dialect = self.session.get_bind().dialect
        self.sql.append(str(stmt.compile(dialect=dialect)))
        return list(self.session.execute(stmt))  # type: ignore[call-overload]

    @property
    def dialect(self) -> str:
        assert self.session is not None
        return self.session.get_bind().dialect.name

    # --- days -------------------------------------------------------------------------------
    @property
    def zone_name(self) -> str:
        return getattr(self.params, "timezone", None) or "UTC"

    def today(self) -> date:
        return today_in(self.zone_name)

    def instant(self, day: date) -> datetime:
        """The brand's midnight starting ``day``, as an aware UTC instant."""
        return Zone(self.zone_name).utc(day).replace(tzinfo=UTC)

    def bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """[midnight of ``first``, midnight after ``last``) in UTC."""
        return self.instant(first), self.instant(last + timedelta(days=1))

    def local_day(self, at: datetime) -> date:
        return Zone(self.zone_name).to_local(at.astimezone(UTC).replace(tzinfo=None)).date()

    def point_value(self) -> tuple[Decimal, bool]:
        """(¥ per point, whether a programme row exists) — the first programme is the brand's."""
        stmt = select(LoyaltyProgramme.point_value).order_by(LoyaltyProgramme.id).limit(1)
        found = self.rows(stmt)
        if not found or found[0][0] is None:
            return DEFAULT_POINT_VALUE, False
        return Decimal(found[0][0]), True


# --- numbers -------------------------------------------------------------------------------------
def yuan(value: Decimal | float | int | None) -> float | None:
    """Money for JSON and Arrow: yuan rounded to the fen (computed in Decimal until here)."""
    if value is None:
        return None
    return float(Decimal(value).quantize(CENT))


def ratio(a: Decimal | float | int | None, b: Decimal | float | int | None) -> float | None:
    """a / b rounded to 6 places; None when unknown or b is 0 (a rate of nothing is not 0)."""
    if a is None or b is None or b == 0:
        return None
    return round(float(Decimal(a) / Decimal(b)), 6)


def dec(value: Any) -> Decimal:
    """A database sum (Decimal, float on SQLite, None for no rows) as a Decimal to the fen."""
    if value is None:
        return Decimal(0)
    return Decimal(str(value)).quantize(CENT)


# --- the local month of a timestamp ------------------------------------------------------------
class LocalMonth(FunctionElement[str]):
    """``YYYY-MM`` of a stored UTC timestamp in the brand's zone.

    PostgreSQL has the zone database (``AT TIME ZONE``, exact across DST). SQLite has none: a
    zone with one offset over the data (Asia/Shanghai) adds it as a constant; other zones are
    bucketed by UTC hour here and turned into months in Python (``Zone.to_local``), which is
    exact for every zone whose offsets are whole hours. The zone name is spliced, never bound
    (GROUP BY repeats the expression; only names that passed ``check_zone`` get here)."""

    type = String()
    inherit_cache = False
    name = "local_month"

    def __init__(self, ts: Any, zone: Zone) -> None:
        super().__init__(ts)
        self.zone = zone


@compiles(LocalMonth, "postgresql")
def _local_month_pg(element: LocalMonth, compiler: Any, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    return f"to_char({ts} AT TIME ZONE '{element.zone.name}', 'YYYY-MM')"


@compiles(LocalMonth, "sqlite")
def _local_month_sqlite(element: LocalMonth, compiler: Any, **kw: Any) -> str:
    ts = compiler.process(element.clauses, **kw)
    offset = element.zone.fixed_offset
    if offset is None:  # bucketed by UTC hour; the runner maps hours to local months
        return f"strftime('%Y-%m-%d %H', {ts})"
    return f"strftime('%Y-%m', {ts}, '{int(offset):+d} seconds')"


def month_of(bucket: str | None, zone: Zone) -> str | None:
    """The local month of a ``LocalMonth`` value (an hour bucket on SQLite for DST zones)."""
    if bucket is None or len(bucket) == 7:
        return bucket
    hour = datetime.strptime(bucket, "%Y-%m-%d %H")
    return zone.to_local(hour).strftime("%Y-%m")
