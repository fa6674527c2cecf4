"""What still relies on a segment, so that deleting it is refused with names instead of
silently breaking them: journeys that trigger on it, test it or broadcast to it; journeys that
react to the tag the segment keeps in sync (``tag_added``, ``has_tag``), which nobody would add
any more; and other segments that refer to it.

Journey definitions are walked as plain JSON rather than through the journey schema, so
audiences added by newer journey shapes (``segment:`` anywhere) count too. Archived journeys
no longer run and do not hold a segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.segments import schemas as s
from siyu.segments.catalog import references
from siyu.store.models import Journey, Segment

#: Keys of a journey definition whose value names a segment / a tag.
SEGMENT_KEYS = frozenset({"segment", "segment_entered"})
TAG_KEYS = frozenset({"tag_added", "has_tag", "tag"})


@dataclass
class Dependents:
    segments: list[str] = field(default_factory=list)
    journeys: list[str] = field(default_factory=list)  # "key (名称)"
    tag_journeys: list[str] = field(default_factory=list)  # journeys using the synced tag

    def __bool__(self) -> bool:
        return bool(self.segments or self.journeys or self.tag_journeys)

    def to_dict(self) -> dict[str, list[str]]:
        return {"segments": self.segments, "journeys": self.journeys, "tag_journeys": self.tag_journeys}

    def describe(self) -> str:
        parts = []
        if self.segments:
            parts.append("segments " + ", ".join(self.segments))
        if self.journeys:
            parts.append("journeys " + ", ".join(self.journeys))
        if self.tag_journeys:
            parts.append("journeys using its synced tag " + ", ".join(self.tag_journeys))
        return "; ".join(parts)


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def dependents_of(session: Session, segment: Segment) -> Dependents:
    out = Dependents()
    for key, definition in session.execute(select(Segment.key, Segment.definition)):
        if key != segment.key and segment.key in references(s.parse_definition(definition))["segments"]:
            out.segments.append(key)
    journeys = session.execute(
        select(Journey.key, Journey.definition).where(Journey.status != "archived").order_by(Journey.key)
    )
    for jkey, definition in journeys:
        pairs = list(_walk(definition))
        if any(k in SEGMENT_KEYS and v == segment.key for k, v in pairs):
            out.journeys.append(jkey)
        elif segment.tag_key and any(k in TAG_KEYS and v == segment.tag_key for k, v in pairs):
            out.tag_journeys.append(jkey)
    out.segments.sort()
    return out
