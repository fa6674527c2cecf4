"""The portable query layer: analyses and segment conditions are SQLAlchemy Core expressions
over the warehouse tables, compiled for the warehouse's engine (DuckDB by default; the same
expressions compile for PostgreSQL). Values are always bound parameters, never spliced into
SQL text.

The few operations whose SQL differs between engines are small constructs below with one
compilation per engine.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Float, TableClause, column, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.expression import FunctionElement
from sqlalchemy.types import Boolean, DateTime, String


class DuckDBDialect(PGDialect):
    """DuckDB speaks PostgreSQL's SQL closely enough to reuse its compiler; only the
    constructs below differ. Used for compilation only (DuckDB's own driver executes)."""

    name = "duckdb"
    supports_statement_cache = False


DUCKDB = DuckDBDialect(paramstyle="qmark")


# --- engine-specific constructs -------------------------------------------------------------------
class JsonText(FunctionElement[str]):
    """Text of a JSON value: of key ``key`` of an object, or of the whole value."""

    type = String()
    inherit_cache = True
    name = "json_text"


@compiles(JsonText, "duckdb")
def _json_text_duckdb(element: JsonText, compiler: Any, **kw: Any) -> str:
    args = list(element.clauses)
    if len(args) == 1:
        return f"json_extract_string({compiler.process(args[0], **kw)}, '$')"
    return f"({compiler.process(args[0], **kw)} ->> {compiler.process(args[1], **kw)})"


@compiles(JsonText, "postgresql")
def _json_text_pg(element: JsonText, compiler: Any, **kw: Any) -> str:
    args = list(element.clauses)
    if len(args) == 1:
        return f"({compiler.process(args[0], **kw)} #>> '{{}}')"
    return f"({compiler.process(args[0], **kw)} ->> {compiler.process(args[1], **kw)})"


class TryDouble(FunctionElement[float]):
    """A number from text, NULL when the text is not one (a bad value must not fail a query)."""

    type = Float()
    inherit_cache = True
    name = "try_double"


#: What counts as a number in text: exactly JSON's number syntax, as docs/segments.md promises
#: ("05", "+5", ".5", "5.", " 5", "NaN", "Infinity" and "1_000" do not; either engine's cast
#: alone would take most of them). At most 255 digits before and after the point (PostgreSQL's
#: regular expressions repeat at most 255 times) and four in the exponent (leading zeros aside),
#: so PostgreSQL's NUMERIC always parses a match.
NUMBER_PATTERN = r"-?(0|[1-9][0-9]{0,254})(\.[0-9]{1,255})?([eE][-+]?0*[0-9]{1,4})?"
#: Magnitudes a double holds with room to spare: larger ones count as no number (NULL) and
#: smaller ones as 0, the same on both engines (DuckDB's cast would give infinity, PostgreSQL's
#: would fail the whole query).
DOUBLE_MAX, DOUBLE_TINY = "1e308", "1e-300"


@compiles(TryDouble, "duckdb")
def _try_double_duckdb(element: TryDouble, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    value = f"TRY_CAST({arg} AS DOUBLE)"  # DuckDB computes the repeated expression once
    return (
        f"(CASE WHEN regexp_full_match({arg}, '{NUMBER_PATTERN}') "
        f"THEN (CASE WHEN abs({value}) >= {DOUBLE_MAX} THEN NULL "
        f"WHEN abs({value}) < {DOUBLE_TINY} THEN 0.0 ELSE {value} END) END)"
    )


@compiles(TryDouble, "postgresql")
def _try_double_pg(element: TryDouble, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    exact = f"CAST({arg} AS NUMERIC)"  # never fails on a match; the double cast could overflow
    return (
        f"(CASE WHEN {arg} ~ '^{NUMBER_PATTERN}$' "
        f"THEN (CASE WHEN abs({exact}) >= {DOUBLE_MAX} THEN NULL "
        f"WHEN abs({exact}) < {DOUBLE_TINY} THEN CAST(0 AS DOUBLE PRECISION) "
        f"ELSE CAST({exact} AS DOUBLE PRECISION) END) END)"
    )


class TryTimestamp(FunctionElement[Any]):
    type = DateTime()
    inherit_cache = True
    name = "try_timestamp"


@compiles(TryTimestamp, "duckdb")
def _try_ts_duckdb(element: TryTimestamp, compiler: Any, **kw: Any) -> str:
    # Through TIMESTAMPTZ so an offset ("+08:00") is honoured; the connection's zone is UTC.
    return f"(TRY_CAST({compiler.process(element.clauses, **kw)} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"


@compiles(TryTimestamp, "postgresql")
def _try_ts_pg(element: TryTimestamp, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return (
        f"(CASE WHEN {arg} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' "
        f"THEN CAST({arg} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END)"
    )


class MonthDay(FunctionElement[str]):
    """``MM-DD`` of a date given as text (NULL when it is not a date)."""

    type = String()
    inherit_cache = True
    name = "month_day"


@compiles(MonthDay, "duckdb")
def _md_duckdb(element: MonthDay, compiler: Any, **kw: Any) -> str:
    return f"strftime(TRY_CAST({compiler.process(element.clauses, **kw)} AS DATE), '%m-%d')"


@compiles(MonthDay, "postgresql")
def _md_pg(element: MonthDay, compiler: Any, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(CASE WHEN {arg} ~ '^\\d{{4}}-\\d{{2}}-\\d{{2}}' THEN to_char(CAST({arg} AS DATE), 'MM-DD') END)"


class AgeSeconds(FunctionElement[float]):
    """Seconds from the first timestamp to the second."""

    type = Float()
    inherit_cache = True
    name = "age_seconds"


@compiles(AgeSeconds, "duckdb")
def _age_duckdb(element: AgeSeconds, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"(epoch({compiler.process(b, **kw)}) - epoch({compiler.process(a, **kw)}))"


@compiles(AgeSeconds, "postgresql")
def _age_pg(element: AgeSeconds, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(b, **kw)} - {compiler.process(a, **kw)}))"


# --- the warehouse tables as Core objects ----------------------------------------------------------
def _t(name: str, *cols: str | tuple[str, Any]) -> TableClause:
    return table(name, *(column(c) if isinstance(c, str) else column(c[0], c[1]) for c in cols))


EVENTS = _t("events", "id", "contact_id", "type", "event", ("properties", JSONB()), ("timestamp", DateTime()))
CONTACTS = _t("contacts", "id", "merged_into_id", "first_channel_id", "first_entry_code_id", "created_at")
ATTRIBUTES = _t("contact_attributes", "contact_id", "name", ("value", JSONB()))
CONTACT_TAGS = _t("contact_tags", "contact_id", "tag_id", "weight", ("weighted_at", DateTime()))
CONSENTS = _t(
    "consent_records", "contact_id", "id", "purpose", "channel", ("granted", Boolean()), "occurred_at"
)
TOUCHES = _t("touches", "contact_id", "channel_id", "entry_code_id", "occurred_at")
STAGES = _t("contact_stages", "contact_id", "stage", "since")
RFM = _t("contact_rfm", "contact_id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment")
SEGMENT_MEMBERS = _t("segment_members", "segment_id", "contact_id")
SCORES = _t("contact_scores", "contact_id", "churn_risk", ("computed_at", DateTime()), "model")
GROUP_MEMBERS = _t(
    "group_members", "contact_id", "group_id", ("joined_at", DateTime()), ("left_at", DateTime())
)
COMMUNITY_ROLES = _t("community_roles", "contact_id", "group_id", "role")
LOYALTY_MEMBERS = _t("loyalty_members", "contact_id", "status", "tier", "tier_rank")
POINTS_LOTS = _t(
    "points_lots", "contact_id", "status", ("available_at", DateTime()), ("expires_at", DateTime()), "points"
)
COUPON_HOLDINGS = _t("coupon_holdings", "contact_id", "template", "status", ("expires_at", DateTime()), "n")
CHANGES = _t("contact_changes", "id", "contact_id")
#: Temporary table of contact ids an incremental segment recompute evaluates.
AFFECTED = _t("seg_affected", "id")


# --- execution ---------------------------------------------------------------------------------
def compile_sql(stmt: ClauseElement, dialect: PGDialect = DUCKDB) -> tuple[str, list[Any]]:
    """SQL text with placeholders and the values in order."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    order = compiled.positiontup or []
    return str(compiled), [compiled.params[k] for k in order]


def fetch_arrow(conn: duckdb.DuckDBPyConnection, stmt: ClauseElement) -> pa.Table:
    sql, params = compile_sql(stmt)
    return conn.sql(sql, params=params).to_arrow_table()


def fetch_all(conn: duckdb.DuckDBPyConnection, stmt: ClauseElement) -> list[tuple[Any, ...]]:
    sql, params = compile_sql(stmt)
    return conn.execute(sql, params).fetchall()


__all__ = [
    "AFFECTED",
    "ATTRIBUTES",
    "CHANGES",
    "COMMUNITY_ROLES",
    "CONSENTS",
    "CONTACTS",
    "CONTACT_TAGS",
    "COUPON_HOLDINGS",
    "DUCKDB",
    "EVENTS",
    "GROUP_MEMBERS",
    "LOYALTY_MEMBERS",
    "POINTS_LOTS",
    "RFM",
    "SCORES",
    "SEGMENT_MEMBERS",
    "STAGES",
    "TOUCHES",
    "AgeSeconds",
    "JsonText",
    "MonthDay",
    "TryDouble",
    "TryTimestamp",
    "compile_sql",
    "fetch_all",
    "fetch_arrow",
]
