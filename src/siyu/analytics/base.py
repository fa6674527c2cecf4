"""One base class owns how analyses run; each analysis is a small runner chosen by ``kind``.

A runner takes validated parameters (a pydantic model, so every interface reports bad input
the same way, by field) and a ``Source`` (the warehouse to query). The base class compiles each
statement for the source's engine, records the SQL on the result (snapshot tests keep query
changes reviewable), and caches results by (kind, parameters, data version) so a dashboard that
asks twice does not scan twice.

Sources: DuckDB (the embedded warehouse, default) and PostgreSQL (a schema holding the same
tables). Runners are written once against SQLAlchemy Core and the constructs in
``warehouse/query.py`` and ``analytics/sql.py``; only those constructs differ per engine.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, ClassVar, Generic, Protocol, TypeVar

import duckdb
import pyarrow as pa
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine, and_, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement, ColumnElement

from siyu.analytics.result import AnalysisResult
from siyu.warehouse.query import DUCKDB, compile_sql


class AnalyticsError(ValueError):
    """Bad parameters or data for an analysis; ``field`` names what is wrong (``steps[1].event``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def params_error(exc: ValidationError) -> AnalyticsError:
    """The first problem of a pydantic error, with its field path in our notation."""
    first = exc.errors()[0]
    path = ""
    for part in first["loc"]:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = first["msg"].removeprefix("Value error, ")  # our own validators' text, unprefixed
    return AnalyticsError(path, message)


# --- the days analyses work with -------------------------------------------------------------------
#: Days a parameter may name and events analyses read. Outside them date arithmetic overflows
#: (Python's dates end at 9999-12-31, pandas' timestamps in 2262), and no brand has customers
#: there: a day parameter outside answers 422 naming the field, an event outside (a device
#: clock at year 9999, a typo at year 0001) is ignored by every runner.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


def _sane_day(day: date) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}")
    return day


#: A day parameter of an analysis (YYYY-MM-DD), between FIRST_DAY and LAST_DAY.
Day = Annotated[date, AfterValidator(_sane_day)]


def in_sane_range(timestamp: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether an event's time lies within FIRST_DAY … LAST_DAY (events outside are ignored)."""
    return and_(
        timestamp >= datetime.combine(FIRST_DAY, time()),
        timestamp < datetime.combine(LAST_DAY + timedelta(days=1), time()),
    )


class Params(BaseModel):
    """Base of every runner's parameters: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- sources -----------------------------------------------------------------------------------------
class Source(Protocol):
    """Where an analysis reads the warehouse tables (events, contacts, the profile mirrors)."""

    #: "duckdb" or "postgresql"
    engine: str
    dialect: PGDialect

    def fetch(self, stmt: ClauseElement | str, params: list[Any] | None = None) -> pa.Table: ...

    def version(self) -> tuple[Any, ...]:
        """Changes whenever the data an analysis could read changes (the cache key's part)."""
        ...


class DuckDBSource:
    engine = "duckdb"
    dialect: PGDialect = DUCKDB

    def __init__(self, conn: duckdb.DuckDBPyConnection, label: str | None = None) -> None:
        self.conn = conn
        #: Names the data for the cache: the warehouse file; otherwise a name of this source's
        #: own (not ``id(conn)``: Python reuses ids of closed connections, which served stale
        #: results across connections).
        self.label = label or f"connection:{uuid.uuid4().hex}"

    def fetch(self, stmt: ClauseElement | str, params: list[Any] | None = None) -> pa.Table:
        # ``sql(...).to_arrow_table()`` streams into Arrow; ``execute`` would copy the rows once more.
        if isinstance(stmt, str):
            return self.conn.sql(stmt, params=params or None).to_arrow_table()
        sql, values = compile_sql(stmt, self.dialect)
        return self.conn.sql(sql, params=values or None).to_arrow_table()

    def version(self) -> tuple[Any, ...]:
        rows = self.conn.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT max(id) FROM events), "
            "(SELECT count(*) FROM contacts), (SELECT max(id) FROM contact_changes)"
        ).fetchall()  # fetchall: DuckDB 2 refuses new work while a result is unfinished
        return (self.label, *rows[0])


class PostgresSource:
    """The warehouse tables in a PostgreSQL schema (the same code, a server engine)."""

    engine = "postgresql"
    dialect: PGDialect = postgresql.dialect(paramstyle="pyformat")  # type: ignore[assignment]

    def __init__(self, db: Engine, schema: str = "public") -> None:
        self.db = db
        self.schema = schema

    def fetch(self, stmt: ClauseElement | str, params: list[Any] | None = None) -> pa.Table:
        with self.db.connect() as conn:
            conn.execute(text(f'SET LOCAL search_path TO "{self.schema}"'))
            if isinstance(stmt, str):
                result = conn.exec_driver_sql(stmt, tuple(params or ()))
            else:
                result = conn.execute(stmt)
            names = list(result.keys())
            rows = result.fetchall()
        return pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)}) if names else pa.table({})

    def version(self) -> tuple[Any, ...]:
        table = self.fetch(
            "SELECT (SELECT count(*) FROM events) AS n, (SELECT max(id) FROM events) AS m, "
            "(SELECT count(*) FROM contacts) AS c"
        )
        return (self.schema, *table.to_pylist()[0].values())


