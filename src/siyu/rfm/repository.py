"""Every system-of-record query of the RFM capability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any

import pyarrow as pa
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked
from siyu.store.models import ContactRfm

#: Arrow schema of the stored rows as the diff reads them (timestamps naive UTC, as in DuckDB).
STORED_SCHEMA = pa.schema(
    [
        ("contact_id", pa.int64()),
        ("computed_at", pa.timestamp("us")),
        ("recency_days", pa.float64()),
        ("frequency", pa.int64()),
        ("monetary", pa.float64()),
        ("r", pa.int64()),
        ("f", pa.int64()),
        ("m", pa.int64()),
        ("segment", pa.string()),
    ]
)
_T = ContactRfm.__table__


class RfmRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- scores -------------------------------------------------------------------------------
    def stored(self, batch: int = 50_000) -> pa.Table:
        """Every stored row, read in one pass: the diff compares new scores with these rather
        than with the warehouse mirror, which lacks ``computed_at`` (needed to tell a new
        last order from time merely passing) and may lag the system of record."""
        names = STORED_SCHEMA.names
        cols: dict[str, list[Any]] = {n: [] for n in names}
        result = self.session.execute(select(*(_T.c[n] for n in names)).execution_options(yield_per=batch))
        for row in result:
            for name, value in zip(names, row, strict=True):
                cols[name].append(value)
        cols["computed_at"] = [t.astimezone(UTC).replace(tzinfo=None) for t in cols["computed_at"]]
        return pa.table(cols, schema=STORED_SCHEMA)

    def replace(self, rows: list[dict[str, Any]], remove: Sequence[int]) -> None:
        """Delete the rows of ``remove`` and of every contact in ``rows``, then insert ``rows``
        (set-based: chunked ``IN`` deletes and executemany inserts)."""
        gone = sorted({*remove, *(r["contact_id"] for r in rows)})
        for chunk in chunked(gone):
            self.session.execute(delete(ContactRfm).where(ContactRfm.contact_id.in_(chunk)))
        for chunk in chunked(rows, 5_000):
            self.session.execute(insert(ContactRfm.__table__), list(chunk))

    def get(self, contact_id: int) -> ContactRfm | None:
        return self.session.get(ContactRfm, contact_id)

    def segment_counts(self) -> dict[str, int]:
        rows = self.session.execute(
            select(ContactRfm.segment, func.count()).group_by(ContactRfm.segment)
        ).all()
        return {seg: int(n) for seg, n in rows}

    def grid_counts(self) -> dict[tuple[int, int], int]:
        rows = self.session.execute(
            select(ContactRfm.r, ContactRfm.f, func.count()).group_by(ContactRfm.r, ContactRfm.f)
        ).all()
        return {(int(r), int(f)): int(n) for r, f, n in rows}
