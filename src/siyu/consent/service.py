"""Consent: an append-only ledger; the current state is the newest record that applies.

A record for channel ``*`` applies to every channel; a channel-specific record newer than it
overrides it for that channel (and vice versa: the newest applicable record wins).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.store.changes import note_changed
from siyu.store.models import ConsentRecord, utcnow

PURPOSES: tuple[str, ...] = ("marketing", "service", "analytics")
ANY_CHANNEL = "*"


class ConsentError(ValueError):
    pass


class ConsentService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        contact_id: int,
        purpose: str,
        channel: str,
        granted: bool,
        source: str,
        evidence: dict[str, Any] | None = None,
        at: datetime | None = None,
        actor: str = "system",
    ) -> ConsentRecord:
        if purpose not in PURPOSES:
            raise ConsentError(f"unknown purpose {purpose!r}; one of {', '.join(PURPOSES)}")
        rec = ConsentRecord(
            contact_id=contact_id,
            purpose=purpose,
            channel=channel or ANY_CHANNEL,
            granted=granted,
            source=source,
            evidence=DEFAULT_DETECTOR.scrub(evidence),  # proof of consent, never a clear phone
            occurred_at=at or utcnow(),
        )
        self.session.add(rec)
        note_changed(self.session, [contact_id])
        audit.record(
            self.session,
            actor,
            "consent.granted" if granted else "consent.withdrawn",
            "contact",
            contact_id,
            {"purpose": purpose, "channel": rec.channel, "source": source},
        )
        return rec

    def ledger(self, contact_id: int) -> list[ConsentRecord]:
        return list(
            self.session.scalars(
                select(ConsentRecord)
                .where(ConsentRecord.contact_id == contact_id)
                .order_by(ConsentRecord.occurred_at, ConsentRecord.id)
            )
        )

    def state(self, contact_id: int) -> dict[tuple[str, str], bool]:
        """Current (purpose, channel) → granted, derived from the ledger."""
        current: dict[tuple[str, str], bool] = {}
        for rec in self.ledger(contact_id):
            current[(rec.purpose, rec.channel)] = rec.granted
        return current

    def allows(self, contact_id: int, purpose: str, channel: str, default: bool = False) -> bool:
        """Whether the newest record for this purpose on this channel (or on ``*``) grants it."""
        newest: ConsentRecord | None = None
        for rec in self.ledger(contact_id):
            if rec.purpose == purpose and rec.channel in (channel, ANY_CHANNEL):
                newest = rec
        return default if newest is None else newest.granted
