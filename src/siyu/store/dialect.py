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
    """The ingest hot path: ``executemany`` on the driver inside the session's transaction, with
    values already in storage form (see :func:`storage_time`, JSON as text). Skips SQLAlchemy's
    per-row parameter processing, which costs more than the insert itself."""
    if not rows:
        return 0
    name = session.get_bind().dialect.name
    cols = ", ".join(columns)
    if name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT OR IGNORE INTO {table} ({cols}) VALUES ({marks})"
    elif name == "postgresql":
        marks = ", ".join("%s" for _ in columns)
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({unique_column}) DO NOTHING"
    else:  # pragma: no cover
        raise NotImplementedError(f"driver_insert_ignore on {name}")
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(sql, rows)
        return int(cursor.rowcount)
    finally:
        cursor.close()


def storage_time(dialect: str) -> Callable[[datetime], Any]:
    """How a UTC datetime is written by the driver paths, matching what the ORM writes:
    naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite, an aware datetime on PostgreSQL."""
    if dialect == "sqlite":
        return lambda ts: ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return lambda ts: ts
