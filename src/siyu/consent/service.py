"""Consent: an append-only ledger; the current state is the newest record that applies.

A record for channel ``*`` applies to every channel; a channel-specific record newer than it
overrides it for that channel (and vice versa: the newest applicable record wins). So a send on
a channel is allowed by the newest record for that channel or ``*``, and a grant on ``sms``
alone allows SMS.

Asked about ``*`` itself ("may we contact them for this purpose at all, on every channel?") the
answer looks at every record still in effect: the newest ``*`` record and each channel's newest
record that is newer than it. Granted when all of them grant (a contact who granted every
channel one by one, never ``*``, is granted), withdrawn when any of them withdraws, unknown
without records. The segment condition ``consent`` with ``channel: "*"`` means the same.
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
        """Whether consent for this purpose on this channel (``*``: on every channel, see the
        module's docstring) is granted; ``default`` without any record that applies."""
        answer = current(self.ledger(contact_id), purpose, channel)
        return default if answer is None else answer


def current(ledger: list[ConsentRecord], purpose: str, channel: str) -> bool | None:
    """The consent in effect for ``purpose`` on ``channel`` from a contact's ledger in recording
    order (oldest first); None when no record applies."""
    in_effect: dict[str, bool] = {}  # channel → its newest answer, while newer than ``*``'s
    for rec in ledger:
        if rec.purpose != purpose:
            continue
        if rec.channel == ANY_CHANNEL:
            in_effect = {ANY_CHANNEL: rec.granted}  # overrides every older per-channel answer
        else:
            in_effect[rec.channel] = rec.granted
    if channel != ANY_CHANNEL:
        return in_effect.get(channel, in_effect.get(ANY_CHANNEL))
    return all(in_effect.values()) if in_effect else None
