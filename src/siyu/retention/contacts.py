"""Deleting inactive contacts completely: the same erasure as a person's PIPL deletion request
(:mod:`siyu.privacy.repository`), without a receipt or a do-not-contact entry — nobody asked;
the brand's retention policy did."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from siyu.privacy import repository as privacy
from siyu.store.changes import note_changed
from siyu.store.models import WarehouseErasure


def delete_contacts(session: Session, ids: Iterable[int], reason: str) -> int:
    """Delete the contacts ``ids`` (and those merged into them) with every row that names
    them, in this unit of work; the warehouse erases them on its next feed (and rewrites its
    file, so no copy stays in freed blocks). Returns how many contacts were deleted."""
    everyone = privacy.family(session, ids)
    if not everyone:
        return 0
    session.flush()
    counts = privacy.erase(session, everyone)
    note_changed(session, everyone)  # the warehouse drops their profile state too
    session.add(WarehouseErasure(deletion_id=reason, erased_ids=everyone))
    session.flush()
    return counts.get("contacts", 0)
