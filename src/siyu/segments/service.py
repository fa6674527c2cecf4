"""Segments: create, preview, recompute (full or incremental), members.

A dynamic segment is recomputed from the warehouse. The incremental recompute evaluates only
the contacts that could have changed since the last run: those with new events, a logged
profile change (tags, attributes, consent, touches, stage, RFM, other segments), new contacts,
and those whose events slid out of a relative window ("in the last 30 days"). Conditions that
move with the calendar for everyone (relative attribute dates, decaying tag weights) make the
segment recompute in full. Both paths give the same members; the tests check that.

The caller feeds the warehouse before a recompute and again after committing, so the
warehouse's copy of the memberships (what the next diff starts from) follows the system of
record. Services never commit.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
from pydantic import BaseModel
from sqlalchemy import select, union
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.segments import schemas as s
from siyu.segments.catalog import Catalog, references, resolve
from siyu.segments.compiler import Compiled, compile_definition
from siyu.segments.dependents import dependents_of
from siyu.segments.repository import SegmentRepository
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import Segment, SegmentVersion, utcnow
from siyu.tags.schemas import check_key
from siyu.tags.service import TagService
from siyu.warehouse.query import AFFECTED, CHANGES, CONTACTS, EVENTS, compile_sql, fetch_arrow
from siyu.warehouse.store import Warehouse

#: Above this share of all contacts, evaluating everyone is cheaper than the affected set.
INCREMENTAL_MAX_SHARE = 0.3


class SegmentError(ValueError):
    pass


class SegmentNotFound(SegmentError):
    pass


class SegmentInUse(SegmentError):
    """Deleting would break what still relies on the segment; ``users`` names them."""

    def __init__(self, key: str, users: dict[str, list[str]], message: str) -> None:
        super().__init__(message)
        self.key, self.users = key, users


@dataclass
class Preview:
    count: int
    sample: list[int]
    as_of: str
    incremental: bool
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Recompute:
    segment: str
    mode: str  # full / incremental / snapshot
    members: int
    entered: list[int]
    exited: list[int]
    evaluated: int | None
    seconds: float

    def to_dict(self, limit: int = 100) -> dict[str, Any]:
        d = asdict(self)
        d["entered_count"], d["exited_count"] = len(self.entered), len(self.exited)
        d["entered"], d["exited"] = self.entered[:limit], self.exited[:limit]
        return d


def definition_hash(definition: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(definition, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def dump_definition(node: s.Node) -> dict[str, Any]:
    return node.model_dump(mode="json", by_alias=True, exclude_none=True)  # type: ignore[union-attr]


class SegmentService:
    def __init__(self, session: Session, warehouse: Warehouse) -> None:
        self.session = session
        self.repo = SegmentRepository(session)
        self.wh = warehouse

    # --- compile -----------------------------------------------------------------------------
    def catalog(self, node: s.Node) -> Catalog:
        return resolve(self.repo, [node])

    def compile(self, node: s.Node, as_of: datetime | None = None) -> Compiled:
        return compile_definition(node, self.catalog(node), as_of)

    def sql(self, definition: Any, as_of: datetime | None = None) -> tuple[str, list[Any]]:
        """The warehouse SQL of a definition (for review and snapshot tests)."""
        return compile_sql(self.compile(s.parse_definition(definition), as_of).query())

    def _members(self, compiled: Compiled, restrict: Any | None = None) -> np.ndarray:
        table = fetch_arrow(self.wh.conn, compiled.query(restrict))
        return np.sort(table.column("contact_id").to_numpy(zero_copy_only=False).astype(np.int64))

    # --- preview / create -------------------------------------------------------------------------
    def preview(self, definition: Any, sample: int = 10, as_of: datetime | None = None) -> Preview:
        node = definition if isinstance(definition, BaseModel) else s.parse_definition(definition)
        compiled = self.compile(node, as_of)
        ids = self._members(compiled)
        return Preview(
            count=int(ids.size),
            sample=[int(i) for i in ids[: max(sample, 0)]],
            as_of=compiled.as_of.isoformat(),
            incremental=not compiled.full_only,
            notes=compiled.full_only,
        )

    def create(self, raw: Any, actor: str = "system") -> Recompute:
        spec = s.parse_spec(raw)
        if self.repo.get(spec.key) is not None:
            raise SegmentError(f"segment {spec.key!r} already exists")
        definition = dump_definition(spec.definition)
        self._check_cycles(spec.key, spec.definition)
        self.compile(spec.definition)  # unknown names fail before anything is stored
        if spec.tag is not None:
            try:
                check_key(spec.tag)
            except ValueError as exc:
                raise s.SegmentDefinitionError("tag", str(exc)) from None
        seg = self.repo.add(
            Segment(
                key=spec.key,
                name=spec.name,
                kind=spec.kind,
                tag_key=spec.tag,
                definition=definition,
                cursor={},
            )
        )
        audit.record(
            self.session, actor, "segment.created", "segment", seg.id, {"key": seg.key, "kind": seg.kind}
        )
        result = self._compute(seg, full=True, as_of=None, snapshot=spec.kind == "static")
        self._add_version(seg, actor)
        return result

    def update(self, key: str, raw: Any, actor: str = "system") -> Recompute:
        """A new version of ``key``: name, sync tag and definition change, the key, kind and
        members' history stay. A dynamic segment is recomputed in full at once (members who no
        longer match leave with ``segment.exited``, journeys triggered on it see new entries);
        a static one is a snapshot and takes the new definition without a recompute. The key
        in the document, when given, must be this key (a rename would orphan journeys)."""
        seg = self.get(key)
        if isinstance(raw, dict) and "type" in raw and "definition" not in raw:
            raw = {"definition": raw}  # a bare definition: the name and tag stay
        if isinstance(raw, dict):
            # Fields left out keep their value (``tag: null`` stops the sync).
            raw = {
                "key": key,
                "kind": seg.kind,
                "name": seg.name,
                "tag": seg.tag_key,
                "definition": seg.definition,
                **raw,
            }
        spec = s.parse_spec(raw)
        if spec.key != key:
            raise s.SegmentDefinitionError("key", f"an edit keeps the key {key!r} (got {spec.key!r})")
        if spec.kind != seg.kind:
            raise s.SegmentDefinitionError(
                "kind", f"an edit keeps the kind {seg.kind!r}; create a new segment"
            )
        self._check_cycles(key, spec.definition)
        self.compile(spec.definition)
        if spec.tag is not None:
            try:
                check_key(spec.tag)
            except ValueError as exc:
                raise s.SegmentDefinitionError("tag", str(exc)) from None
        before = {"name": seg.name, "tag": seg.tag_key, "definition": seg.definition}
        seg.name, seg.tag_key = spec.name, spec.tag
        seg.definition = dump_definition(spec.definition)
        seg.version = (seg.version or 1) + 1
        seg.updated_at = utcnow()
        changed = [
            k
            for k, v in before.items()
            if v != {"name": seg.name, "tag": seg.tag_key, "definition": seg.definition}[k]
        ]
        audit.record(
            self.session,
            actor,
            "segment.updated",
            "segment",
            seg.id,
            {"key": key, "version": seg.version, "changed": changed},
        )
        if seg.kind == "static":
            self.session.flush()
            result = Recompute(key, "unchanged", seg.member_count, [], [], None, 0.0)
        else:
            result = self._compute(seg, full=True, as_of=None)
            if before["tag"] != seg.tag_key:
                self._move_tag(seg, before["tag"])
        self._add_version(seg, actor)
        return result

    def _move_tag(self, seg: Segment, old_tag: str | None) -> None:
        """The sync tag changed: members lose the old one and hold the new one."""
        members = self.repo.member_ids(seg.id)
        tags = TagService(self.session)
        detail = f"segment {seg.key}"
        if old_tag and members and tags.repo.tag(old_tag) is not None:
            tags.remove(old_tag, members, source="segment", detail=detail)
        if seg.tag_key and members:
            tags.apply(seg.tag_key, members, source="segment", detail=detail, create=True)

    def _add_version(self, seg: Segment, actor: str) -> None:
        self.session.add(
            SegmentVersion(
                segment_id=seg.id,
                version=seg.version or 1,
                name=seg.name,
                tag_key=seg.tag_key,
                definition=seg.definition,
                actor=actor,
                members=seg.member_count,
            )
        )
        self.session.flush()

    def versions(self, key: str) -> list[SegmentVersion]:
        """Every saved version of ``key``, newest first."""
        return self.repo.versions(self.get(key).id)

    def _check_cycles(self, key: str, node: s.Node) -> None:
        known = self.repo.definitions()
        stack = list(references(node)["segments"])
        seen: set[str] = set()
        while stack:
            ref = stack.pop()
            if ref == key:
                raise s.SegmentDefinitionError(
                    "definition", f"segment {key!r} would contain itself through {ref!r}"
                )
            if ref in seen or ref not in known:
                continue
            seen.add(ref)
            stack.extend(references(s.parse_definition(known[ref]))["segments"])

    def get(self, key: str) -> Segment:
        seg = self.repo.get(key)
        if seg is None:
            raise SegmentNotFound(f"no segment {key!r}")
        return seg

    def list(self) -> list[Segment]:
        return self.repo.all()

    def members(self, key: str, limit: int = 100, offset: int = 0) -> list[int]:
        return self.repo.member_ids(self.get(key).id, limit, offset)

    def delete(self, key: str, actor: str = "system") -> None:
        seg = self.get(key)
        users = dependents_of(self.session, seg)
        if users:
            raise SegmentInUse(key, users.to_dict(), f"segment {key!r} is used by {users.describe()}")
        members = self.repo.member_ids(seg.id)
        self.repo.delete(seg)
        note_changed(self.session, members)
        audit.record(self.session, actor, "segment.deleted", "segment", seg.id, {"key": key})

    # --- recompute ----------------------------------------------------------------------------
    def recompute(self, key: str, full: bool = False, as_of: datetime | None = None) -> Recompute:
        seg = self.get(key)
        if seg.kind == "static":
            raise SegmentError(f"segment {key!r} is static (a snapshot); create a new one to re-take it")
        return self._compute(seg, full=full, as_of=as_of)

    def recompute_order(self) -> list[str]:
        """Keys of the dynamic segments, each after the segments it refers to. Recompute them
        one unit of work at a time and feed the warehouse in between, so a segment sees the
        new members of the segments it refers to (the interfaces and ``siyu serve`` do)."""
        segs = {seg.key: seg for seg in self.repo.all() if seg.kind == "dynamic"}
        order: list[str] = []
        visiting: set[str] = set()

        def visit(k: str) -> None:
            if k in order or k not in segs or k in visiting:
                return
            visiting.add(k)
            for ref in sorted(references(s.parse_definition(segs[k].definition))["segments"]):
                visit(ref)
            order.append(k)

        for k in sorted(segs):
            visit(k)
        return order

    def _compute(self, seg: Segment, full: bool, as_of: datetime | None, snapshot: bool = False) -> Recompute:
        started = time.perf_counter()
        node = s.parse_definition(seg.definition)
        compiled = self.compile(node, as_of)
        cursors = self.wh.cursors()
        cursors["contacts"] = _scalar(self.wh.conn, "SELECT coalesce(max(id), 0) FROM contacts")
        prev = seg.cursor or {}
        version = definition_hash(seg.definition)
        affected = None
        moved_back = "as_of" in prev and compiled.as_of < datetime.fromisoformat(prev["as_of"])
        if not (full or snapshot or compiled.full_only or moved_back) and prev.get("version") == version:
            affected = self._affected(compiled, prev)
        conn = self.wh.conn
        if affected is not None:
            restrict = select(AFFECTED.c.id)
            new = self._members(compiled, restrict)
            old = _ids(
                conn,
                "SELECT contact_id FROM segment_members WHERE segment_id = ? AND contact_id IN "
                "(SELECT id FROM seg_affected)",
                [seg.id],
            )
        else:
            new = self._members(compiled)
            old = _ids(conn, "SELECT contact_id FROM segment_members WHERE segment_id = ?", [seg.id])
        entered = np.setdiff1d(new, old, assume_unique=True)
        exited = np.setdiff1d(old, new, assume_unique=True)
        total = _scalar(conn, "SELECT count(*) FROM segment_members WHERE segment_id = ?", [seg.id])
        run = int(prev.get("run", 0)) + 1
        self._write(seg, [int(i) for i in entered], [int(i) for i in exited], run, emit=not snapshot)
        seg.member_count = total + int(entered.size) - int(exited.size)
        seg.computed_at = utcnow()
        seg.cursor = {**cursors, "as_of": compiled.as_of.isoformat(), "run": run, "version": version}
        self.session.flush()
        return Recompute(
            segment=seg.key,
            mode="snapshot" if snapshot else ("incremental" if affected is not None else "full"),
            members=seg.member_count,
            entered=[int(i) for i in entered],
            exited=[int(i) for i in exited],
            evaluated=affected,
            seconds=round(time.perf_counter() - started, 4),
        )

    def _affected(self, compiled: Compiled, prev: dict[str, Any]) -> int | None:
        """Fill the temp table ``seg_affected``; None when evaluating everyone is cheaper."""
        prev_as_of = datetime.fromisoformat(prev["as_of"]).astimezone(UTC).replace(tzinfo=None)
        parts = [
            select(EVENTS.c.contact_id.label("id")).where(EVENTS.c.id > int(prev.get("events", 0))),
            select(CHANGES.c.contact_id).where(CHANGES.c.id > int(prev.get("changes", 0))),
            select(CONTACTS.c.id).where(CONTACTS.c.id > int(prev.get("contacts", 0))),
        ]
        now = compiled.as_of.astimezone(UTC).replace(tzinfo=None)
        # Events that were in the future at the last run and are not any more.
        arrived = [EVENTS.c.timestamp > prev_as_of, EVENTS.c.timestamp <= now]
        if compiled.event_names is not None:
            arrived.append(EVENTS.c.event.in_(sorted(compiled.event_names)))
        if compiled.aggregates:
            parts.append(select(EVENTS.c.contact_id).where(*arrived))
        for w in compiled.windows:
            # Both ends included: "after N days ago" compares strictly at the upper end.
            lo, hi = prev_as_of - timedelta(days=w.days), now - timedelta(days=w.days)
            parts.append(
                select(EVENTS.c.contact_id).where(
                    *w.conditions, EVENTS.c.timestamp >= lo, EVENTS.c.timestamp <= hi
                )
            )
        sql, params = compile_sql(union(*parts))
        conn = self.wh.conn
        conn.execute(
            f"CREATE OR REPLACE TEMP TABLE seg_affected AS SELECT DISTINCT id FROM ({sql}) u", params
        )
        n = _scalar(conn, "SELECT count(*) FROM seg_affected")
        everyone = _scalar(conn, "SELECT count(*) FROM contacts")
        return None if n > INCREMENTAL_MAX_SHARE * max(everyone, 1) else n

    def _write(self, seg: Segment, entered: list[int], exited: list[int], run: int, emit: bool) -> None:
        now = utcnow()
        self.repo.add_members(seg.id, entered, now)
        self.repo.remove_members(seg.id, exited)
        note_changed(self.session, entered + exited)
        if seg.tag_key:
            # Attribute- or behaviour-condition tagging: the tag follows membership.
            tags = TagService(self.session)
            detail = f"segment {seg.key}"
            if entered:
                tags.apply(seg.tag_key, entered, source="segment", detail=detail, create=True, at=now)
            if exited and tags.repo.tag(seg.tag_key) is not None:
                tags.remove(seg.tag_key, exited, source="segment", detail=detail, at=now)
        if emit:
            props = {"segment": seg.key, "segment_id": seg.id}
            emit_events(
                self.session,
                "segment.entered",
                ((f"segment.entered:{seg.id}:{run}:{c:012d}", c, props) for c in entered),
                now,
            )
            emit_events(
                self.session,
                "segment.exited",
                ((f"segment.exited:{seg.id}:{run}:{c:012d}", c, props) for c in exited),
                now,
            )


def _scalar(conn: Any, sql: str, params: list[Any] | None = None) -> int:
    return int(conn.execute(sql, params or []).fetchall()[0][0])


def _ids(conn: Any, sql: str, params: list[Any]) -> np.ndarray:
    table = conn.sql(sql, params=params).to_arrow_table()
    return np.sort(table.column(0).to_numpy(zero_copy_only=False).astype(np.int64))
