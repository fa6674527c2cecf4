"""Bulk loading for generated or migrated data: the fastest path each database offers.

SQLite: one ``executemany`` per chunk on the raw driver connection inside one transaction.
PostgreSQL: ``COPY … FROM STDIN``. Rows are tuples already in storage form (timestamps as
UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` text, JSON as text, PII already encrypted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, text


def bulk_insert(engine: Engine, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> int:
    """Insert ``rows`` into ``table`` and return how many were written (all or nothing)."""
    cols = ", ".join(columns)
    count = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            # Generated rows are consistent by construction; checking each foreign key costs a
            # quarter of the insert time. The pragma cannot change inside a transaction.
            cur.execute("PRAGMA foreign_keys=OFF")
            cur.execute("BEGIN IMMEDIATE")
            marks = ", ".join("?" for _ in columns)
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= 50_000:
                    cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", batch)
                    count += len(batch)
                    batch = []
            if batch:
                cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", batch)
                count += len(batch)
            cur.execute("COMMIT")
        else:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row(row)
                    count += 1
            raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        if engine.dialect.name == "sqlite":
            raw.cursor().execute("PRAGMA foreign_keys=ON")  # the connection goes back to the pool
        raw.close()
    return count


def max_id(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar() or 0)


def sync_sequence(engine: Engine, table: str) -> None:
    """After inserting explicit ids, move PostgreSQL's id sequence past them (SQLite needs
    nothing: its rowid continues from the maximum)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        )


def analyze(engine: Engine, tables: Sequence[str]) -> None:
    """Refresh planner statistics after a bulk load, so the first queries on the new rows pick
    their indexes (PostgreSQL otherwise plans from an empty table's statistics)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # Sample instead of reading whole indexes (minutes on 50M events); PostgreSQL samples
            # by default.
            conn.execute(text("PRAGMA analysis_limit=1000"))
        for table in tables:
            conn.execute(text(f"ANALYZE {table}"))
