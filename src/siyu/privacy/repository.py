"""Every query of the privacy capability: the person's rows across all tables, and the
do-not-contact list (matched by blind index, never by clear value)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.orm import Session

from siyu.consent.service import ANY_CHANNEL
from siyu.profiles.identifiers import PII_TYPES
from siyu.profiles.pii import Keyring
from siyu.profiles.referral_edges import erase_referrals
from siyu.store.dialect import chunked
from siyu.store.models import Base, ConsentRecord, Contact, ContactMerge, DoNotContact, Identity, utcnow


def person_tables() -> list[Table]:
    """Every table with a ``contact_id`` column, children first (foreign-key order reversed),
    found from the models so a table added later is exported and erased without a change here."""
    return [t for t in reversed(Base.metadata.sorted_tables) if "contact_id" in t.c]


def family(session: Session, survivor_id: int | Iterable[int]) -> list[int]:
    """The survivor(s) and every contact merged into one of them, at any depth."""
    found = {survivor_id} if isinstance(survivor_id, int) else set(survivor_id)
    frontier = set(found)
    while frontier:
        nxt: set[int] = set()
        for chunk in chunked(sorted(frontier)):
            nxt.update(session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(chunk))))
        frontier = nxt - found
        found |= frontier
    return sorted(found)


def rows_of(session: Session, table: Table, ids: Sequence[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    order = [table.c.id] if "id" in table.c else list(table.primary_key.columns)
    for chunk in chunked(list(ids)):
        out.extend(
            dict(r._mapping)
            for r in session.execute(select(table).where(table.c.contact_id.in_(chunk)).order_by(*order))
        )
    return out


def count_of(session: Session, table: Table, ids: Sequence[int]) -> int:
    return sum(
        session.scalar(select(func.count()).select_from(table).where(table.c.contact_id.in_(chunk))) or 0
        for chunk in chunked(list(ids))
    )


def merges_of(session: Session, ids: Sequence[int]) -> list[ContactMerge]:
    out: list[ContactMerge] = []
    for chunk in chunked(list(ids)):
        out.extend(
            session.scalars(
                select(ContactMerge)
                .where(ContactMerge.survivor_id.in_(chunk) | ContactMerge.absorbed_id.in_(chunk))
                .order_by(ContactMerge.id)
            )
        )
    return list({m.id: m for m in out}.values())


def erase(session: Session, ids: Sequence[int]) -> dict[str, int]:
    """Delete every row of these contacts; returns rows removed per table."""
    counts: dict[str, int] = {}

    def note(name: str, n: int) -> None:
        if n:
            counts[name] = counts.get(name, 0) + n

    note("referrals", erase_referrals(session, ids))  # edges name two contacts, not a contact_id
    for table in person_tables():
        for chunk in chunked(list(ids)):
            note(table.name, session.execute(delete(table).where(table.c.contact_id.in_(chunk))).rowcount)
    for chunk in chunked(list(ids)):
        note(
            ContactMerge.__tablename__,
            session.execute(
                delete(ContactMerge).where(
                    ContactMerge.survivor_id.in_(chunk) | ContactMerge.absorbed_id.in_(chunk)
                )
            ).rowcount,
        )
        # Absorbed contacts point at the survivor: unlink them before deleting any of them.
        session.execute(update(Contact).where(Contact.id.in_(chunk)).values(merged_into_id=None))
    for chunk in chunked(list(ids)):
        note(Contact.__tablename__, session.execute(delete(Contact).where(Contact.id.in_(chunk))).rowcount)
    return counts


# --- do-not-contact ------------------------------------------------------------------------------
def put_do_not_contact(
    session: Session, entries: Iterable[tuple[str, str]], channel: str, reason: str, deletion_id: str | None
) -> int:
    """Add (type, blind index) entries for ``channel``; an entry already there is renewed (its
    time moves to now), so a consent given before this act no longer lifts it."""
    now = utcnow()
    written = 0
    for kind, lookup in sorted(set(entries)):
        row = session.scalar(
            select(DoNotContact).where(
                DoNotContact.type == kind, DoNotContact.lookup == lookup, DoNotContact.channel == channel
            )
        )
        if row is None:
            session.add(
                DoNotContact(
                    type=kind, lookup=lookup, channel=channel, reason=reason, deletion_id=deletion_id
                )
            )
        else:
            row.reason, row.deletion_id, row.created_at = reason, deletion_id, now
        written += 1
    session.flush()
    return written


def do_not_contact_entries(
    session: Session, limit: int = 200, before_id: int | None = None
) -> list[DoNotContact]:
    stmt = select(DoNotContact).order_by(DoNotContact.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(DoNotContact.id < before_id)
    return list(session.scalars(stmt))


def remove_do_not_contact(session: Session, entry_id: int) -> bool:
    return session.execute(delete(DoNotContact).where(DoNotContact.id == entry_id)).rowcount > 0


def blocked_by_do_not_contact(
    session: Session, contact_ids: Sequence[int], channel: str, keyring: Keyring | None = None
) -> set[int]:
    """Contacts one of whose identifiers is on the do-not-contact list for ``channel`` (or
    every channel) and who have not granted marketing consent on it since the entry was made.

    Phone and email match in SQL: their stored lookup *is* the blind index. Other identifier
    types are stored in clear, so matching them needs the keyring's HMAC (given by the engine;
    a caller without a keyring still gets phone and email, the identifiers marketing reaches)."""
    since: dict[int, datetime] = {}

    def hit(cid: int, at: datetime) -> None:
        if cid not in since or at > since[cid]:
            since[cid] = at

    channels = (channel, ANY_CHANNEL)
    # Which identifier types the list holds for this channel: none (the usual case) costs one
    # query of the (small) list per batch, and only those types are loaded and hashed.
    listed = set(
        session.scalars(select(DoNotContact.type).where(DoNotContact.channel.in_(channels)).distinct())
    )
    if not listed:
        return set()
    pii = sorted(listed & PII_TYPES)
    other = sorted(listed - PII_TYPES)
    for chunk in chunked(sorted(set(contact_ids))):
        if not pii:
            rows = []
        else:
            rows = session.execute(
                select(Identity.contact_id, func.max(DoNotContact.created_at))
                .join(
                    DoNotContact,
                    (DoNotContact.type == Identity.type) & (DoNotContact.lookup == Identity.lookup),
                )
                .where(
                    Identity.contact_id.in_(chunk),
                    Identity.type.in_(pii),
                    DoNotContact.channel.in_(channels),
                )
                .group_by(Identity.contact_id)
            )
        for cid, at in rows:
            hit(cid, at)
        if keyring is None or not other:
            continue
        hashed: dict[tuple[str, str], list[int]] = {}
        for cid, kind, value in session.execute(
            select(Identity.contact_id, Identity.type, Identity.value).where(
                Identity.contact_id.in_(chunk), Identity.type.in_(other)
            )
        ):
            hashed.setdefault((kind, keyring.blind_index(kind, value or "")), []).append(cid)
        lookups = sorted({lk for _, lk in hashed})
        for part in chunked(lookups):
            for kind, lookup, at in session.execute(
                select(DoNotContact.type, DoNotContact.lookup, DoNotContact.created_at).where(
                    DoNotContact.lookup.in_(part), DoNotContact.channel.in_(channels)
                )
            ):
                for cid in hashed.get((kind, lookup), ()):
                    hit(cid, at)
    if not since:
        return set()
    granted: dict[int, datetime] = {}
    for chunk in chunked(sorted(since)):
        granted.update(
            session.execute(
                select(ConsentRecord.contact_id, func.max(ConsentRecord.recorded_at))
                .where(
                    ConsentRecord.contact_id.in_(chunk),
                    ConsentRecord.purpose == "marketing",
                    ConsentRecord.granted.is_(True),
                    ConsentRecord.channel.in_(channels),
                )
                .group_by(ConsentRecord.contact_id)
            ).all()
        )
    return {cid for cid, at in since.items() if cid not in granted or granted[cid] <= at}
