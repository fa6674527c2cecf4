"""WeCom corp tags (企业标签) ↔ siyu tags.

A corp tag lives in a tag group; siyu's tag key is ``group/name``. So corp tag "春季活动" in
group "渠道" is siyu's ``渠道/春季活动`` (a ``/`` inside a WeCom name becomes a full-width
``／``, which siyu keys allow). The mapping is stored (``wecom_corp_tags``) because WeCom
identifies tags by id and names can change: a renamed corp tag keeps its siyu tag.

* Full sync: ``get_corp_tag_list`` with no filter; tags WeCom no longer lists are marked
  deleted (their siyu tags stay: contacts keep what they were tagged with).
* Incremental: ``change_external_tag`` (create/update re-read that tag or group; delete marks
  it; shuffle, a reorder, re-reads everything).
* Outward: an entry code's siyu tag without a corp tag gets one through ``add_corp_tag``
  (group = the key's group, or ``siyu`` for a key without one) before ``mark_tag``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.wecom_api import WeComApi
from siyu.store.models import Tag, WeComCorpTag, utcnow
from siyu.tags.schemas import split_key
from siyu.tags.service import TagService
from siyu.wecom.client import wecom_api

if TYPE_CHECKING:
    from siyu.context import AppContext

DEFAULT_GROUP = "siyu"
LIST_PATH = "/cgi-bin/externalcontact/get_corp_tag_list"
ADD_PATH = "/cgi-bin/externalcontact/add_corp_tag"


@dataclass
class SyncResult:
    groups: int = 0
    tags: int = 0
    created: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"groups": self.groups, "tags": self.tags, "created": self.created, "deleted": self.deleted}


def siyu_key(group_name: str, name: str) -> str:
    clean = [(part or "").strip().replace("/", "／")[:100] for part in (group_name, name)]
    return f"{clean[0]}/{clean[1]}" if clean[0] else clean[1]


def _mapped(session: Session, provider_key: str) -> dict[str, WeComCorpTag]:
    rows = session.scalars(select(WeComCorpTag).where(WeComCorpTag.provider_key == provider_key))
    return {r.tag_id: r for r in rows}


def _upsert_groups(
    session: Session, provider_key: str, groups: Iterable[dict[str, Any]], result: SyncResult
) -> set[str]:
    """Store the groups' tags and their siyu tags; returns the tag ids seen."""
    known = _mapped(session, provider_key)
    tags = TagService(session)
    seen: set[str] = set()
    now = utcnow()
    for group in groups:
        result.groups += 1
        for item in group.get("tag") or []:
            tag_id = str(item.get("id") or "")
            if not tag_id:
                continue
            seen.add(tag_id)
            result.tags += 1
            row = known.get(tag_id)
            if row is None:
                row = WeComCorpTag(provider_key=provider_key, tag_id=tag_id)
                session.add(row)
                known[tag_id] = row
                result.created += 1
            row.group_id = str(group.get("group_id") or "")
            row.group_name = str(group.get("group_name") or "")[:100]
            row.name = str(item.get("name") or "")[:100]
            row.synced_at = now
            row.deleted_at = now if item.get("deleted") or group.get("deleted") else None
            if row.siyu_tag_id is None and row.name:
                row.siyu_tag_id = tags.tag(siyu_key(row.group_name, row.name), create=True).id
    session.flush()
    return seen


def sync(session: Session, api: WeComApi, provider_key: str) -> SyncResult:
    """Full sync from ``get_corp_tag_list``."""
    data = api.call("POST", LIST_PATH, {})
    result = SyncResult()
    seen = _upsert_groups(session, provider_key, data.get("tag_group") or [], result)
    now = utcnow()
    for tag_id, row in _mapped(session, provider_key).items():
        if tag_id not in seen and row.deleted_at is None:
            row.deleted_at = now
            result.deleted += 1
    session.flush()
    return result


def sync_provider(session: Session, ctx: AppContext, provider_key: str) -> SyncResult:
    return sync(session, wecom_api(session, ctx, provider_key), provider_key)


