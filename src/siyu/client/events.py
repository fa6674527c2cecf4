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

    def titles(self, names: list[str] | set[str], lang: str = "zh") -> dict[str, str]:
        """Each event name as readers of ``lang`` see it (``Order Completed`` → ``下单``); a name
        with no label in the catalogue or the defaults reads as itself."""
        with self.ctx.db.session() as s:
            return {n: label.title(lang) for n, label in EventCatalogue(s).labels(names).items()}

    def property_title(self, event: str, key: str, lang: str = "zh") -> str:
        """A property of ``event`` as readers of ``lang`` see it (``amount`` → ``金额``)."""
        with self.ctx.db.session() as s:
            return EventCatalogue(s).labels([event])[event].property_label(key, lang)

    def choices(self, lang: str = "zh") -> dict[str, list[dict[str, str]]]:
        """Event names and property keys for pickers, with their titles in ``lang``."""
        with self.ctx.db.session() as s:
            return EventCatalogue(s).choices(lang)

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
