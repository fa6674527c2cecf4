"""What the engine needs to know about a batch of contacts, loaded in a few queries per batch
(never one per contact): time zones, consent, reachable addresses, cap counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.consent.service import ANY_CHANNEL
from siyu.journeys.policy import zone
from siyu.privacy.repository import blocked_by_do_not_contact
from siyu.profiles.pii import Keyring
from siyu.store.dialect import chunked
from siyu.store.models import ConsentRecord, ContactAttribute, Identity, OutboxMessage

#: The consent channel and the identity each message channel needs.
CONSENT_CHANNEL: dict[str, str] = {
    "wecom_private": "wecom",
    "wecom_group": "wecom",
    "wecom_moment": "wecom",
    "wecom_welcome": "wecom",
    "wecom_tag": "wecom",
    "sms": "sms",
    "smart_sms": "sms",
    "email": "email",
    "webhook": "webhook",
}
ADDRESS: dict[str, str | None] = {
    "wecom_private": "wecom_external_userid",
    "wecom_group": None,
    "wecom_moment": None,
    "wecom_welcome": "wecom_external_userid",
    "wecom_tag": "wecom_external_userid",
    "sms": "phone",
    "smart_sms": "phone",
    "email": "email",
    "webhook": None,
}


def time_zones(session: Session, contact_ids: Sequence[int], default: str) -> dict[int, ZoneInfo]:
    found: dict[int, ZoneInfo] = {}
    for chunk in chunked(sorted(set(contact_ids))):
        for cid, value in session.execute(
            select(ContactAttribute.contact_id, ContactAttribute.value).where(
                ContactAttribute.name == "timezone", ContactAttribute.contact_id.in_(chunk)
            )
        ):
            found[cid] = zone(str(value) if value else None, default)
    fallback = zone(default)
    return {c: found.get(c, fallback) for c in contact_ids}


def consents(
    session: Session,
    contact_ids: Sequence[int],
    purpose: str,
    channel: str,
    default: bool,
    keyring: Keyring | None = None,
) -> dict[int, bool]:
    """Whether each contact may be sent ``purpose`` on ``channel``: its newest record for it
    (or ``*``) grants it and, for marketing, it is not on the do-not-contact list (see
    :func:`consent_decisions`). Every sender asks here, so the rules live in one place."""
    return {
        c: reason is None
        for c, reason in consent_decisions(session, contact_ids, purpose, channel, default, keyring).items()
    }


def consent_decisions(
    session: Session,
    contact_ids: Sequence[int],
    purpose: str,
    channel: str,
    default: bool,
    keyring: Keyring | None = None,
) -> dict[int, str | None]:
    """None where sending is allowed, else why not: ``no_consent`` (the newest record for
    ``purpose`` on ``channel`` or ``*`` withdraws it, or there is none and ``default`` is
    False) or ``do_not_contact`` (marketing to a person whose identifier is on the list — an
    erased person re-imported, or one who unsubscribed — until they grant marketing again).
    ``keyring`` lets identifiers other than phone and email match the list too."""
    newest: dict[int, tuple[object, int, bool]] = {}
    for chunk in chunked(sorted(set(contact_ids))):
        rows = session.execute(
            select(
                ConsentRecord.contact_id, ConsentRecord.occurred_at, ConsentRecord.id, ConsentRecord.granted
            ).where(
                ConsentRecord.contact_id.in_(chunk),
                ConsentRecord.purpose == purpose,
                ConsentRecord.channel.in_((channel, ANY_CHANNEL)),
            )
        )
        for cid, at, rid, granted in rows:
            if cid not in newest or (at, rid) > newest[cid][:2]:
                newest[cid] = (at, rid, granted)
    allowed = {c: newest[c][2] if c in newest else default for c in contact_ids}
    blocked = (
        blocked_by_do_not_contact(session, [c for c, ok in allowed.items() if ok], channel, keyring)
        if purpose == "marketing"
        else set()
    )
    return {
        c: None if ok and c not in blocked else ("do_not_contact" if ok else "no_consent")
        for c, ok in allowed.items()
    }


def reachable(session: Session, contact_ids: Sequence[int], identity_type: str | None) -> set[int]:
    if identity_type is None:
        return set(contact_ids)
    out: set[int] = set()
    for chunk in chunked(sorted(set(contact_ids))):
        out.update(
            session.scalars(
                select(Identity.contact_id).where(
                    Identity.type == identity_type, Identity.contact_id.in_(chunk)
                )
            )
        )
    return out


def cap_counts(
    session: Session, contact_ids: Sequence[int], first_day: str, last_day: str
) -> dict[int, list[tuple[str, str]]]:
    """Each contact's counted sends between two local days: (channel, local_day) per send.
    Failed, skipped (at send time) and transactional messages do not count."""
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for chunk in chunked(sorted(set(contact_ids))):
        rows = session.execute(
            select(OutboxMessage.contact_id, OutboxMessage.channel, OutboxMessage.local_day, func.count())
            .where(
                OutboxMessage.contact_id.in_(chunk),
                OutboxMessage.local_day >= first_day,
                OutboxMessage.local_day <= last_day,
                OutboxMessage.status.not_in(("failed", "skipped")),
                OutboxMessage.transactional.is_(False),
            )
            .group_by(OutboxMessage.contact_id, OutboxMessage.channel, OutboxMessage.local_day)
        )
        for cid, channel, day, n in rows:
            out[cid].extend([(channel, day)] * int(n))
    return out
