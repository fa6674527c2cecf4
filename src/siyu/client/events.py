"""Python API for the event catalogue: ``s.events.list()``, ``s.events.update(name, {...})``,
``s.events.learn()``."""

from __future__ import annotations

from typing import Any

from siyu.client.layers import _Part
from siyu.events.service import EventCatalogue


class EventsClient(_Part):
    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return EventCatalogue(s).list()

    def get(self, name: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            return EventCatalogue(s).get(name)

    def update(self, name: str, change: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            data = EventCatalogue(s).update(name, change, actor)
            s.commit()
            return data

    def learn(self) -> dict[str, int]:
        """Add the event names and property keys seen so far (the background round does this
        after each feed in ``siyu serve``)."""
        with self._work() as (s, wh):
            return EventCatalogue(s).learn(wh.conn)
