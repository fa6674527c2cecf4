"""Finding contacts the way an operations team asks for them: by phone, email, any identifier
(``customer_no:C001``, ``unionid:o6_…``), contact id, name, or tag.

Phones and emails are stored encrypted, so they are found only through their blind index
(:func:`siyu.profiles.views.find_contact_id`), never by scanning. Other identifiers are kept
in clear and are matched exactly on the unique ``(lookup, type, scope)`` index. Names are the
``name``/``nickname`` traits, matched by substring (case-insensitive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, func, literal_column, select
from sqlalchemy.orm import Session

from siyu.profiles.identifiers import IDENTIFIER_PRIORITY, PII_TYPES, IdentifierParser
from siyu.profiles.pii import mask_value
from siyu.profiles.service import ProfileService
from siyu.profiles.views import LookupError_, find_contact_id, parse_query
from siyu.store.dialect import chunked
from siyu.store.models import Channel, Contact, ContactAttribute, ContactStage, ContactTag, Identity, Tag

#: Traits read as a contact's name (WeChat contacts often have only a nickname).
NAME_TRAITS: tuple[str, ...] = ("name", "nickname")
#: Short names people type for identifier types (``unionid:…`` rather than ``wechat_unionid:…``).
ALIASES: dict[str, str] = {
    "unionid": "wechat_unionid",
    "openid": "wechat_openid",
    "external_userid": "wecom_external_userid",
    "mobile": "phone",
    "手机": "phone",
    "邮箱": "email",
}
#: Free-text searches return at most this many contacts (a search, not an export).
TEXT_CAP = 500


@dataclass
class SearchResult:
    ids: list[int]  # the page of contact ids, in display order
    total: int  # matches in all (capped at TEXT_CAP for free text)
    how: str  # recent | identifier | tag | text
    exact: bool = False  # an id or identifier named exactly one contact


def normalise_query(query: str) -> str:
    """``unionid:x`` → ``wechat_unionid:x``; other queries unchanged (trimmed)."""
    query = query.strip()
    kind, sep, rest = query.partition(":")
    if sep and kind.strip().lower() in ALIASES:
        return f"{ALIASES[kind.strip().lower()]}:{rest.strip()}"
    return query


def search_contacts(
    session: Session,
    profiles: ProfileService,
    parser: IdentifierParser,
    query: str,
    limit: int = 50,
    offset: int = 0,
) -> SearchResult:
    query = normalise_query(query)
    if not query:
        ids, total = recent_contacts(session, limit, offset)
        return SearchResult(ids, total, "recent")
    kind, sep, rest = query.partition(":")
    if sep and kind.lower() == "tag":
        ids, total = tag_holders(session, rest.strip(), limit, offset)
        return SearchResult(ids, total, "tag")
    try:
        parse_query(parser, query)
    except LookupError_:
        if sep and (kind == "id" or kind in IDENTIFIER_PRIORITY):
            return SearchResult([], 0, "identifier")  # typed but malformed: nothing, not a name search
        found = _text_matches(session, query)
        return SearchResult(found[offset : offset + limit], len(found), "text")
    try:  # a phone, an email, id:N or type:value
        cid = find_contact_id(profiles, parser, query)
    except LookupError_:
        return SearchResult([], 0, "identifier")
    return SearchResult([cid] if offset == 0 else [], 1, "identifier", exact=True)


def recent_contacts(session: Session, limit: int, offset: int) -> tuple[list[int], int]:
    live = Contact.merged_into_id.is_(None)
    ids = session.scalars(
        select(Contact.id)
        .where(live)
        .order_by(Contact.created_at.desc(), Contact.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Contact).where(live)) or 0
    return list(ids), total


def tag_holders(session: Session, key: str, limit: int, offset: int) -> tuple[list[int], int]:
    """Contacts holding the tag ``key`` (exact key, e.g. ``VIP`` or ``interest/skincare``)."""
    held = select(ContactTag.contact_id).join(Tag, Tag.id == ContactTag.tag_id).where(Tag.key == key)
    ids = session.scalars(held.order_by(ContactTag.contact_id.desc()).limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(held.subquery())) or 0
    return list(ids), total


def _scalar_text(session: Session, column: Any) -> ColumnElement[Any]:
    """A JSON scalar as plain text (``"张三"`` → ``张三``) on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return column.op("#>>", return_type=String)(literal_column("'{}'"))
    return func.json_extract(column, "$")


