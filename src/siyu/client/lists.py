"""Python API for lists of contacts: ``s.contacts`` (the filtered, sorted list; bulk tag, enrol
and export on picked ids or on everything a filter matches) and the export of a segment's
members (``s.segments.export``). Each call is one unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from siyu.context import AppContext
from siyu.exports.contacts import export_contacts
from siyu.exports.tabular import ExportFile, check_format
from siyu.journeys.service import JourneyService
from siyu.profiles.listing import MAX_SELECTED, ContactFilter, ListError, all_ids, list_contacts
from siyu.profiles.search import contact_rows
from siyu.segments.repository import SegmentRepository
from siyu.segments.service import SegmentNotFound
from siyu.tags.service import TagService


def _filter(flt: ContactFilter | dict[str, Any] | None) -> ContactFilter:
    if isinstance(flt, ContactFilter):
        return flt
    return ContactFilter.parse(flt or {})


class ContactsClient:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    # The brand's time zone is read through the session already open (``ctx.timezone(s)``):
    # a second session inside it waits forever on SQLite, whose transactions take the write lock.

    def _ids(
        self, s: Session, ids: Sequence[int] | None, flt: ContactFilter | dict[str, Any] | None
    ) -> list[int]:
        """Picked ids (followed to their survivors), or every contact the filter matches."""
        profiles = self.ctx.profiles(s)
        if ids is not None:
            if len(ids) > MAX_SELECTED:
                raise ListError("ids", f"at most {MAX_SELECTED:,} contacts at once")
            out: dict[int, None] = {}
            for cid in ids:
                survivor = profiles.repo.survivor_of(int(cid))
                if survivor is not None:
                    out[survivor] = None
            return list(out)
        return all_ids(s, profiles, self.ctx.parser, _filter(flt), self.ctx.timezone(s))

    def list(
        self, flt: ContactFilter | dict[str, Any] | None = None, limit: int = 50, offset: int = 0
    ) -> dict[str, Any]:
        """``{"total": N, "rows": [...]}``: a page of the filtered list, identifiers masked."""
        with self.ctx.db.session() as s:
            profiles = self.ctx.profiles(s)
            zone = self.ctx.timezone(s)
            ids, total = list_contacts(s, profiles, self.ctx.parser, _filter(flt), zone, limit, offset)
            return {"total": total, "rows": contact_rows(s, profiles, ids)}

    def tag(
        self,
        key: str,
        ids: Sequence[int] | None = None,
        flt: ContactFilter | dict[str, Any] | None = None,
        actor: str = "python",
        create: bool = False,
    ) -> dict[str, Any]:
        """Tag the picked contacts, or all the filter matches (source ``manual``, bulk)."""
        with self.ctx.db.session() as s:
            targets = self._ids(s, ids, flt)
            res = TagService(s).apply(key, targets, "manual", actor=actor, detail="bulk", create=create)
            return {"tag": key, "selected": len(targets), "added": res.added}

    def enrol(
        self,
        journey: str,
        ids: Sequence[int] | None = None,
        flt: ContactFilter | dict[str, Any] | None = None,
        actor: str = "python",
    ) -> dict[str, Any]:
        """Enrol the picked contacts, or all the filter matches, in an active journey (its
        entry rules apply; enrolling the same contacts again the same day is harmless)."""
        with self.ctx.db.session() as s:
            targets = self._ids(s, ids, flt)
            n = JourneyService(s).enrol(journey, targets, label=f"bulk:{actor}")
            return {"journey": journey, "selected": len(targets), "enrolled": n}

    def export(
        self,
        fmt: str = "csv",
        ids: Sequence[int] | None = None,
        flt: ContactFilter | dict[str, Any] | None = None,
        reveal: bool = False,
        actor: str = "python",
        lang: str = "zh",
    ) -> ExportFile:
        """The picked contacts, or all the filter matches, as CSV (UTF-8 BOM) or XLSX. Masked
        unless ``reveal`` (interfaces allow it only with ``pii.export``); audited."""
        check_format(fmt)
        with self.ctx.db.session() as s:
            targets = self._ids(s, ids, flt)
            what = "contacts" if ids is None else "contacts:picked"
            return export_contacts(
                s,
                self.ctx.profiles(s),
                targets,
                fmt,
                actor=actor,
                what=what,
                reveal=reveal,
                lang=lang,
                zone=self.ctx.timezone(s),
                sheet="客户" if lang == "zh" else "Contacts",
            )

    def export_segment(
        self, key: str, fmt: str = "csv", reveal: bool = False, actor: str = "python", lang: str = "zh"
    ) -> ExportFile:
        """A segment's members (as last computed) as CSV (UTF-8 BOM) or XLSX; masked unless
        ``reveal``; audited."""
        check_format(fmt)
        with self.ctx.db.session() as s:
            repo = SegmentRepository(s)
            seg = repo.get(key)
            if seg is None:
                raise SegmentNotFound(f"no segment {key!r}")
            return export_contacts(
                s,
                self.ctx.profiles(s),
                repo.member_ids(seg.id),
                fmt,
                actor=actor,
                what=f"segment:{key}",
                reveal=reveal,
                lang=lang,
                zone=self.ctx.timezone(s),
                sheet=seg.name,
            )
