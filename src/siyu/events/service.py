"""The event catalogue: display names, summaries and property labels per event name.

Entries appear by themselves: ``learn`` reads from the warehouse which event names occur (with
their volume) and which top-level property keys their recent events carry, and adds what is
new. People edit the labels (console, CLI, REST); built-in defaults (``defaults.py``) cover the
Segment e-commerce spec and siyu's own events, and a stored field wins over its default.

Rendering stays free of any interface: ``summary`` fills a summary template and takes the
formatting of each value (money as ¥, a stage code as its name) from the caller, so the console
writes ``下单 ¥35.04（1件）`` with its own formatters and the CLI can do the same with its own."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.events.defaults import PROPERTIES, builtin
from siyu.events.repository import CatalogueRepository
from siyu.events.schemas import CatalogueError, CatalogueNotFound, EventDefinitionUpdate
from siyu.store.models import EventDefinition, utcnow

#: How many of the newest events ``learn`` reads for property keys (names and volumes come from
#: every event): keys seen recently are the ones worth labelling, and the scan stays bounded.
LEARN_SAMPLE = 200_000
MAX_KEYS_PER_EVENT = 100
#: How many event names and property keys a picker offers.
CHOICES = 200
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")
_FIELD = re.compile(r"\{([^{}]+)\}")
Formatter = Callable[[str, Any], str]


@dataclass(frozen=True)
class EventLabel:
    """One event name as readers see it, defaults and stored edits merged."""

    name: str
    display: dict[str, str | None]
    summary: dict[str, str | None]
    properties: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def title(self, lang: str) -> str:
        return self.display.get(lang) or self.display.get("zh") or self.name

    def property_label(self, key: str, lang: str) -> str:
        """The brand's label, else the built-in one for common keys, else the key itself."""
        spec = self.properties.get(key) or {}
        zh, en, _ = PROPERTIES.get(key, (None, None, None))
        return spec.get(lang) or {"zh": zh, "en": en}.get(lang) or spec.get("zh") or zh or key

    def kind(self, key: str) -> str:
        return (self.properties.get(key) or {}).get("kind") or PROPERTIES.get(key, ("", "", "text"))[2]

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_zh": self.display.get("zh"),
            "display_en": self.display.get("en"),
            "summary_zh": self.summary.get("zh"),
            "summary_en": self.summary.get("en"),
            "properties": self.properties,
        }


def _merge(name: str, row: EventDefinition | None) -> EventLabel:
    base = builtin(name) or {}
    stored = row.properties if row is not None and row.properties else {}

    def pick(attr: str) -> str | None:
        value = getattr(row, attr, None) if row is not None else None
        return value or base.get(attr)

    props: dict[str, dict[str, str | None]] = {}
    for key in sorted(set(stored)):
        zh, en, kind = PROPERTIES.get(key, (None, None, None))
        mine = stored.get(key) or {}
        props[key] = {
            "zh": mine.get("zh") or zh,
            "en": mine.get("en") or en,
            "kind": mine.get("kind") or kind,
        }
    return EventLabel(
        name=name,
        display={"zh": pick("display_zh"), "en": pick("display_en")},
        summary={"zh": pick("summary_zh"), "en": pick("summary_en")},
        properties=props,
    )


def summary(label: EventLabel, properties: dict[str, Any] | None, lang: str, fmt: Formatter) -> str:
    """The event's summary template filled from ``properties``: ``{key}`` becomes
    ``fmt(kind, value)``; a ``[…]`` part naming a missing property is left out. Without a
    template, the labelled properties (``金额 ¥35.04 · 件数 1``)."""
    props = properties or {}
    template = label.summary.get(lang) or label.summary.get("zh")
    if not template:
        shown = [
            f"{label.property_label(k, lang)} {fmt(label.kind(k), v)}"
            for k, v in props.items()
            if k in label.properties or k in PROPERTIES
        ]
        return " · ".join(shown[:4])

    def fill(text: str) -> str | None:
        names = _FIELD.findall(text)
        if any(props.get(n) in (None, "", [], {}) for n in names):
            return None
        return _FIELD.sub(lambda m: fmt(label.kind(m.group(1)), props[m.group(1)]), text)

    out = _OPTIONAL.sub(lambda m: fill(m.group(1)) or "", template)
    return (fill(out) or "").strip() if _FIELD.search(out) else out.strip()


