"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


#: Values per ``IN (…)`` list: well below SQLite's bound-parameter limit.
IN_CHUNK = 500


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Slices of ``items`` small enough for one ``IN`` list."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


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
        _copy_to_staging(cursor, table, columns, rows)
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _staging_{table} "
            f"ON CONFLICT ({unique_column}) DO NOTHING"
        )
        inserted = int(cursor.rowcount)
        cursor.execute(f"TRUNCATE _staging_{table}")
        return inserted
    finally:
        cursor.close()


def driver_insert(session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Plain inserts on the driver's fastest path, values in storage form: SQLite
    ``executemany``, PostgreSQL ``COPY`` straight into the table (rows that cannot collide:
    an order's new lines, change-log entries). SQLAlchemy's multi-row VALUES statements cost
    more to build and for psycopg to parse than the rows cost to write."""
    if not rows:
        return
    cols = ", ".join(columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if session.get_bind().dialect.name == "sqlite":
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
            return
        with cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()


def _copy_to_staging(cursor: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    cols = ", ".join(columns)
    staging = f"_staging_{table}"
    # Same column types, no constraints or defaults; dropped with the transaction.
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DROP AS SELECT {cols} FROM {table} WITH NO DATA"
    )
    with cursor.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def copy_insert_returning(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    conflict: str,
    returning: str,
) -> list[tuple[Any, ...]]:
    """PostgreSQL: ``driver_insert_ignore`` that also returns ``returning`` of the rows it
    inserted (not those a conflict skipped). For rows whose ids the caller needs: a batch of
    1,000 orders as one multi-row ``INSERT … RETURNING`` is a 570 KB statement, and psycopg
    spent 0.9 s parsing each one; COPY carries the same rows with no statement to parse."""
    cols = ", ".join(columns)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        _copy_to_staging(cursor, table, columns, rows)
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _staging_{table} "
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {returning}"
        )
        out = [tuple(r) for r in cursor.fetchall()]
        cursor.execute(f"TRUNCATE _staging_{table}")
        return out
    finally:
        cursor.close()


def storage_time(dialect: str) -> Callable[[datetime], Any]:
    """How a UTC datetime is written by the driver paths, matching what the ORM writes:
    naive ``YYYY-MM-DD HH:MM:SS.ffffff`` text on SQLite, an aware datetime on PostgreSQL."""
    if dialect == "sqlite":
        return lambda ts: ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return lambda ts: ts


def insert_ignore(
    session: Session, table: Any, rows: list[dict[str, Any]], conflict: Sequence[str] = ()
) -> int:
    """Insert ``rows`` (ORM-typed values) into ``table``, skipping rows that collide with a
    unique index (``conflict`` names the one expected; empty: any of them); returns how many
    were inserted (counted from RETURNING: drivers report no rowcount for executemany)."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).on_conflict_do_nothing(index_elements=list(conflict) or None)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).on_conflict_do_nothing(index_elements=list(conflict) or None)
    pk = next(iter(table.primary_key.columns))
    return len(session.execute(stmt.returning(pk), rows).all())


#: On PostgreSQL, concurrent transactions commit ids out of order: a follower reading by id
#: stops at rows received less than this long ago, which may still have uncommitted neighbours.
SETTLE_SECONDS = 5.0


def settled_before(session: Session, now: datetime) -> datetime:
    """The newest ``received_at`` a follower may read up to. SQLite has one writer at a time,
    so what is visible is complete and no wait is needed."""
    if session.get_bind().dialect.name == "sqlite":
        return now
    from datetime import timedelta

    return now - timedelta(seconds=SETTLE_SECONDS)
