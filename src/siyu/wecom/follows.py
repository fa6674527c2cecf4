"""The customer–staff relation (企微好友): one ``contact_follows`` row per (provider, staff,
external contact), written from ``follow_user`` / ``follow_info`` items (externalcontact/get,
batch/get_by_user) and from the add/delete callbacks.

Upserts by the natural key, so a repeated callback or a re-sync updates rather than duplicates.
A follow that was deleted and is added again (the customer re-adds the staff member) is
reopened: ``deleted_at``/``deleted_by`` are cleared and ``added_at`` moves to the new add."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.store.models import ContactFollow


class FollowError(ValueError):
    """A follow item without the fields that identify it."""


def _time(value: Any) -> datetime | None:
    if value in (None, "", 0, "0"):
        return None
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise FollowError(f"follow_user.createtime: not a unix time: {value!r}") from exc


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def corp_tag_ids(follow_user: dict[str, Any]) -> list[str]:
    """Corp tag ids from ``tags`` (externalcontact/get: dicts with ``tag_id`` and ``type`` 1 =
    corp tag) or ``tag_id`` (batch/get_by_user's ``follow_info``: plain ids)."""
    ids: list[str] = []
    for tag in follow_user.get("tags") or []:
        if isinstance(tag, dict) and tag.get("tag_id") and int(tag.get("type", 1) or 1) == 1:
            ids.append(str(tag["tag_id"]))
    for tag_id in follow_user.get("tag_id") or []:
        ids.append(str(tag_id))
    return sorted(set(ids))


def find_follow(
    session: Session, provider_key: str, staff_userid: str, external_userid: str
) -> ContactFollow | None:
    return session.scalar(
        select(ContactFollow).where(
            ContactFollow.provider_key == provider_key,
            ContactFollow.staff_userid == staff_userid,
            ContactFollow.external_userid == external_userid,
        )
    )


def upsert_follow(
    session: Session,
    contact_id: int,
    provider_key: str,
    follow_user: dict[str, Any],
    external_userid: str | None = None,
) -> ContactFollow:
    """Insert or update the follow for ``follow_user`` (WeCom's item: ``userid``, ``remark``,
    ``description``, ``createtime``, ``tags``/``tag_id``, ``state``, ``add_way``,
    ``oper_userid``). ``external_userid`` defaults to the item's own (batch/get_by_user puts it
    on the item; externalcontact/get puts it on the contact, so pass it then)."""
    staff = follow_user.get("userid")
    ext = external_userid or follow_user.get("external_userid")
    if not staff:
        raise FollowError("follow_user.userid is missing")
    if not ext:
        raise FollowError("follow_user: external_userid is missing")
    follow = find_follow(session, provider_key, str(staff), str(ext))
    added_at = _time(follow_user.get("createtime"))
    if follow is None:
        follow = ContactFollow(
            contact_id=contact_id,
            provider_key=provider_key,
            staff_userid=str(staff),
            external_userid=str(ext),
        )
        session.add(follow)
    else:
        follow.contact_id = contact_id
        if follow.deleted_at is not None and (added_at is None or added_at > follow.deleted_at):
            follow.deleted_at = None  # added again after a deletion
            follow.deleted_by = None
    if added_at is not None:
        follow.added_at = added_at
    for name in ("remark", "description", "oper_userid"):
        if name in follow_user:
            setattr(follow, name, (str(follow_user[name]) or None) if follow_user[name] is not None else None)
    if follow_user.get("state"):
        follow.state = str(follow_user["state"])[:64]
    if "add_way" in follow_user:
        follow.add_way = _int(follow_user["add_way"])
    if "tags" in follow_user or "tag_id" in follow_user:
        follow.corp_tags = corp_tag_ids(follow_user)
    session.flush()
    return follow


def mark_deleted(
    session: Session, provider_key: str, staff_userid: str, external_userid: str, by: str, at: datetime
) -> ContactFollow | None:
    """Close the follow: ``by`` is ``staff`` (del_external_contact) or ``customer``
    (del_follow_user, 流失). Returns None when siyu never knew the relation."""
    follow = find_follow(session, provider_key, staff_userid, external_userid)
    if follow is None:
        return None
    if follow.deleted_at is None:
        follow.deleted_at = at
        follow.deleted_by = by
    return follow


def follows_of(session: Session, contact_id: int) -> list[ContactFollow]:
    return list(
        session.scalars(
            select(ContactFollow).where(ContactFollow.contact_id == contact_id).order_by(ContactFollow.id)
        )
    )