class EventCatalogue:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = CatalogueRepository(session)

    def labels(self, names: Iterable[str]) -> dict[str, EventLabel]:
        """Labels for the given event names (built-in defaults for names not stored)."""
        wanted = set(names)
        rows = self.repo.by_names(wanted)
        return {name: _merge(name, rows.get(name)) for name in wanted}

    def choices(self, lang: str, limit: int = CHOICES) -> dict[str, list[dict[str, str]]]:
        """What pickers offer: event names (catalogue entries busiest first, then names in the
        data not yet learned) and property keys, each with the title ``lang`` reads. The value
        a form sends stays the name or key."""
        rows = sorted(self.repo.all(), key=lambda r: (-r.volume, r.name))
        names = [r.name for r in rows]
        known = set(names)
        names += [n for n in self.repo.names_in_data(limit) if n not in known]
        labels = {r.name: _merge(r.name, r) for r in rows}
        events = [{"name": n, "title": (labels.get(n) or _merge(n, None)).title(lang)} for n in names[:limit]]
        keys = sorted({k for label in labels.values() for k in label.properties})
        plain = EventLabel(name="", display={}, summary={})
        properties = []
        for key in keys[:limit]:
            owners = [label for label in labels.values() if key in label.properties]
            title = owners[0].property_label(key, lang) if owners else plain.property_label(key, lang)
            properties.append({"key": key, "title": title})
        return {"events": events, "properties": properties}

    def list(self) -> list[dict[str, Any]]:
        """Every stored entry (events seen or edited), with its volume, busiest first."""
        rows = self.repo.all()
        out = []
        for row in sorted(rows, key=lambda r: (-r.volume, r.name)):
            item = _merge(row.name, row).as_dict()
            item.update(
                volume=row.volume,
                last_seen_at=row.last_seen_at.isoformat() if row.last_seen_at else None,
                updated_by=row.updated_by,
            )
            out.append(item)
        return out

    def get(self, name: str) -> dict[str, Any]:
        row = self.repo.get(name)
        if row is None and builtin(name) is None:
            raise CatalogueNotFound(f"no event {name!r} in the catalogue")
        item = _merge(name, row).as_dict()
        item.update(volume=row.volume if row else 0, updated_by=row.updated_by if row else None)
        return item

    def update(self, name: str, change: EventDefinitionUpdate | dict[str, Any], actor: str) -> dict[str, Any]:
        """Edit an entry (creating it: a brand may label an event before it arrives)."""
        if not name.strip() or len(name) > 200:
            raise CatalogueError("an event name has 1 to 200 characters")
        spec = EventDefinitionUpdate.model_validate(change) if isinstance(change, dict) else change
        row = self.repo.get(name) or self.repo.add(EventDefinition(name=name, properties={}, volume=0))
        changed = spec.model_dump(exclude_unset=True)
        for attr in ("display_zh", "display_en", "summary_zh", "summary_en"):
            if attr in changed:
                setattr(row, attr, (changed[attr] or "").strip() or None)
        if spec.properties is not None:
            merged = dict(row.properties or {})
            for key, value in spec.properties.items():
                merged[key] = {k: v for k, v in value.model_dump().items() if v}
            row.properties = merged
        row.updated_by, row.updated_at = actor, utcnow()
        self.session.flush()
        details = {"fields": sorted(changed)}
        audit.record(self.session, actor, "event_definition.updated", "event", name, details)
        return self.get(name)

    def learn(self, conn: Any, sample: int = LEARN_SAMPLE) -> dict[str, int]:
        """Add the event names and property keys seen in the warehouse (DuckDB connection
        ``conn``) and refresh volumes; labels people wrote are never touched."""
        counts = conn.execute(
            "SELECT coalesce(event, type) AS name, count(*), max(timestamp) FROM events GROUP BY 1"
        ).fetchall()
        keys = conn.execute(
            """
            SELECT name, key FROM (
              SELECT coalesce(event, type) AS name, unnest(json_keys(properties)) AS key
              FROM (SELECT event, type, properties FROM events ORDER BY id DESC LIMIT ?)
              WHERE properties IS NOT NULL AND json_type(properties) = 'OBJECT'
            ) GROUP BY 1, 2 ORDER BY 1, count(*) DESC
            """,
            [sample],
        ).fetchall()
        per_event: dict[str, list[str]] = {}
        for name, key in keys:
            per_event.setdefault(name, []).append(key)
        rows = self.repo.by_names(name for name, _, _ in counts if name)
        added = new_keys = 0
        for name, volume, last in counts:
            if not name or len(name) > 200:
                continue
            row = rows.get(name)
            if row is None:
                row = self.repo.add(EventDefinition(name=name, properties={}, volume=0))
                added += 1
            props = dict(row.properties or {})
            for key in per_event.get(name, [])[:MAX_KEYS_PER_EVENT]:
                if key not in props and len(props) < MAX_KEYS_PER_EVENT:
                    props[key] = {}
                    new_keys += 1
            if props != (row.properties or {}):
                row.properties = props
            row.volume = int(volume)
            if isinstance(last, datetime):  # DuckDB timestamps are naive UTC
                row.last_seen_at = last if last.tzinfo else last.replace(tzinfo=UTC)
        self.session.flush()
        return {"events": len(counts), "added": added, "new_properties": new_keys}
