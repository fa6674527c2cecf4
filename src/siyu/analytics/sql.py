"""SQL constructs analyses share whose text differs between DuckDB and PostgreSQL.

Runners build statements with SQLAlchemy Core and these constructs; anything Core cannot say
(window frames over time intervals, ASOF joins) is written as SQL text per engine in the
runner, with values still bound as parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

#: Periods analyses bucket by (``date_trunc`` units; weeks start on Monday on both engines).
PERIODS = ("hour", "day", "week", "month")


class Epoch(FunctionElement[float]):
    """Seconds since 1970-01-01 of a timestamp (UTC)."""

    type = Float()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(Epoch, "duckdb")
def _epoch_duckdb(element: Epoch, compiler: Any, **kw: Any) -> str:
    return f"epoch({compiler.process(element.clauses, **kw)})"


@compiles(Epoch, "postgresql")
def _epoch_pg(element: Epoch, compiler: Any, **kw: Any) -> str:
    return f"EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})::DOUBLE PRECISION"


class PlusSeconds(FunctionElement[Any]):
    """A timestamp plus a number of seconds."""

    type = DateTime()
    inherit_cache = True
    name = "plus_seconds"


@compiles(PlusSeconds, "duckdb")
def _plus_duckdb(element: PlusSeconds, compiler: Any, **kw: Any) -> str:
    ts, secs = list(element.clauses)
    micros = f"CAST({compiler.process(secs, **kw)} * 1e6 AS BIGINT)"
    return f"({compiler.process(ts, **kw)} + to_microseconds({micros}))"


@compiles(PlusSeconds, "postgresql")
def _plus_pg(element: PlusSeconds, compiler: Any, **kw: Any) -> str:
    ts, secs = list(element.clauses)
    return f"({compiler.process(ts, **kw)} + make_interval(secs => {compiler.process(secs, **kw)}))"


def interval_literal(seconds: int) -> str:
    """An interval literal both engines read (``INTERVAL '1209600 seconds'``), for window frames.

    Only ever called with an integer the runner computed, never with user text.
    """
    return f"INTERVAL '{int(seconds)} seconds'"
