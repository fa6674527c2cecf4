"""Reading profiles: find a contact by any identifier and assemble its profile, masked unless
the caller may see PII (every reveal is audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.consent.service import ConsentService
from siyu.profiles import history
from siyu.profiles.identifiers import IDENTIFIER_PRIORITY, IdentifierError, IdentifierParser
from siyu.profiles.pii import mask_value
from siyu.profiles.service import ProfileService
from siyu.sources.service import SourcesService
from siyu.store.models import Channel, ContactFollow, EntryCode, Event
from siyu.tags.service import TagService

MAX_ID = 2**63 - 1  # ids are 64-bit integers on both databases


class LookupError_(ValueError):
    """The query names no contact, or cannot be read as an identifier."""


def parse_query(parser: IdentifierParser, query: str) -> tuple[str, Any]:
    """``13800138000`` → phone, ``a@b.cn`` → email, ``type:value`` → that type, ``id:42`` → id."""
    query = query.strip()
    if ":" in query:
        kind, value = query.split(":", 1)
        if kind == "id":
            # ASCII digits only (str.isdigit takes "²"), and within the database's 64-bit ids
            if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
                raise LookupError_(f"contact id must be a whole number up to {MAX_ID}, got {value[:40]!r}")
            return "id", int(value)
        if kind in IDENTIFIER_PRIORITY:
            try:
                return "identifier", parser.parse(kind, value)
            except IdentifierError as exc:
                raise LookupError_(str(exc)) from exc
    if "@" in query:
        try:
            return "identifier", parser.parse("email", query)
        except IdentifierError as exc:
            raise LookupError_(f"cannot read {query!r} as an email address: {exc.reason}") from exc
    try:
        return "identifier", parser.parse("phone", query)
    except IdentifierError as exc:
        raise LookupError_(
            f"cannot read {query!r} as a phone or email; use type:value, e.g. customer_no:C001"
        ) from exc


def find_contact_id(profiles: ProfileService, parser: IdentifierParser, query: str) -> int:
    kind, value = parse_query(parser, query)
    survivor = profiles.repo.survivor_of(value) if kind == "id" else profiles.resolve(value)
    if survivor is None:
        raise LookupError_(f"no contact matches {query!r}")
    return survivor


def profile(
    session: Session,
    profiles: ProfileService,
    contact_id: int,
    reveal: bool = False,
    actor: str = "system",
    recent_events: int = 20,
) -> dict[str, Any]:
    """The contact's profile as plain data. ``reveal`` shows PII in clear and is audited."""
    contact = profiles.contact(contact_id)
    if contact is None:
        raise LookupError_(f"no contact {contact_id}")
    identities = []
    for ident in profiles.repo.identities_of([contact_id]):
        plain = profiles.reveal(ident)
        identities.append(
            {
                "type": ident.type,
                "scope": ident.scope or None,
                "value": plain if reveal else mask_value(ident.type, plain),
                "source": ident.source,
                "created_at": ident.created_at.isoformat(),
            }
        )
    if reveal:
        audit.record(session, actor, "pii.revealed", "contact", contact_id, {"fields": ["identities"]})
    channels = {c.id: c.key for c in session.scalars(select(Channel))}
    touch_rows = SourcesService(session).touches(contact_id)
    code_ids = {t.entry_code_id for t in touch_rows if t.entry_code_id} | (
        {contact.first_entry_code_id} if contact.first_entry_code_id else set()
    )
    states = (
        dict(session.execute(select(EntryCode.id, EntryCode.state).where(EntryCode.id.in_(code_ids))).all())
        if code_ids
        else {}
    )
    touches = [
        {
            "channel": channels.get(t.channel_id),
            "entry_code_id": t.entry_code_id,
            "state": states.get(t.entry_code_id) if t.entry_code_id else None,
            "first": t.is_first,
            "at": t.occurred_at.isoformat(),
        }
        for t in touch_rows
    ]
    first = next((t for t in touches if t["first"]), None)
    consent = ConsentService(session).state(contact_id)
    events = session.scalars(
        select(Event)
        .where(Event.contact_id == contact_id)
        .order_by(Event.timestamp.desc(), Event.id.desc())
        .limit(recent_events)
    )
    changes = history.changed_traits(history.trait_history(session, contact_id, pii=profiles.pii))
    event_count = session.scalar(
        select(func.count()).select_from(Event).where(Event.contact_id == contact_id)
    )
    return {
        "id": contact.id,
        "created_at": contact.created_at.isoformat(),
        "first_channel": channels.get(contact.first_channel_id) if contact.first_channel_id else None,
        # The first touch with its entry code's state (e.g. the WeCom contact way it came through).
        "first_touch": first
        or (
            {
                "channel": channels.get(contact.first_channel_id),
                "entry_code_id": contact.first_entry_code_id,
                "state": states.get(contact.first_entry_code_id) if contact.first_entry_code_id else None,
                "first": True,
                "at": contact.created_at.isoformat(),
            }
            if contact.first_channel_id
            else None
        ),
        "identifiers": identities,
        # Masked again on the way out: rows written before PII was detected under every alias
        # (or by a path that skipped ingest) must not show a phone either.
        "traits": {
            name: profiles.pii.scrub_value(a.value)
            for name, a in sorted(profiles.repo.attributes(contact_id).items())
        },
        # every value of the traits that had more than one (a later write replaced it), oldest first
        "trait_history": history.as_json([h for items in changes.values() for h in items]),
        "tags": TagService(session).of(contact_id),
        "touches": touches,
        "consent": [{"purpose": p, "channel": ch, "granted": g} for (p, ch), g in sorted(consent.items())],
        "merges": [
            {
                "survivor": m.survivor_id,
                "absorbed": m.absorbed_id,
                "reason": m.reason,
                "at": m.occurred_at.isoformat(),
            }
            for m in profiles.repo.merges_of(contact_id)
        ],
        # WeCom staff who have (or had) this customer: remark, add time, add way, state.
        "wecom_follows": [
            {
                "provider": f.provider_key,
                "staff": f.staff_userid,
                "remark": f.remark,
                "added_at": f.added_at.isoformat() if f.added_at else None,
                "add_way": f.add_way,
                "state": f.state,
                "deleted_at": f.deleted_at.isoformat() if f.deleted_at else None,
                "deleted_by": f.deleted_by,
            }
            for f in session.scalars(
                select(ContactFollow).where(ContactFollow.contact_id == contact_id).order_by(ContactFollow.id)
            )
        ],
        "event_count": event_count or 0,
        "recent_events": [
            {
                "type": e.type,
                "event": e.event,
                "timestamp": e.timestamp.isoformat(),
                "properties": profiles.pii.scrub(e.properties),
            }
            for e in events
        ],
    }
