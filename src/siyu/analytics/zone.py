"""Days and periods in the brand's time zone, on DuckDB and PostgreSQL alike.

The warehouse keeps event times as naive UTC. An analysis in a zone (PostHog's project time
zone) needs two things, and only these two:

* which local day/week/month an event falls in: the period number of its *local wall time*
  (``Zone.local(ts)``), so an event at 16:30 UTC on 03-01 counts on 03-02 in Beijing;
* which events a range of local days holds: local midnights converted to UTC instants
  (``Zone.utc(...)``), compared with the stored column as before, so the range filter still
  prunes by the raw column.

Converting every row through the engine's time-zone database (ICU in DuckDB) costs a lookup per
row; for a zone whose offset does not change over the queried range (Asia/Shanghai has had none
since 1991) the local time is the UTC time plus a constant, which both engines compute as cheaply
as the column itself. UTC adds nothing, so statements in UTC read as they did before zones.

The zone name is spliced as a literal, never bound: PostgreSQL matches GROUP BY expressions by
text, and ``timezone($1, ts)`` in the select list is not ``timezone($2, ts)`` in GROUP BY. Only
names that passed ``siyu.brand.check_zone`` (an IANA name, no quotes) get here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, literal_column
from sqlalchemy.sql.elements import ColumnElement

from siyu.brand import check_zone

#: The zone analyses use when none is given (runners called directly, e.g. in tests); every
#: interface (Python API, CLI, REST, console) passes the brand zone.
RUNNER_DEFAULT = "UTC"
#: Longest range (days) whose offsets are checked one by one for the constant-offset shortcut.
_MAX_CHECKED_DAYS = 40_000


@dataclass(frozen=True)
class Zone:
    """A time zone and, when constant over the queried range, its offset in seconds."""

    name: str
    fixed_offset: int | None = None

    @classmethod
    def over(cls, name: str | None, first: date, last: date) -> Zone:
        """The zone ``name`` (default UTC) for a query over the local days ``first`` … ``last``
        (a day of margin either side: bounds and creation times just outside count too)."""
        name = check_zone(name or RUNNER_DEFAULT)
        tz = ZoneInfo(name)
        lo, hi = first - timedelta(days=1), last + timedelta(days=1)
        if (hi - lo).days > _MAX_CHECKED_DAYS:
            return cls(name)
        offsets = set()
        day = lo
        while day <= hi and len(offsets) < 2:
            offsets.add(_offset(tz, day))
            day += timedelta(days=1)
        offsets.add(_offset(tz, hi, time(23, 59)))
        return cls(name, offsets.pop() if len(offsets) == 1 else None)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.name)

    def local(self, ts: Any) -> ColumnElement[Any]:
        """A naive UTC timestamp expression as naive wall time in this zone."""
        if self.fixed_offset == 0:
            return ts  # type: ignore[no-any-return]
        if self.fixed_offset is not None:
            return ts + literal_column(f"INTERVAL '{int(self.fixed_offset)} seconds'")  # type: ignore[no-any-return]
        zone = literal_column(f"'{self.name}'")
        return func.timezone(zone, func.timezone(literal_column("'UTC'"), ts))

    def utc(self, local: datetime | date) -> datetime:
        """A local wall time (a date: its midnight) as the naive UTC instant it is."""
        wall = local if isinstance(local, datetime) else datetime.combine(local, time())
        return wall.replace(tzinfo=self.tz).astimezone(UTC).replace(tzinfo=None)

    def to_local(self, utc: datetime) -> datetime:
        """A naive UTC instant as naive wall time in this zone."""
        return utc.replace(tzinfo=UTC).astimezone(self.tz).replace(tzinfo=None)


def _offset(tz: ZoneInfo, day: date, at: time = time(12)) -> int:
    offset = datetime.combine(day, at, tzinfo=tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def today_in(name: str | None) -> date:
    """Today in zone ``name`` (default UTC)."""
    return datetime.now(ZoneInfo(check_zone(name or RUNNER_DEFAULT))).date()


def zone_name(params: Any) -> str:
    """The zone an analysis ran in, for its JSON (``timezone`` parameter, else the default)."""
    return getattr(params, "timezone", None) or RUNNER_DEFAULT
