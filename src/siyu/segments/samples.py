"""Who is in a segment, at a glance: a few member contacts with their name and masked
identifiers, for previews and member lists. Never PII in clear: a reveal is a deliberate,
audited act of one contact's profile (profiles.views.profile), not a list."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from siyu.profiles.pii import mask_value
from siyu.profiles.service import ProfileService
from siyu.store.models import ContactAttribute

#: Traits tried in order for a display name.
NAME_TRAITS = ("name", "nickname")


def member_cards(profiles: ProfileService, contact_ids: list[int]) -> list[dict[str, Any]]:
    """``[{id, name, identifiers: ["138****8000", ...]}]`` in the order given."""
    if not contact_ids:
        return []
    idents: dict[int, list[str]] = defaultdict(list)
    for ident in profiles.repo.identities_of(contact_ids):
        idents[ident.contact_id].append(mask_value(ident.type, profiles.reveal(ident)))
    names: dict[int, dict[str, Any]] = defaultdict(dict)
    rows = profiles.session.execute(
        select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
            ContactAttribute.contact_id.in_(contact_ids), ContactAttribute.name.in_(NAME_TRAITS)
        )
    )
    for cid, name, value in rows:
        names[cid][name] = value
    out = []
    for cid in contact_ids:
        traits = names.get(cid, {})
        name = next((str(traits[n]) for n in NAME_TRAITS if traits.get(n) not in (None, "")), None)
        out.append({"id": cid, "name": name, "identifiers": idents.get(cid, [])[:3]})
    return out