def _text_matches(session: Session, query: str) -> list[int]:
    """Contacts whose non-PII identifier equals the query, then those whose name contains it,
    then the holders of a tag with that key; contact ``42`` too when the query is a number."""
    found: dict[int, None] = {}
    if query.isdigit():
        contact = session.get(Contact, int(query))
        if contact is not None:
            found[contact.merged_into_id or contact.id] = None
    plain = [t for t in IDENTIFIER_PRIORITY if t not in PII_TYPES]
    for cid in session.scalars(
        select(Identity.contact_id).where(Identity.lookup == query, Identity.type.in_(plain)).limit(TEXT_CAP)
    ):
        found[cid] = None
    pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    name = func.lower(_scalar_text(session, ContactAttribute.value))
    for cid in session.scalars(
        select(ContactAttribute.contact_id)
        .where(ContactAttribute.name.in_(NAME_TRAITS), name.like(pattern, escape="\\"))
        .order_by(ContactAttribute.contact_id.desc())
        .limit(TEXT_CAP)
    ):
        found[cid] = None
    for cid in tag_holders(session, query, TEXT_CAP, 0)[0]:
        found[cid] = None
    return list(found)[:TEXT_CAP]


def contact_rows(session: Session, profiles: ProfileService, ids: Sequence[int]) -> list[dict[str, Any]]:
    """One summary row per contact for result tables, identifiers always masked."""
    contacts = profiles.repo.contacts(ids)
    idents: dict[int, list[Identity]] = {}
    for ident in profiles.repo.identities_of(ids):
        idents.setdefault(ident.contact_id, []).append(ident)
    names: dict[int, dict[str, Any]] = {}
    stages: dict[int, str] = {}
    tags: dict[int, list[str]] = {}
    for chunk in chunked(sorted(set(ids))):
        for attr in session.scalars(
            select(ContactAttribute).where(
                ContactAttribute.contact_id.in_(chunk), ContactAttribute.name.in_(NAME_TRAITS)
            )
        ):
            names.setdefault(attr.contact_id, {})[attr.name] = attr.value
        for cid, stage in session.execute(
            select(ContactStage.contact_id, ContactStage.stage).where(ContactStage.contact_id.in_(chunk))
        ):
            stages[cid] = stage
        for cid, key in session.execute(
            select(ContactTag.contact_id, Tag.key)
            .join(Tag, Tag.id == ContactTag.tag_id)
            .where(ContactTag.contact_id.in_(chunk))
            .order_by(Tag.key)
        ):
            tags.setdefault(cid, []).append(key)
    channels = {c.id: c.key for c in session.scalars(select(Channel))}
    rows = []
    for cid in ids:
        contact = contacts.get(cid)
        if contact is None:
            continue
        mine = sorted(idents.get(cid, []), key=lambda i: -IDENTIFIER_PRIORITY.get(i.type, 0))
        named = names.get(cid, {})
        rows.append(
            {
                "id": cid,
                "identifiers": [
                    {"type": i.type, "value": mask_value(i.type, profiles.reveal(i))} for i in mine[:4]
                ],
                "more_identifiers": max(0, len(mine) - 4),
                "name": profiles.pii.scrub_value(
                    next((str(named[n]) for n in NAME_TRAITS if named.get(n) not in (None, "")), None)
                ),
                "first_channel": channels.get(contact.first_channel_id) if contact.first_channel_id else None,
                "stage": stages.get(cid),
                "tags": tags.get(cid, []),
                "created_at": contact.created_at,
            }
        )
    return rows
