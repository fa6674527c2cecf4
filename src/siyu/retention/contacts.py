"""Deleting contacts completely, every row that names them.

SEAM: ``delete_contacts`` is retention's own small deletion. The per-person deletion of the
privacy package (``siyu.privacy``, PIPL art. 47 requests) does the same and more; once both
are merged, this function should call that one and keep only its signature.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, Table, delete, select, update
from sqlalchemy.orm import Session

from siyu.store.changes import note_changed
from siyu.store.dialect import chunked
from siyu.store.models import Base, Contact, WarehouseRemoval

#: Tables that name contacts but are logs the deletion itself needs: the change log tells the
#: warehouse to drop the deleted contacts' state.
_KEEP = frozenset({"contact_changes", "contacts"})


def _contact_columns() -> list[tuple[Table, Column[int]]]:
    """Every (table, column) naming a contact: foreign keys to contacts.id and the plain
    ``contact_id`` columns of logs (step runs); children first, so foreign keys hold."""
    found: list[tuple[Table, Column[int]]] = []
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in _KEEP:
            continue
        for col in table.columns:
            points_at_contacts = any(fk.column.table.name == "contacts" for fk in col.foreign_keys)
            if points_at_contacts or col.name == "contact_id":
                found.append((table, col))
    return found


def with_absorbed(session: Session, ids: Iterable[int]) -> list[int]:
    """``ids`` plus every contact merged into one of them (their rows point at the survivor)."""
    everyone = set(ids)
    frontier = set(everyone)
    while frontier:
        found: set[int] = set()
        for chunk in chunked(sorted(frontier)):
            found.update(session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(chunk))))
        frontier = found - everyone
        everyone |= frontier
    return sorted(everyone)


def delete_contacts(session: Session, ids: Iterable[int], reason: str) -> int:
    """Delete the contacts ``ids`` (and those merged into them) with every row that names
    them, in this unit of work; the warehouse drops them on its next feed. Returns how many
    contacts were deleted. ``reason`` goes to the warehouse removal log."""
    everyone = with_absorbed(session, ids)
    if not everyone:
        return 0
    session.flush()
    for chunk in chunked(everyone):
        for table, col in _contact_columns():
            session.execute(delete(table).where(col.in_(chunk)))
        session.execute(update(Contact).where(Contact.id.in_(chunk)).values(merged_into_id=None))
    deleted = 0
    for chunk in chunked(everyone):
        deleted += session.execute(delete(Contact).where(Contact.id.in_(chunk))).rowcount or 0
    note_changed(session, everyone)
    for chunk in chunked(everyone, 1_000):
        session.add(
            WarehouseRemoval(kind="contacts", criteria={"contact_ids": list(chunk), "reason": reason})
        )
    session.flush()
    return deleted
