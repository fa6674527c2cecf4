"""Bulk export of contacts with identifiers in clear (owners only, audited by the caller's
interface and here). One CSV row per surviving contact; identifiers as ``type:value`` joined by
``;`` so a contact with two phones stays one row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.profiles.service import ProfileService
from siyu.store.csv_safe import write_rows
from siyu.store.models import Channel, Contact, ContactAttribute

COLUMNS = ["id", "created_at", "first_channel", "identifiers", "name"]
_CHUNK = 5000


def export_rows(session: Session, profiles: ProfileService, actor: str) -> Iterator[dict[str, Any]]:
    channels = {c.id: c.key for c in session.scalars(select(Channel))}
    count = 0
    last = 0
    while True:
        contacts = list(
            session.scalars(
                select(Contact)
                .where(Contact.merged_into_id.is_(None), Contact.id > last)
                .order_by(Contact.id)
                .limit(_CHUNK)
            )
        )
        if not contacts:
            break
        ids = [c.id for c in contacts]
        idents: dict[int, list[str]] = defaultdict(list)
        for ident in profiles.repo.identities_of(ids):
            idents[ident.contact_id].append(f"{ident.type}:{profiles.reveal(ident)}")
        names: dict[int, str] = dict(
            session.execute(
                select(ContactAttribute.contact_id, ContactAttribute.value).where(
                    ContactAttribute.contact_id.in_(ids), ContactAttribute.name == "name"
                )
            ).all()
        )
        for c in contacts:
            count += 1
            yield {
                "id": c.id,
                "created_at": c.created_at.isoformat(),
                "first_channel": channels.get(c.first_channel_id or 0, ""),
                "identifiers": ";".join(sorted(idents[c.id])),
                "name": names.get(c.id) or "",
            }
        last = ids[-1]
    audit.record(session, actor, "pii.exported", "contacts", None, {"rows": count})


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    """The export as CSV; a name like ``=HYPERLINK(…)`` is kept as text, never a formula."""
    return write_rows(rows, COLUMNS)
