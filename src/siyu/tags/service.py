"""Tagging: create groups and tags; add, reinforce and remove tags on many contacts at once,
each change recorded with its source and raising ``tag.added`` / ``tag.removed``.

Weights: a tag with a half-life decays; the stored (weight, weighted_at) pair is enough to
know the weight at any time, ``weight × 0.5^(age / half-life)``, and reinforcing adds to the
decayed value, so the effective weight is the sum of every contribution decayed from its own
time (interest scores: clicks last week count more than clicks last year).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.store.changes import emit_events, note_changed
from siyu.store.dialect import chunked
from siyu.store.models import Contact, ContactTag, SegmentMember, Tag, TagGroup, utcnow
from siyu.tags.repository import TagRepository
from siyu.tags.schemas import SOURCES, TagCreate, TagError, TagGroupCreate, split_key, validate


class TagNotFound(TagError):
    pass


class TagConflict(TagError):
    """The tag, group or rule exists already."""


def decayed(weight: float, since: datetime, at: datetime, half_life_days: float | None) -> float:
    """The weight set at ``since`` as seen at ``at``."""
    if not half_life_days:
        return weight
    age = (_aware(at) - _aware(since)).total_seconds() / 86_400
    return weight * 0.5 ** (age / half_life_days)


def reinforce_weight(
    weight: float, since: datetime, add: float, at: datetime, half_life_days: float | None
) -> tuple[float, datetime]:
    """Add a contribution made at ``at`` to the stored (weight, since) pair, which may be newer."""
    since, at = _aware(since), _aware(at)
    if at >= since:
        return decayed(weight, since, at, half_life_days) + add, at
    return weight + decayed(add, at, since, half_life_days), since


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass
class TagResult:
    tag: str
    added: int = 0
    reinforced: int = 0
    removed: int = 0
    unchanged: int = 0
    unknown_contacts: list[int] = field(default_factory=list)


class TagService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = TagRepository(session)

    # --- catalogue -----------------------------------------------------------------------------
    def create_group(self, spec: TagGroupCreate | dict[str, Any], actor: str = "system") -> TagGroup:
        spec = validate(TagGroupCreate, spec)
        if self.repo.group(spec.name) is not None:
            raise TagConflict(f"tag group {spec.name!r} already exists")
        group = self.repo.add(
            TagGroup(name=spec.name, description=spec.description, exclusive=spec.exclusive)
        )
        audit.record(self.session, actor, "tag_group.created", "tag_group", group.id, {"name": spec.name})
        return group

    def create_tag(self, spec: TagCreate | dict[str, Any], actor: str = "system") -> Tag:
        spec = validate(TagCreate, spec)
        if self.repo.tag(spec.key) is not None:
            raise TagConflict(f"tag {spec.key!r} already exists")
        return self._new_tag(spec.key, spec.half_life_days, actor)

    def _new_tag(self, key: str, half_life_days: float | None, actor: str) -> Tag:
        group_name, name = split_key(key)
        group_id = None
        if group_name is not None:
            group = self.repo.group(group_name) or self.repo.add(TagGroup(name=group_name, description=""))
            group_id = group.id
        tag = self.repo.add(Tag(key=key, name=name, group_id=group_id, half_life_days=half_life_days))
        audit.record(self.session, actor, "tag.created", "tag", tag.id, {"key": key})
        return tag

    def tag(self, key: str, create: bool = False, half_life_days: float | None = None) -> Tag:
        found = self.repo.tag(key)
        if found is None:
            if not create:
                raise TagNotFound(f"unknown tag {key!r}")
            key = validate(TagCreate, {"key": key}).key
            try:
                # Created on demand by concurrent writers (two journey workers, a rule run): the
                # loser of the race reads the winner's tag instead of failing its whole batch.
                with self.session.begin_nested():
                    found = self._new_tag(key, half_life_days, "system")
            except IntegrityError:
                found = self.repo.tag(key)
                if found is None:
                    raise
        return found

    def list(self) -> list[dict[str, Any]]:
        groups = {g.id: g.name for g in self.repo.groups()}
        return [
            {
                "key": t.key,
                "name": t.name,
                "group": groups.get(t.group_id) if t.group_id else None,
                "half_life_days": t.half_life_days,
                "contacts": n,
            }
            for t, n in self.repo.tags()
        ]

    # --- applying -------------------------------------------------------------------------------
    def apply(
        self,
        key: str,
        contact_ids: Iterable[int],
        source: str = "manual",
        weight: float | None = None,
        at: datetime | None = None,
        actor: str = "system",
        detail: str | None = None,
        create: bool = False,
    ) -> TagResult:
        """Add the tag to every contact (bulk). Contacts holding it already are reinforced
        when ``weight`` is given (their decayed weight plus ``weight``), else left alone."""
        at = _aware(at or utcnow())
        items = {int(c): (weight, at) for c in contact_ids}
        return self.apply_weighted(key, items, source, actor, detail, create)

    def apply_weighted(
        self,
        key: str,
        items: dict[int, tuple[float | None, datetime]],
        source: str,
        actor: str = "system",
        detail: str | None = None,
        create: bool = False,
        half_life_days: float | None = None,
    ) -> TagResult:
        """Per contact: (weight to add or None, when). The general form rules use."""
        self._check_source(source)
        for w, _ in items.values():
            if w is not None and not (math.isfinite(w) and w > 0):
                raise TagError(f"weight must be a positive number, got {w!r}")
        tag = self.tag(key, create=create, half_life_days=half_life_days)
        ids = self._live(items)
        result = TagResult(tag=key, unknown_contacts=ids.unknown)
        wanted: dict[int, tuple[float | None, datetime]] = {}
        for cid, (w, at) in items.items():
            target = ids.survivor.get(cid)
            if target is None:
                continue
            if target in wanted:  # two merged ids in one call: add both contributions
                prev_w, prev_at = wanted[target]
                if w is not None and prev_w is not None:
                    w, at = reinforce_weight(prev_w, prev_at, w, at, tag.half_life_days)
            wanted[target] = (w, _aware(at))
        held = self.repo.held([tag.id], list(wanted))
        new_rows, reinforce, changes = [], [], []
        for cid, (weight, at) in sorted(wanted.items()):
            row = held.get((cid, tag.id))
            if row is None:
                w = 1.0 if weight is None else weight
                new_rows.append(
                    {
                        "contact_id": cid,
                        "tag_id": tag.id,
                        "weight": w,
                        "source": source,
                        "applied_at": at,
                        "weighted_at": at,
                    }
                )
                changes.append(self._change(cid, tag.id, "added", w, source, detail, at))
            elif weight is not None:
                w, since = reinforce_weight(row.weight, row.weighted_at, weight, at, tag.half_life_days)
                reinforce.append({"contact_id": cid, "tag_id": tag.id, "weight": w, "weighted_at": since})
                changes.append(self._change(cid, tag.id, "weighted", w, source, detail, at))
            else:
                result.unchanged += 1
        added = [r["contact_id"] for r in new_rows]
        now = utcnow()
        if added:
            self._exclusive(tag, added, source, now)
        self.repo.insert_holdings(new_rows)
        self.repo.update_weights(reinforce)
        self.repo.add_changes(changes)
        self._events("tag.added", tag, added, source, now)
        note_changed(self.session, added + [r["contact_id"] for r in reinforce])
        result.added, result.reinforced = len(new_rows), len(reinforce)
        if source == "manual" or actor != "system":
            audit.record(
                self.session,
                actor,
                "tag.applied",
                "tag",
                tag.id,
                {"key": key, "added": len(added), "source": source},
            )
        return result

    def remove(
        self,
        key: str,
        contact_ids: Iterable[int],
        source: str = "manual",
        at: datetime | None = None,
        actor: str = "system",
        detail: str | None = None,
    ) -> TagResult:
        self._check_source(source)
        tag = self.tag(key)
        ids = self._live(contact_ids)
        at = _aware(at or utcnow())
        holders = sorted(cid for cid, _ in self.repo.held([tag.id], ids.live))
        self._drop(tag, holders, source, at, detail)
        if holders and (actor != "system" or source == "manual"):
            audit.record(
                self.session,
                actor,
                "tag.removed",
                "tag",
                tag.id,
                {"key": key, "removed": len(holders), "source": source},
            )
        return TagResult(
            tag=key,
            removed=len(holders),
            unchanged=len(ids.live) - len(holders),
            unknown_contacts=ids.unknown,
        )

    def _drop(self, tag: Tag, contact_ids: list[int], source: str, at: datetime, detail: str | None) -> None:
        if not contact_ids:
            return
        self.repo.delete_holdings(tag.id, contact_ids)
        self.repo.add_changes(
            [self._change(c, tag.id, "removed", None, source, detail, at) for c in contact_ids]
        )
        self._events("tag.removed", tag, contact_ids, source, utcnow())
        note_changed(self.session, contact_ids)

    def _exclusive(self, tag: Tag, contact_ids: list[int], source: str, at: datetime) -> None:
        """Adding a tag of an exclusive group removes the contact's other tags of that group."""
        if tag.group_id is None:
            return
        group = self.session.get(TagGroup, tag.group_id)
        if group is None or not group.exclusive:
            return
        others = [t for t in self.repo.tags_in_group(group.id) if t != tag.id]
        if not others:
            return
        held = self.repo.held(others, contact_ids)
        by_tag: dict[int, list[int]] = {}
        for cid, tid in held:
            by_tag.setdefault(tid, []).append(cid)
        for tid, cids in by_tag.items():
            other = self.session.get(Tag, tid)
            assert other is not None
            self._drop(other, cids, source, at, f"exclusive group, replaced by {tag.key}")

    def apply_to_segment(
        self, key: str, segment_key: str, source: str = "segment", actor: str = "system", create: bool = False
    ) -> TagResult:
        from siyu.store.models import Segment

        seg = self.session.scalar(select(Segment).where(Segment.key == segment_key))
        if seg is None:
            raise TagNotFound(f"no segment {segment_key!r}")
        members = list(
            self.session.scalars(select(SegmentMember.contact_id).where(SegmentMember.segment_id == seg.id))
        )
        return self.apply(
            key, members, source=source, actor=actor, detail=f"segment {segment_key}", create=create
        )

    # --- reading ---------------------------------------------------------------------------------
    def of(self, contact_id: int, at: datetime | None = None) -> list[dict[str, Any]]:
        at = _aware(at or utcnow())
        return sorted(
            (
                {
                    "key": t.key,
                    "weight": round(decayed(ct.weight, ct.weighted_at, at, t.half_life_days), 6),
                    "source": ct.source,
                    "applied_at": _aware(ct.applied_at).isoformat(),
                }
                for ct, t in self.repo.of_contact(contact_id)
            ),
            key=lambda d: d["key"],
        )

    def history(self, contact_id: int) -> list[dict[str, Any]]:
        return [
            {
                "tag": t.key,
                "action": c.action,
                "weight": c.weight,
                "source": c.source,
                "detail": c.detail,
                "at": _aware(c.at).isoformat(),
            }
            for c, t in self.repo.history(contact_id)
        ]

    # --- helpers ---------------------------------------------------------------------------------
    @staticmethod
    def _check_source(source: str) -> None:
        if source not in SOURCES:
            raise TagError(f"unknown tag source {source!r}; one of {', '.join(SOURCES)}")

    @dataclass
    class _Ids:
        survivor: dict[int, int]  # requested id → live contact
        unknown: list[int]

        @property
        def live(self) -> list[int]:
            return sorted(set(self.survivor.values()))

    def _live(self, contact_ids: Iterable[int]) -> _Ids:
        """Resolve merged contacts to their survivors; report ids that do not exist."""
        wanted = sorted({int(c) for c in contact_ids})
        parent: dict[int, int | None] = {}
        todo = wanted
        for _ in range(100):  # merge chains are short; bounded anyway
            todo = [c for c in todo if c not in parent]
            if not todo:
                break
            for chunk in chunked(todo):
                for cid, merged in self.session.execute(
                    select(Contact.id, Contact.merged_into_id).where(Contact.id.in_(chunk))
                ):
                    parent[cid] = merged
            todo = [m for c in todo if (m := parent.get(c)) is not None]
        survivor: dict[int, int] = {}
        for cid in wanted:
            if cid not in parent:
                continue
            target = cid
            while (nxt := parent.get(target)) is not None and nxt != target:
                target = nxt
            survivor[cid] = target
        return self._Ids(survivor, [c for c in wanted if c not in parent])

    @staticmethod
    def _change(
        cid: int, tid: int, action: str, weight: float | None, source: str, detail: str | None, at: datetime
    ) -> dict[str, Any]:
        return {
            "contact_id": cid,
            "tag_id": tid,
            "action": action,
            "weight": weight,
            "source": source,
            "detail": detail[:200] if detail else None,
            "at": at,
        }

    def _events(self, name: str, tag: Tag, contact_ids: Sequence[int], source: str, at: datetime) -> None:
        props = {"tag": tag.key, "source": source}
        emit_events(
            self.session,
            name,
            ((f"{name}:{tag.id}:{c:012d}:{uuid.uuid4().hex[:16]}", c, props) for c in contact_ids),
            at,
        )


def settle_exclusive_groups(session: Session, survivor_id: int, absorbed_id: int) -> None:
    """Before a merge moves tags: the absorbed contact's tags in an exclusive group in which the
    survivor already holds a tag are removed (source ``merge``), so the survivor keeps its own,
    as it does for a tag both hold."""
    rows = session.execute(
        select(ContactTag.contact_id, Tag.id, Tag.group_id)
        .join(Tag, Tag.id == ContactTag.tag_id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(TagGroup.exclusive.is_(True), ContactTag.contact_id.in_([survivor_id, absorbed_id]))
    ).all()
    held = {group for cid, _, group in rows if cid == survivor_id}
    clashing = sorted({tid for cid, tid, group in rows if cid == absorbed_id and group in held})
    svc = TagService(session)
    for tid in clashing:
        tag = session.get(Tag, tid)
        assert tag is not None
        svc._drop(tag, [absorbed_id], "merge", utcnow(), f"merged into {survivor_id}: exclusive group")
