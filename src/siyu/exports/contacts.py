"""Contact lists as files: the contacts page (filtered or picked rows), a segment's members and
the contacts waiting at a journey step all export through :func:`export_contacts`.

Phones and emails are masked (``138****5678``) unless the caller holds ``pii.export`` and asks
for clear values; either way the export is audited with what was exported, how many rows, the
format and whether it was masked (``contacts.exported``, or ``pii.exported`` in clear) — never
with a value from the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.exports.tabular import Column, ExportFile, encode, localise
from siyu.exports.times import local_text
from siyu.profiles.pii import mask_value
from siyu.profiles.search import NAME_TRAITS
from siyu.profiles.service import ProfileService
from siyu.store.dialect import chunked
from siyu.store.models import Channel, ContactAttribute, ContactStage, ContactTag, Tag

HEADERS: dict[str, dict[str, str]] = {
    "id": {"zh": "客户ID", "en": "Contact ID"},
    "name": {"zh": "姓名", "en": "Name"},
    "phone": {"zh": "手机号", "en": "Phone"},
    "email": {"zh": "邮箱", "en": "Email"},
    "customer_no": {"zh": "会员号", "en": "Customer no."},
    "first_channel": {"zh": "首触渠道", "en": "First channel"},
    "stage": {"zh": "阶段", "en": "Stage"},
    "tags": {"zh": "标签", "en": "Tags"},
    "created_at": {"zh": "创建时间", "en": "Created"},
}
COLUMNS = tuple(HEADERS)
STAGE_NAMES: dict[str, dict[str, str]] = {
    "acquisition": {"zh": "获客", "en": "Acquisition"},
    "retention": {"zh": "留存", "en": "Retention"},
    "conversion": {"zh": "转化", "en": "Conversion"},
    "repurchase": {"zh": "复购", "en": "Repurchase"},
    "advocacy": {"zh": "推荐", "en": "Advocacy"},
    "dormant": {"zh": "沉睡", "en": "Dormant"},
    "churned": {"zh": "流失", "en": "Churned"},
}
_BATCH = 2000


def contact_records(
    session: Session,
    profiles: ProfileService,
    ids: Sequence[int],
    reveal: bool = False,
    lang: str = "zh",
    zone: str = "Asia/Shanghai",
) -> Iterator[dict[str, Any]]:
    """One plain row per contact id (in the given order; unknown ids are skipped), batch by batch."""
    channels = {c.id: c.key for c in session.scalars(select(Channel))}
    for start in range(0, len(ids), _BATCH):
        batch = list(ids[start : start + _BATCH])
        contacts = profiles.repo.contacts(batch)
        idents: dict[int, dict[str, list[str]]] = {}
        for ident in profiles.repo.identities_of(batch):
            value = profiles.reveal(ident)
            shown = value if reveal else mask_value(ident.type, value)
            idents.setdefault(ident.contact_id, {}).setdefault(ident.type, []).append(shown)
        names: dict[int, dict[str, Any]] = {}
        stages: dict[int, str] = {}
        tags: dict[int, list[str]] = {}
        for chunk in chunked(sorted(set(batch))):
            for cid, name, value in session.execute(
                select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
                    ContactAttribute.contact_id.in_(chunk), ContactAttribute.name.in_(NAME_TRAITS)
                )
            ):
                names.setdefault(cid, {})[name] = value
            stages.update(
                session.execute(
                    select(ContactStage.contact_id, ContactStage.stage).where(
                        ContactStage.contact_id.in_(chunk)
                    )
                ).all()  # type: ignore[arg-type]
            )
            for cid, key in session.execute(
                select(ContactTag.contact_id, Tag.key)
                .join(Tag, Tag.id == ContactTag.tag_id)
                .where(ContactTag.contact_id.in_(chunk))
                .order_by(Tag.key)
            ):
                tags.setdefault(cid, []).append(key)
        for cid in batch:
            contact = contacts.get(cid)
            if contact is None:
                continue
            mine = idents.get(cid, {})
            named = names.get(cid, {})
            name = next((str(named[n]) for n in NAME_TRAITS if named.get(n) not in (None, "")), "")
            stage = stages.get(cid)
            yield {
                "id": cid,
                "name": name if reveal else profiles.pii.scrub_value(name),
                "phone": mine.get("phone", []),
                "email": mine.get("email", []),
                "customer_no": mine.get("customer_no", []),
                "first_channel": channels.get(contact.first_channel_id or 0, ""),
                "stage": STAGE_NAMES.get(stage, {}).get(lang, stage) if stage else "",
                "tags": tags.get(cid, []),
                "created_at": local_text(contact.created_at, zone),
            }


def export_contacts(
    session: Session,
    profiles: ProfileService,
    ids: Sequence[int],
    fmt: str,
    *,
    actor: str,
    what: str,
    reveal: bool = False,
    lang: str = "zh",
    zone: str = "Asia/Shanghai",
    sheet: str = "Contacts",
) -> ExportFile:
    """The contacts ``ids`` as a CSV (with BOM) or XLSX file, audited. ``what`` says which list
    it was (``contacts``, ``segment:vip``, ``journey:welcome/step:day1``) for the audit log.
    The caller decides ``reveal`` from the principal's ``pii.export``."""
    columns: list[Column] = localise(HEADERS, COLUMNS, lang)
    rows = contact_records(session, profiles, ids, reveal=reveal, lang=lang, zone=zone)
    file = encode(rows, columns, fmt, sheet=sheet)
    audit.record(
        session,
        actor,
        "pii.exported" if reveal else "contacts.exported",
        "contacts",
        None,
        {"list": what, "rows": file.rows, "format": file.suffix, "masked": not reveal},
    )
    return file
