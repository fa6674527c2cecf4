"""Python API for knowing and layering customers: ``s.tags``, ``s.segments``, ``s.stages``,
``s.rfm``. Each call is one unit of work: feed the warehouse, call the capability, commit,
feed again so the warehouse's copy of profile state is current for the next call."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from siyu.context import AppContext
from siyu.exports.tabular import ExportFile
from siyu.profiles import views
from siyu.rfm.service import RfmService
from siyu.segments.documents import read_document
from siyu.segments.history import SegmentSize, size_history
from siyu.segments.repository import SegmentRepository
from siyu.segments.schemas import SegmentDefinitionError
from siyu.segments.service import SegmentNotFound, SegmentService
from siyu.stages.service import StageService
from siyu.store.models import Segment
from siyu.tags.imports import import_tags_csv
from siyu.tags.rules import TagRuleService, run_until_caught_up
from siyu.tags.service import TagService
from siyu.warehouse.store import Warehouse


class _Part:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    @contextmanager
    def _work(self, write: bool = True) -> Iterator[tuple[Session, Warehouse]]:
        """A session and the fed warehouse; commits (and feeds again) when the block succeeds."""
        wh = Warehouse(self.ctx.settings.resolved_warehouse_path, wait_s=self.ctx.settings.warehouse_wait_s)
        batch = self.ctx.settings.warehouse_batch_size
        try:
            wh.feed(self.ctx.db, batch)
            with self.ctx.db.session() as s:
                yield s, wh
                if write:
                    s.commit()
            if write:
                wh.feed(self.ctx.db, batch)
        finally:
            wh.close()

    def _contact(self, s: Session, contact: int | str) -> int:
        """One contact: an id (followed to its survivor) or a query; LookupError_ when none."""
        profiles = self.ctx.profiles(s)
        if isinstance(contact, int):
            survivor = profiles.repo.survivor_of(contact)
            if survivor is None:
                raise views.LookupError_(f"no contact {contact}")
            return survivor
        return views.find_contact_id(profiles, self.ctx.parser, contact)

    def _contacts(self, s: Session, contacts: Iterable[int | str]) -> tuple[list[int], list[dict[str, str]]]:
        """Contact ids, or queries (``id:42``, a phone, an email, ``type:value``); queries that
        name no contact are returned with the reason, so the rest still go ahead."""
        profiles = self.ctx.profiles(s)
        found, missing = [], []
        for c in contacts:
            if isinstance(c, int):  # followed to the survivor of any merge, like queries are
                survivor = profiles.repo.survivor_of(c)
                if survivor is None:
                    missing.append({"contact": str(c), "error": f"no contact {c}"})
                else:
                    found.append(survivor)
                continue
            try:
                found.append(views.find_contact_id(profiles, self.ctx.parser, c))
            except views.LookupError_ as exc:
                missing.append({"contact": c, "error": str(exc)})
        return found, missing


def segment_dict(seg: Segment) -> dict[str, Any]:
    return {
        "id": seg.id,
        "key": seg.key,
        "name": seg.name,
        "kind": seg.kind,
        "tag": seg.tag_key,
        "members": seg.member_count,
        "computed_at": seg.computed_at.isoformat() if seg.computed_at else None,
        "created_at": seg.created_at.isoformat(),
        "version": seg.version or 1,
        "updated_at": seg.updated_at.isoformat() if seg.updated_at else None,
        "definition": seg.definition,
    }


def load(document: Any) -> Any:
    """A dict as is; a path (str or Path) read as JSON or YAML."""
    if isinstance(document, str | Path):
        return read_document(Path(document))
    return document


def definition_of(document: Any) -> Any:
    """The definition of a whole segment document, or the document itself if it is one."""
    raw = load(document)
    if isinstance(raw, dict) and "definition" in raw and "type" not in raw:
        return raw["definition"]
    return raw


class SegmentsClient(_Part):
    def size_history(
        self, sizes: list[SegmentSize], days: int = 30
    ) -> dict[int, list[tuple[date, int | None]]]:
        """Per segment id, its size at the end of each of the last ``days`` days (console trends)."""
        with self._work(write=False) as (_s, wh):
            return size_history(wh.conn, sizes, days)

    def create(self, spec: Any, actor: str = "python") -> dict[str, Any]:
        with self._work() as (s, wh):
            svc = SegmentService(s, wh)
            result = svc.create(load(spec), actor=actor)
            return {**segment_dict(svc.get(result.segment)), "recompute": result.to_dict()}

    def preview(self, document: Any, sample: int = 10, as_of: datetime | None = None) -> dict[str, Any]:
        """Count and sample of a definition, or of a whole segment document's definition."""
        raw = definition_of(document)
        if not isinstance(raw, dict):
            raise SegmentDefinitionError("definition", "expected an object")
        with self._work(write=False) as (s, wh):
            return SegmentService(s, wh).preview(raw, sample, as_of).to_dict()

    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [
                {k: v for k, v in segment_dict(seg).items() if k != "definition"}
                for seg in SegmentRepository(s).all()
            ]

    def get(self, key: str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            seg = SegmentRepository(s).get(key)
            if seg is None:
                raise SegmentNotFound(f"no segment {key!r}")
            return segment_dict(seg)

    def members(self, key: str, limit: int = 100, offset: int = 0) -> list[int]:
        with self._work(write=False) as (s, wh):
            return SegmentService(s, wh).members(key, limit, offset)

    def recompute(
        self, key: str | None = None, full: bool = False, as_of: datetime | None = None
    ) -> list[dict[str, Any]]:
        """One segment, or every dynamic one in dependency order: one unit of work each, fed in
        between, so a segment sees the new members of the segments it refers to."""
        if key is not None:
            keys = [key]
        else:
            with self._work(write=False) as (s, wh):
                keys = SegmentService(s, wh).recompute_order()
        results = []
        for k in keys:
            with self._work() as (s, wh):
                results.append(SegmentService(s, wh).recompute(k, full, as_of).to_dict())
        return results

    def delete(self, key: str, actor: str = "python") -> None:
        with self._work() as (s, wh):
            SegmentService(s, wh).delete(key, actor)

    def update(self, key: str, spec: Any, actor: str = "python") -> dict[str, Any]:
        """A new version of ``key`` (the key stays), recomputed at once when dynamic. ``spec``
        is a segment document or a bare definition; fields it leaves out keep their value."""
        with self._work() as (s, wh):
            svc = SegmentService(s, wh)
            result = svc.update(key, load(spec), actor=actor)
            return {**segment_dict(svc.get(key)), "recompute": result.to_dict()}

    def choices(self) -> dict[str, Any]:
        """Names the builder offers: events (with their properties), tags, channels, RFM
        segment names and segments, read from the data."""
        from siyu.segments.choices import choices

        with self._work(write=False) as (s, wh):
            return choices(s, wh.conn, RfmService(s, wh).rules())

    def versions(self, key: str) -> list[dict[str, Any]]:
        """Every saved version, newest first: number, name, tag, definition, who and when."""
        with self._work(write=False) as (s, wh):
            return [
                {
                    "version": v.version,
                    "name": v.name,
                    "tag": v.tag_key,
                    "definition": v.definition,
                    "actor": v.actor,
                    "members": v.members,
                    "created_at": v.created_at.isoformat(),
                }
                for v in SegmentService(s, wh).versions(key)
            ]

    def export(
        self, key: str, fmt: str = "csv", reveal: bool = False, actor: str = "python", lang: str = "zh"
    ) -> ExportFile:
        """Members as CSV (UTF-8 BOM) or XLSX bytes (``.content``); masked unless ``reveal``."""
        from siyu.client.lists import ContactsClient

        return ContactsClient(self.ctx).export_segment(key, fmt, reveal, actor, lang)

    def sql(self, document: Any) -> dict[str, Any]:
        raw = definition_of(document)
        with self._work(write=False) as (s, wh):
            sql, params = SegmentService(s, wh).sql(raw)
            return {"sql": sql, "params": [str(p) for p in params]}


class TagsClient(_Part):
    def create_group(
        self, name: str, description: str = "", exclusive: bool = False, actor: str = "python"
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            g = TagService(s).create_group(
                {"name": name, "description": description, "exclusive": exclusive}, actor
            )
            s.commit()
            return {"id": g.id, "name": g.name, "description": g.description, "exclusive": g.exclusive}

    def create(self, key: str, half_life_days: float | None = None, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            t = TagService(s).create_tag({"key": key, "half_life_days": half_life_days}, actor)
            s.commit()
            return {"id": t.id, "key": t.key, "half_life_days": t.half_life_days}

    def list(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return TagService(s).list()

    def apply(
        self,
        key: str,
        contacts: Iterable[int | str],
        weight: float | None = None,
        source: str = "manual",
        create: bool = False,
        actor: str = "python",
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            ids, missing = self._contacts(s, contacts)
            res = TagService(s).apply(key, ids, source, weight, actor=actor, create=create)
            s.commit()
            return {**vars(res), "not_found": missing}

    def remove(
        self, key: str, contacts: Iterable[int | str], source: str = "manual", actor: str = "python"
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            ids, missing = self._contacts(s, contacts)
            res = TagService(s).remove(key, ids, source, actor=actor)
            s.commit()
            return {**vars(res), "not_found": missing}

    def apply_to_segment(
        self, key: str, segment: str, create: bool = False, actor: str = "python"
    ) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            res = TagService(s).apply_to_segment(key, segment, actor=actor, create=create)
            s.commit()
            return vars(res)

    def import_csv(self, path: str | Path, create: bool = False, actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            report = import_tags_csv(
                Path(path), TagService(s), self.ctx.profiles(s), self.ctx.parser, create, actor=actor
            )
            s.commit()
            return report.to_dict()

    def of(self, contact: int | str) -> dict[str, Any]:
        with self.ctx.db.session() as s:
            profiles = self.ctx.profiles(s)
            cid = (
                contact
                if isinstance(contact, int)
                else views.find_contact_id(profiles, self.ctx.parser, contact)
            )
            svc = TagService(s)
            return {"contact_id": cid, "tags": svc.of(cid), "history": svc.history(cid)}

    # --- rules ---------------------------------------------------------------------------------
    def create_rule(self, name: str, rule: dict[str, Any], actor: str = "python") -> dict[str, Any]:
        with self.ctx.db.session() as s:
            r = TagRuleService(s).create({"name": name, "rule": rule}, actor)
            s.commit()
            return {"id": r.id, "name": r.name, "kind": r.kind, "spec": r.spec, "enabled": r.enabled}

    def rules(self) -> list[dict[str, Any]]:
        with self.ctx.db.session() as s:
            return [
                {"id": r.id, "name": r.name, "kind": r.kind, "spec": r.spec, "enabled": r.enabled}
                for r in TagRuleService(s).list()
            ]

    def set_rule_enabled(self, name: str, enabled: bool, actor: str = "python") -> None:
        with self.ctx.db.session() as s:
            TagRuleService(s).set_enabled(name, enabled, actor)
            s.commit()

    def run_rules(self, now: datetime | None = None) -> dict[str, Any]:
        """Apply the rules to every settled event not yet seen (batches, each committed)."""
        return vars(run_until_caught_up(self.ctx.db, now))


class StagesClient(_Part):
    """Journey stages (旅程阶段): assign by rules, set by hand, history and reports."""

    def assign(self, as_of: datetime | None = None) -> dict[str, Any]:
        with self._work() as (s, wh):
            return StageService(s, wh).assign(as_of).to_dict()

    def set(
        self, contact: int | str, stage: str, reason: str = "manual", actor: str = "python"
    ) -> dict[str, Any] | None:
        with self._work() as (s, wh):
            return StageService(s, wh).set_stage(self._contact(s, contact), stage, reason, actor=actor)

    def of(self, contact: int | str, limit: int | None = 100) -> dict[str, Any]:
        with self._work(write=False) as (s, wh):
            cid = self._contact(s, contact)
            svc = StageService(s, wh)
            return {"contact_id": cid, "stage": svc.stage_of(cid), "history": svc.history(cid, limit)}

    def distribution(self) -> dict[str, int]:
        with self._work(write=False) as (s, wh):
            return StageService(s, wh).distribution()

    def flow(self, since: datetime | None = None, until: datetime | None = None) -> list[dict[str, Any]]:
        with self._work(write=False) as (s, wh):
            return StageService(s, wh).flow(since, until)

    def rules(self) -> list[dict[str, Any]]:
        with self._work(write=False) as (s, wh):
            return StageService(s, wh).rules()

    def set_rules(self, rules: Any, actor: str = "python") -> list[dict[str, Any]]:
        with self._work() as (s, wh):
            return StageService(s, wh).set_rules(load(rules), actor)


class RfmClient(_Part):
    """RFM scores and named segments from orders."""

    def compute(self, as_of: datetime | None = None) -> dict[str, Any]:
        with self._work() as (s, wh):
            svc = RfmService(s, wh)
            return {**svc.compute(as_of).to_dict(), "distribution": svc.distribution()}

    def distribution(self) -> dict[str, Any]:
        with self._work(write=False) as (s, wh):
            return RfmService(s, wh).distribution()

    def of(self, contact: int | str) -> dict[str, Any] | None:
        with self._work(write=False) as (s, wh):
            return RfmService(s, wh).of(self._contact(s, contact))

    def rules(self) -> list[dict[str, Any]]:
        with self._work(write=False) as (s, wh):
            return RfmService(s, wh).rules()

    def set_rules(self, rules: Any, actor: str = "python") -> list[dict[str, Any]]:
        with self._work() as (s, wh):
            return RfmService(s, wh).set_rules(load(rules), actor)
