"""Every system-of-record query of the stages capability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked
from siyu.store.models import ContactStage, StageChange


class StageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- writing ------------------------------------------------------------------------------
    def set_stages(self, stages: Sequence[tuple[int, str]], since: datetime) -> None:
        """Upsert (contact, stage) pairs as chunked deletes and executemany inserts: portable
        across SQLite and PostgreSQL and set-based for hundreds of thousands of contacts."""
        ids = [cid for cid, _ in stages]
        for chunk in chunked(ids):
            self.session.execute(delete(ContactStage).where(ContactStage.contact_id.in_(chunk)))
        for part in chunked(stages, 5_000):
            self.session.execute(
                insert(ContactStage.__table__),
                [{"contact_id": c, "stage": st, "since": since} for c, st in part],
            )

    def add_changes(self, changes: Sequence[dict[str, Any]]) -> None:
        """Rows of (contact_id, from_stage, to_stage, reason, at)."""
        for part in chunked(changes, 5_000):
            self.session.execute(insert(StageChange.__table__), list(part))

    # --- reading ------------------------------------------------------------------------------
    def current(self, contact_id: int) -> ContactStage | None:
        return self.session.get(ContactStage, contact_id)

    def history(self, contact_id: int, limit: int | None = None) -> list[StageChange]:
        stmt = (
            select(StageChange)
            .where(StageChange.contact_id == contact_id)
            .order_by(StageChange.at, StageChange.id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(self.session.scalars(stmt))

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(
            select(ContactStage.stage, func.count()).group_by(ContactStage.stage)
        ).all()
        return {stage: int(n) for stage, n in rows}

    def flow(self, since: datetime | None, until: datetime | None) -> list[tuple[str | None, str, int]]:
        stmt = select(StageChange.from_stage, StageChange.to_stage, func.count()).group_by(
            StageChange.from_stage, StageChange.to_stage
        )
        if since is not None:
            stmt = stmt.where(StageChange.at >= since)
        if until is not None:
            stmt = stmt.where(StageChange.at < until)
        return [(f, t, int(n)) for f, t, n in self.session.execute(stmt)]