def handle_change_external_tag(
    session: Session, ctx: AppContext, provider_key: str, event: dict[str, Any]
) -> None:
    """``change_external_tag``: ``Id``, ``TagType`` (tag / tag_group), ``ChangeType``."""
    api = wecom_api(session, ctx, provider_key)
    change = str(event.get("ChangeType") or "")
    tag_type = str(event.get("TagType") or "tag")
    ident = str(event.get("Id") or "")
    if change == "shuffle" or not ident:
        sync(session, api, provider_key)
        return
    if change == "delete":
        now = utcnow()
        column = WeComCorpTag.group_id if tag_type == "tag_group" else WeComCorpTag.tag_id
        for row in session.scalars(
            select(WeComCorpTag).where(WeComCorpTag.provider_key == provider_key, column == ident)
        ):
            row.deleted_at = row.deleted_at or now
        return
    body = {"group_id": [ident]} if tag_type == "tag_group" else {"tag_id": [ident]}
    data = api.call("POST", LIST_PATH, body)
    _upsert_groups(session, provider_key, data.get("tag_group") or [], SyncResult())


def corp_tag_ids_for(session: Session, api: WeComApi, provider_key: str, keys: list[str]) -> list[str]:
    """WeCom tag ids for siyu tag keys, creating corp tags (``add_corp_tag``) that are missing."""
    tags = TagService(session)
    wanted = {key: tags.tag(key, create=True).id for key in keys}
    rows = session.scalars(
        select(WeComCorpTag).where(
            WeComCorpTag.provider_key == provider_key,
            WeComCorpTag.siyu_tag_id.in_(list(wanted.values())),
            WeComCorpTag.deleted_at.is_(None),
        )
    )
    by_tag = {r.siyu_tag_id: r.tag_id for r in rows}
    out: list[str] = []
    for key, siyu_tag_id in wanted.items():
        if siyu_tag_id in by_tag:
            out.append(by_tag[siyu_tag_id])
            continue
        group, name = split_key(key)
        data = api.call(
            "POST", ADD_PATH, {"group_name": group or DEFAULT_GROUP, "tag": [{"name": name}]}, creates=True
        )
        group_data = data.get("tag_group") or {}
        created = next((t for t in group_data.get("tag") or [] if t.get("name") == name), None)
        if created is None:
            raise ValueError(f"add_corp_tag answered without the tag {name!r}")
        session.add(
            WeComCorpTag(
                provider_key=provider_key,
                tag_id=str(created["id"]),
                group_id=str(group_data.get("group_id") or ""),
                group_name=str(group_data.get("group_name") or group or DEFAULT_GROUP)[:100],
                name=name,
                siyu_tag_id=siyu_tag_id,
                synced_at=utcnow(),
            )
        )
        session.flush()
        out.append(str(created["id"]))
    return out


def siyu_tags_for(session: Session, provider_key: str, tag_ids: Iterable[str]) -> list[str]:
    """siyu tag keys of WeCom corp tag ids (unknown ids are left out)."""
    ids = sorted(set(tag_ids))
    if not ids:
        return []
    rows = session.execute(
        select(Tag.key)
        .join(WeComCorpTag, WeComCorpTag.siyu_tag_id == Tag.id)
        .where(WeComCorpTag.provider_key == provider_key, WeComCorpTag.tag_id.in_(ids))
    )
    return sorted(k for (k,) in rows)


def mappings(session: Session, provider_key: str | None = None) -> list[dict[str, Any]]:
    stmt = (
        select(WeComCorpTag, Tag.key)
        .outerjoin(Tag, Tag.id == WeComCorpTag.siyu_tag_id)
        .order_by(WeComCorpTag.id)
    )
    if provider_key:
        stmt = stmt.where(WeComCorpTag.provider_key == provider_key)
    return [
        {
            "provider": row.provider_key,
            "tag_id": row.tag_id,
            "group": row.group_name,
            "name": row.name,
            "siyu_tag": key,
            "deleted": row.deleted_at is not None,
        }
        for row, key in session.execute(stmt)
    ]
