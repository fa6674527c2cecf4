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
