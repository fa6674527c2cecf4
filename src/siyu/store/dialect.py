"""The few statements whose SQL differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_ignore(
    session: Session, table: Table, rows: list[dict[str, Any]], unique_column: str
) -> int:
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
