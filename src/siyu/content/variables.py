"""The variables a template sees for a contact, loaded for a whole batch at once.

Three queries per batch of up to :data:`~siyu.store.dialect.IN_CHUNK` contacts (traits, tags,
stage), plus five for the loyalty programme (``content/loyalty_variables.py``) — never one per
contact: the journey engine renders a step for thousands of contacts.

Variables:

``contact``        every trait, plus ``id`` (``{{ contact.city }}``)
``name``           trait ``name``, else ``nickname``, else ""
``tags``           tag keys the contact holds (``{% if "vip" in tags %}``)
``points``         the active points balance (ledger), else trait ``points``, else 0
``tier`` ``tier_en`` ``member_no`` ``coupon`` (``.code``, ``.expires_at`` …) ``points_expiring``
``points_expiring_at``: the loyalty programme, see ``content/loyalty_variables.py``
``referral_code``  trait ``referral_code``, else None
``stage``          journey stage (``retention`` …), else None
``timezone``       trait ``timezone``, else Asia/Shanghai (the ``date`` filter uses it)

PII is not decrypted here: phone numbers and email addresses live encrypted in identities and
reach the channel adapter as the recipient, never as template text. Traits named like a PII
identifier are left out too, should a source have stored one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.brand import stored_timezone
from siyu.content.loyalty_variables import loyalty_variables
from siyu.content.render import DEFAULT_TIMEZONE
from siyu.profiles.identifiers import PII_TYPES
from siyu.profiles.pii import Keyring
from siyu.store.dialect import chunked
from siyu.store.models import ContactAttribute, ContactStage, ContactTag, Tag


def contact_variables(
    session: Session,
    keyring: Keyring | None,
    contact_ids: list[int],
    *,
    zone: str | None = None,
    now: datetime | None = None,
) -> dict[int, dict[str, Any]]:
    """``{contact_id: variables}`` for every id given (unknown ids get the defaults).
    ``zone``: the brand's time zone for coupon and points dates (default: the stored brand zone).

    ``keyring`` is part of the signature for variables derived from PII later (a masked phone
    for a "we sent it to 138****8000" line); nothing here decrypts today."""
    ids = sorted(set(contact_ids))
    traits: dict[int, dict[str, Any]] = {cid: {} for cid in ids}
    tags: dict[int, list[str]] = {cid: [] for cid in ids}
    stages: dict[int, str] = {}
    for chunk in chunked(ids):
        for cid, name, value in session.execute(
            select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
                ContactAttribute.contact_id.in_(chunk)
            )
        ):
            if name not in PII_TYPES:
                traits[cid][name] = value
        for cid, key in session.execute(
            select(ContactTag.contact_id, Tag.key)
            .join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.contact_id.in_(chunk))
            .order_by(ContactTag.contact_id, Tag.key)
        ):
            tags[cid].append(key)
        stages.update(
            session.execute(
                select(ContactStage.contact_id, ContactStage.stage).where(ContactStage.contact_id.in_(chunk))
            ).all()
        )
    loyal = loyalty_variables(session, ids, zone or stored_timezone(session) or DEFAULT_TIMEZONE, now)
    out = {cid: _variables(cid, traits[cid], tags[cid], stages.get(cid)) for cid in ids}
    for cid, extra in loyal.items():
        out[cid].update(extra)  # the ledger's points replace the trait where the contact has any
    return out


def _variables(cid: int, traits: dict[str, Any], tags: list[str], stage: str | None) -> dict[str, Any]:
    points = traits.get("points")
    return {
        "contact": {**traits, "id": cid},
        "name": traits.get("name") or traits.get("nickname") or "",
        "tags": tags,
        "points": points if isinstance(points, int | float) and not isinstance(points, bool) else 0,
        "referral_code": traits.get("referral_code") or None,
        "stage": stage,
        "timezone": traits.get("timezone") or DEFAULT_TIMEZONE,
    }


#: Variables every contact has (besides ``contact.<trait>``), in the order the picker shows them.
BUILTINS = (
    "name",
    "tags",
    "points",
    "tier",
    "coupon.code",
    "coupon.expires_at",
    "points_expiring",
    "points_expiring_at",
    "member_no",
    "referral_code",
    "stage",
    "timezone",
    "contact.id",
)
#: How many recent events the picker reads to learn event properties: enough to see every
#: event a brand sends, cheap at any table size (newest first, by primary key).
RECENT_EVENTS = 2000


def variable_catalogue(session: Session) -> dict[str, Any]:
    """What a template can use, for the editor's variables picker.

    ``traits``: the contact traits the data holds (``{{ contact.city }}``), PII left out;
    ``events``: for each event name seen recently, its property names — a journey step started
    by that event reads them as ``{{ trigger.order_id }}``; ``builtins`` and the link helper.
    """
    from siyu.store.models import Event  # events are read only here

    traits = sorted(
        n for n in session.scalars(select(ContactAttribute.name).distinct().limit(500)) if n not in PII_TYPES
    )
    events: dict[str, set[str]] = {}
    recent = select(Event.event, Event.properties).where(Event.type == "track").order_by(Event.id.desc())
    for name, props in session.execute(recent.limit(RECENT_EVENTS)):
        if name and len(events) < 200:
            keys = events.setdefault(name, set())
            if isinstance(props, dict):
                keys.update(k for k in props if isinstance(k, str) and k.isidentifier())
    return {
        "builtins": list(BUILTINS),
        "traits": traits,
        "events": {name: sorted(keys)[:50] for name, keys in sorted(events.items())},
        "link": '{{ link("https://") }}',
    }
