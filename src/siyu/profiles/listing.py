"""The contacts list as an operator filters it: by first channel, stage, tag, segment, created
date and last-seen date (days in the brand's time zone), sorted, with the search box's query
(phone, email, name, identifier, or a phone's last four digits) on top.

One SQL query over the system of record; every filter is an indexed ``IN (subquery)``. The last
seen date is the newest event's time (system events excluded), computed only when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, cast, func, select
from sqlalchemy.orm import Session

from siyu.profiles.identifiers import IdentifierParser
from siyu.profiles.keys import backfill_last4, needs_last4
from siyu.profiles.pii import LAST4_KIND
from siyu.profiles.search import NAME_TRAITS, search_contacts
from siyu.profiles.service import ProfileService
from siyu.store.models import (
    Channel,
    Contact,
    ContactAttribute,
    ContactStage,
    ContactTag,
    Event,
    Identity,
    Segment,
    SegmentMember,
    Tag,
)
from siyu.store.models.events import SYSTEM_EVENTS

SORTS = ("-created", "created", "id", "-id", "name", "-seen")
#: Bulk actions on "all filtered rows" stop here; narrow the filter for more.
MAX_SELECTED = 100_000


class ListError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


@dataclass
class ContactFilter:
    q: str = ""
    channel: str = ""
    stage: str = ""
    tag: str = ""
    segment: str = ""
    created_from: date | None = None
    created_to: date | None = None  # inclusive
    seen_from: date | None = None
    seen_to: date | None = None  # inclusive
    sort: str = "-created"

    @property
    def active(self) -> bool:
        return any(
            getattr(self, f.name) not in (None, "") for f in fields(self) if f.name not in ("sort", "q")
        )

    def query_args(self) -> dict[str, str]:
        """The filter as URL parameters (empty ones left out)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v not in (None, "") and not (f.name == "sort" and v == "-created"):
                out[f.name] = v.isoformat() if isinstance(v, date) else str(v)
        return out

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ContactFilter:
        """From strings (a form, URL parameters, CLI options); errors name the field."""
        out = cls()
        for f in fields(cls):
            v = raw.get(f.name)
            if v in (None, ""):
                continue
            if f.name.endswith(("_from", "_to")):
                if isinstance(v, date):
                    setattr(out, f.name, v)
                    continue
                try:
                    setattr(out, f.name, date.fromisoformat(str(v).strip()))
                except ValueError:
                    raise ListError(f.name, f"expected a date like 2026-03-02, got {str(v)[:40]!r}") from None
            else:
                setattr(out, f.name, str(v).strip())
        if out.sort not in SORTS:
            raise ListError("sort", f"expected one of {', '.join(SORTS)}, got {out.sort!r}")
        return out


def _utc_bounds(start: date | None, end: date | None, zone: str) -> tuple[datetime | None, datetime | None]:
    tz = ZoneInfo(zone)
    lo = datetime.combine(start, time(), tz) if start else None
    hi = datetime.combine(end + timedelta(days=1), time(), tz) if end else None
    return lo, hi


def last4_ids(session: Session, profiles: ProfileService, digits: str) -> Select[Any]:
    """Contacts with a phone ending in ``digits`` (four ASCII digits), through the blind index."""
    if needs_last4(session):
        backfill_last4(session, profiles.keyring)
    needle = profiles.keyring.blind_index(LAST4_KIND, digits)
    return select(Identity.contact_id).where(Identity.last4 == needle)


def is_last4(q: str) -> bool:
    q = q.strip().removeprefix("尾号").strip()
    return len(q) == 4 and q.isascii() and q.isdigit()


