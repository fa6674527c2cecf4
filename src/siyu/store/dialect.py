"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_ignore(session: Session, table: Table, rows: list[dict[str, Any]], unique_column: str) -> int:
    """Insert rows, skipping those that collide on ``unique_column``; return how many went in."""
    if not rows:
        return 0
    name = session.get_bind().dialect.name
    if name == "sqlite":
        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=[unique_column])
    elif name == "postgresql":
        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=[unique_column])
    else:  # pragma: no cover - only the two supported databases reach here
        raise NotImplementedError(f"insert_ignore on {name}")
    result = session.execute(stmt, rows)
    return int(result.rowcount)  # type: ignore[attr-defined]


def driver_insert_ignore(
    session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]], unique_column: str
) -> int:
    """The ingest hot path, inside the session's transaction, with values already in storage
    form (see :func:`storage_time`, JSON as text); skips SQLAlchemy's per-row parameter
    processing, which costs more than the insert itself.

    SQLite: ``executemany`` of ``INSERT OR IGNORE``. PostgreSQL: ``COPY`` into a temporary
    table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` (COPY is several times faster
    than ``executemany`` there, but cannot skip conflicts itself).
    """
    if not rows:
        return 0
    name = session.get_bind().dialect.name
    cols = ", ".join(columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if name == "sqlite":
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})", rows)
            return int(cursor.rowcount)
        if name != "postgresql":  # pragma: no cover
            raise NotImplementedError(f"driver_insert_ignore on {name}")
        staging = f"_staging_{table}"
        # Same column types, no constraints or defaults; dropped with the transaction.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS "
            f"SELECT {cols} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {staging} "
            f"ON CONFLICT ({unique_column}) DO NOTHING"
        )
        inserted = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE {staging}")
        return inserted
    finally:
        cursor.close()


def storage_time(dialect: str) -> Callable[[datetime], Any]:
    """How a UTC datetime is written by the driver paths, matching what the ORM writes:
    naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite, an aware datetime on PostgreSQL."""
    if dialect == "sqlite":
        return lambda ts: ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return lambda ts: ts