def sql_text(stmt: ClauseElement | str, dialect: PGDialect) -> str:
    """The statement as text with its parameters shown as placeholders (for review)."""
    return stmt if isinstance(stmt, str) else compile_sql(stmt, dialect)[0]


# --- runners -----------------------------------------------------------------------------------------
P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=AnalysisResult)

RUNNERS: dict[str, type[QueryRunner[Any, Any]]] = {}
_CACHE: OrderedDict[tuple[Any, ...], AnalysisResult] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 64


def register(cls: type[QueryRunner[P, R]]) -> type[QueryRunner[P, R]]:
    """Class decorator: make a runner available under its ``kind``."""
    if not cls.kind or cls.kind in RUNNERS:
        raise RuntimeError(f"runner kind {cls.kind!r} is empty or taken")
    RUNNERS[cls.kind] = cls
    return cls


class QueryRunner(Generic[P, R]):
    """Base of every analysis. Subclasses set ``kind`` and ``params_model`` and implement
    ``calculate``; they call ``self.fetch`` for every query so the SQL is recorded."""

    kind: ClassVar[str] = ""
    params_model: ClassVar[type[Params]]
    #: False for analyses whose parameters carry all their data (no warehouse needed);
    #: ``uses_warehouse`` decides per parameters.
    needs_source: ClassVar[bool] = True
    #: False for analyses with randomness or external inputs that must not be cached.
    cacheable: ClassVar[bool] = True

    @classmethod
    def parse(cls, params: P | dict[str, Any]) -> P:
        """Validated parameters; ``AnalyticsError`` names the first bad field."""
        if not isinstance(params, dict):
            return params
        try:
            return cls.params_model.model_validate(params)  # type: ignore[return-value]
        except ValidationError as exc:
            raise params_error(exc) from exc

    @classmethod
    def uses_warehouse(cls, params: P) -> bool:
        """Whether these parameters need the warehouse (some analyses can take their data
        inline, e.g. aggregated attribution paths); callers skip opening it when not."""
        return cls.needs_source

    def __init__(
        self, params: P | dict[str, Any], source: Source | None = None, session: Session | None = None
    ) -> None:
        self.params: P = self.parse(params)
        if self.uses_warehouse(self.params) and source is None:
            raise AnalyticsError("", f"{self.kind} needs the warehouse")
        self.source = source
        #: The system of record, for names (channels) and inputs kept there (spend); may be None.
        self.session = session
        self.sql: list[str] = []

    @property
    def engine(self) -> str:
        return self.source.engine if self.source is not None else "duckdb"

    def fetch(self, stmt: ClauseElement | str, params: list[Any] | None = None) -> pa.Table:
        assert self.source is not None
        self.sql.append(sql_text(stmt, self.source.dialect))
        return self.source.fetch(stmt, params)

    def calculate(self) -> R:
        raise NotImplementedError

    def run(self, use_cache: bool = True) -> R:
        key = None
        if use_cache and self.cacheable and self.source is not None:
            key = (self.kind, self.params.model_dump_json(), self.source.engine, *self.source.version())
            with _CACHE_LOCK:
                hit = _CACHE.get(key)
                if hit is not None:
                    _CACHE.move_to_end(key)
                    return hit  # type: ignore[return-value]
        result = self.calculate()
        result.sql = list(self.sql)
        if key is not None:
            with _CACHE_LOCK:
                _CACHE[key] = result
                while len(_CACHE) > CACHE_SIZE:
                    _CACHE.popitem(last=False)
        return result


def runners() -> dict[str, type[QueryRunner[Any, Any]]]:
    """Every registered runner by kind (the built-in ones are registered on first use)."""
    from siyu.analytics import catalog  # noqa: F401  (registers the built-in runners)

    return RUNNERS


def runner_for(kind: str) -> type[QueryRunner[Any, Any]]:
    try:
        return runners()[kind]
    except KeyError:
        known = ", ".join(sorted(RUNNERS))
        raise AnalyticsError("kind", f"unknown analysis {kind!r}; one of {known}") from None


def run_analysis(
    kind: str,
    params: dict[str, Any] | Params,
    source: Source | None = None,
    session: Session | None = None,
    use_cache: bool = True,
) -> AnalysisResult:
    """Run analysis ``kind`` with ``params`` on ``source``."""
    return runner_for(kind)(params, source, session).run(use_cache=use_cache)
