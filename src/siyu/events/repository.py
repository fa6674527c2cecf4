"""Reads and writes of the ``event_definitions`` table."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.store.models import Event, EventDefinition


class CatalogueRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[EventDefinition]:
        return list(self.session.scalars(select(EventDefinition).order_by(EventDefinition.name)))

    def get(self, name: str) -> EventDefinition | None:
        return self.session.scalar(select(EventDefinition).where(EventDefinition.name == name))

    def by_names(self, names: Iterable[str]) -> dict[str, EventDefinition]:
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = self.session.scalars(select(EventDefinition).where(EventDefinition.name.in_(wanted)))
        return {row.name: row for row in rows}

    def add(self, row: EventDefinition) -> EventDefinition:
        self.session.add(row)
        self.session.flush()
        return row

    def names_in_data(self, limit: int) -> list[str]:
        """Track event names in the operational store, most frequent first (for pickers before
        the catalogue has learned them from the warehouse)."""
        rows = self.session.execute(
            select(Event.event, func.count())
            .where(Event.event.is_not(None), Event.type == "track")
            .group_by(Event.event)
            .order_by(func.count().desc(), Event.event)
            .limit(limit)
        )
        return [name for name, _ in rows]
