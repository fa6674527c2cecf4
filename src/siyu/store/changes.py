"""The contact change log: every capability that changes a contact's profile state (traits,
tags, consent, touches, stage, RFM, segment membership) notes the contact here, in the same
transaction, and the warehouse feeder re-ships that contact's state."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert
from sqlalchemy.orm import Session

from siyu.store.dialect import chunked
from siyu.store.models import ContactChange, utcnow


def note_changed(session: Session, contact_ids: Iterable[int]) -> None:
    now = utcnow()
    for chunk in chunked(sorted(set(contact_ids)), 5_000):
        session.execute(insert(ContactChange), [{"contact_id": c, "at": now} for c in chunk])
