"""Erasures in the warehouse: a person deleted from the system of record (a PIPL deletion)
leaves it here too. The deleting request cannot write DuckDB (one writer: the feeder), so it
queues the erased contact ids in ``warehouse_erasures``; each feed deletes their rows from
every warehouse table with a ``contact_id`` column, then removes the queue row (and
``Warehouse.erase`` rewrites the file, whose freed blocks would still hold the bytes).
A rebuild reads nothing of theirs anyway.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from sqlalchemy import delete, select

from siyu.store.engine import Database
from siyu.store.models import WarehouseErasure


def apply_erasures(conn: duckdb.DuckDBPyConnection, db: Database) -> int:
    """Apply every queued erasure; returns how many were applied."""
    with db.session() as session:
        queued = session.execute(select(WarehouseErasure.id, WarehouseErasure.erased_ids)).all()
    if not queued:
        return 0
    ids = sorted({int(c) for _, erased in queued for c in erased})
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'contact_id' "
            "AND table_schema = 'main'"
        ).fetchall()
    ]
    conn.register("erased", pa.table({"id": ids}))
    conn.execute("BEGIN")
    try:
        for table in tables:
            conn.execute(f'DELETE FROM "{table}" WHERE contact_id IN (SELECT id FROM erased)')
        conn.execute(
            "DELETE FROM contacts WHERE id IN (SELECT id FROM erased) "
            "OR merged_into_id IN (SELECT id FROM erased)"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("erased")
    with db.session() as session:
        session.execute(delete(WarehouseErasure).where(WarehouseErasure.id.in_([q[0] for q in queued])))
    return len(queued)