def filtered(
    session: Session, profiles: ProfileService, parser: IdentifierParser, flt: ContactFilter, zone: str
) -> Select[Any]:
    """``SELECT contacts.id`` for the filter, unsorted."""
    stmt = select(Contact.id).where(Contact.merged_into_id.is_(None))
    q = flt.q.strip()
    if q and is_last4(q):
        stmt = stmt.where(Contact.id.in_(last4_ids(session, profiles, q.removeprefix("尾号").strip())))
    elif q:
        found = search_contacts(session, profiles, parser, q, limit=MAX_SELECTED)
        stmt = stmt.where(Contact.id.in_(found.ids or [-1]))
    if flt.channel:
        stmt = stmt.where(Contact.first_channel_id.in_(select(Channel.id).where(Channel.key == flt.channel)))
    if flt.stage:
        stmt = stmt.where(
            Contact.id.in_(select(ContactStage.contact_id).where(ContactStage.stage == flt.stage))
        )
    if flt.tag:
        stmt = stmt.where(
            Contact.id.in_(
                select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id).where(Tag.key == flt.tag)
            )
        )
    if flt.segment:
        stmt = stmt.where(
            Contact.id.in_(
                select(SegmentMember.contact_id)
                .join(Segment, Segment.id == SegmentMember.segment_id)
                .where(Segment.key == flt.segment)
            )
        )
    lo, hi = _utc_bounds(flt.created_from, flt.created_to, zone)
    if lo is not None:
        stmt = stmt.where(Contact.created_at >= lo)
    if hi is not None:
        stmt = stmt.where(Contact.created_at < hi)
    lo, hi = _utc_bounds(flt.seen_from, flt.seen_to, zone)
    if lo is not None or hi is not None:
        seen = _last_seen()
        having = []
        if lo is not None:
            having.append(seen.c.seen >= lo)
        if hi is not None:
            having.append(seen.c.seen < hi)
        stmt = stmt.where(Contact.id.in_(select(seen.c.contact_id).where(*having)))
    return stmt


def _last_seen() -> Any:
    return (
        select(Event.contact_id, func.max(Event.timestamp).label("seen"))
        .where(Event.event.is_(None) | Event.event.not_in(SYSTEM_EVENTS))
        .group_by(Event.contact_id)
        .subquery("last_seen")
    )


def list_contacts(
    session: Session,
    profiles: ProfileService,
    parser: IdentifierParser,
    flt: ContactFilter,
    zone: str,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[int], int]:
    """A page of contact ids in the filter's order, and how many match in all."""
    base = filtered(session, profiles, parser, flt, zone).subquery("f")
    total = int(session.scalar(select(func.count()).select_from(base)) or 0)
    stmt = select(base.c.id).join(Contact, Contact.id == base.c.id)
    if flt.sort == "name":
        value = (
            select(ContactAttribute.contact_id, ContactAttribute.value)
            .where(ContactAttribute.name == NAME_TRAITS[0])
            .subquery()
        )
        # The JSON value's text ("张三" with its quotes on PostgreSQL) sorts like the name.
        stmt = stmt.outerjoin(value, value.c.contact_id == base.c.id).order_by(
            value.c.value.is_(None), cast(value.c.value, String), base.c.id
        )
    elif flt.sort == "-seen":
        seen = _last_seen()
        stmt = stmt.outerjoin(seen, seen.c.contact_id == base.c.id).order_by(
            seen.c.seen.is_(None), seen.c.seen.desc(), base.c.id.desc()
        )
    elif flt.sort in ("id", "-id"):
        stmt = stmt.order_by(base.c.id.desc() if flt.sort == "-id" else base.c.id)
    else:
        created = Contact.created_at.desc() if flt.sort == "-created" else Contact.created_at
        stmt = stmt.order_by(created, base.c.id.desc() if flt.sort == "-created" else base.c.id)
    ids = list(session.scalars(stmt.limit(limit).offset(offset))) if limit else []
    return ids, total


def all_ids(
    session: Session, profiles: ProfileService, parser: IdentifierParser, flt: ContactFilter, zone: str
) -> list[int]:
    """Every contact id the filter matches (bulk actions on "all filtered"), capped."""
    stmt = filtered(session, profiles, parser, flt, zone).order_by(Contact.id).limit(MAX_SELECTED + 1)
    ids = list(session.scalars(stmt))
    if len(ids) > MAX_SELECTED:
        raise ListError("filter", f"more than {MAX_SELECTED:,} contacts match; narrow the filter")
    return ids
