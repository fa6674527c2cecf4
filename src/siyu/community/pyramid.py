"""The 1% / 9% / 90% pyramid: who carries each community.

**Activity** of a contact in a group over the 30 days up to the run = the number of its
community events in that window whose ``chat_id`` property is the group's: ``Group Message``
(a message the contact sent in the group, sent to siyu by the brand's chat-archive bridge or
bot, see docs/community.md) and ``Group Joined``. Brand-wide activity is the sum over the
contact's groups. Only current members are ranked (an open membership of an external member
resolved to a contact); brand-wide, a contact is ranked when it is a member of any group.

**Ranking**: activity, highest first; ties go to the contact whose latest counted event is
*earlier* (it reached that activity first), then to the lower contact id, so the order is
total and a re-run on the same data gives the same roles.

**Roles** over the ranked n members: the first ``ceil(n × 1%)`` are ``seed`` (种子用户), up to
``ceil(n × 10%)`` in all are ``koc``, the rest ``member`` (成员). A member without any activity
is never seed or KOC, so a quiet group has no seeds rather than arbitrary ones.

Results replace the scope's rows of ``community_roles`` (group id 0 = brand-wide). Brand-wide
roles are also kept as the tags ``社群角色/种子用户``, ``社群角色/KOC`` and ``社群角色/成员`` (an
exclusive group: a contact holds one), added and removed by difference with source ``community``;
per-group roles are read through the segment condition ``community_role`` with ``group``."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.store.changes import note_changed
from siyu.store.models import CommunityRole, CustomerGroup, Event, GroupMember, utcnow
from siyu.tags.service import TagService

WINDOW = timedelta(days=30)
ACTIVITY_EVENTS = ("Group Message", "Group Joined")
ROLES = ("seed", "koc", "member")
SEED_SHARE, KOC_SHARE = 0.01, 0.10  # cumulative: seeds are the top 1%, seeds + KOC the top 10%
TAG_GROUP = "社群角色"
ROLE_TAGS = {"seed": f"{TAG_GROUP}/种子用户", "koc": f"{TAG_GROUP}/KOC", "member": f"{TAG_GROUP}/成员"}
BRAND = 0


@dataclass(frozen=True)
class Ranked:
    contact_id: int
    score: int
    last_active_at: datetime | None
    rank: int
    role: str


def rank(activity: dict[int, tuple[int, datetime | None]]) -> list[Ranked]:
    """Contacts (id → (activity, latest counted event)) ranked and given roles (see module)."""
    far = datetime.max.replace(tzinfo=None)

    def key(item: tuple[int, tuple[int, datetime | None]]) -> tuple[int, datetime, int]:
        cid, (score, last) = item
        return (-score, last.replace(tzinfo=None) if last else far, cid)

    ordered = sorted(activity.items(), key=key)
    n = len(ordered)
    seeds, top = math.ceil(n * SEED_SHARE), math.ceil(n * KOC_SHARE)
    out = []
    for i, (cid, (score, last)) in enumerate(ordered):
        role = "member"
        if score > 0:
            role = "seed" if i < seeds else "koc" if i < top else "member"
        out.append(Ranked(cid, score, last, i + 1, role))
    return out


class PyramidService:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _members(self) -> dict[int, tuple[str, set[int]]]:
        """Open groups: group id → (chat id, contact ids of current external members)."""
        rows = self.session.execute(
            select(CustomerGroup.id, CustomerGroup.chat_id, GroupMember.contact_id)
            .join(GroupMember, GroupMember.group_id == CustomerGroup.id)
            .where(
                CustomerGroup.dismissed_at.is_(None),
                GroupMember.left_at.is_(None),
                GroupMember.member_type == 2,
                GroupMember.contact_id.is_not(None),
            )
        ).all()
        groups: dict[int, tuple[str, set[int]]] = {}
        for gid, chat_id, cid in rows:
            groups.setdefault(gid, (chat_id, set()))[1].add(cid)
        return groups

    def _activity(self, since: datetime, until: datetime) -> dict[tuple[str, int], tuple[int, datetime]]:
        """(chat id, contact) → (events, latest) in the window."""
        # counted in the database, grouped by contact and the chat_id property (JSON extraction
        # on SQLite and PostgreSQL): one row per member and group, not one per message
        chat = Event.properties["chat_id"].as_string()
        rows = self.session.execute(
            select(Event.contact_id, chat, func.count(), func.max(Event.timestamp))
            .where(
                Event.event.in_(ACTIVITY_EVENTS),
                Event.timestamp >= since,
                Event.timestamp <= until,
                chat.is_not(None),
            )
            .group_by(Event.contact_id, chat)
        )
        return {(str(chat_id), cid): (int(n), last) for cid, chat_id, n, last in rows if chat_id}

    def run(self, as_of: datetime | None = None) -> dict[str, Any]:
        """Recompute every pyramid (each group and brand-wide) and the brand-wide role tags."""
        until = as_of or utcnow()
        activity = self._activity(until - WINDOW, until)
        groups = self._members()
        brand: dict[int, tuple[int, datetime | None]] = {}
        result: dict[str, Any] = {"groups": 0, "ranked": 0, "roles": dict.fromkeys(ROLES, 0)}
        for gid, (chat_id, contacts) in sorted(groups.items()):
            scope: dict[int, tuple[int, datetime | None]] = {}
            for cid in contacts:
                n, last = activity.get((chat_id, cid), (0, None))
                scope[cid] = (n, last)
                total, latest = brand.get(cid, (0, None))
                brand[cid] = (total + n, max(d for d in (latest, last) if d) if (latest or last) else None)
            self._store(gid, rank(scope), until)
            result["groups"] += 1
        ranked = rank(brand)
        changed = self._store(BRAND, ranked, until)
        for r in ranked:
            result["roles"][r.role] += 1
        result["ranked"] = len(ranked)
        result["tags"] = self._tags(ranked)
        note_changed(self.session, changed)
        return result

    def _store(self, group_id: int, ranked: list[Ranked], at: datetime) -> set[int]:
        """Replace the scope's rows; returns the contacts whose role there changed."""
        before = dict(
            self.session.execute(
                select(CommunityRole.contact_id, CommunityRole.role).where(CommunityRole.group_id == group_id)
            ).all()
        )
        self.session.execute(delete(CommunityRole).where(CommunityRole.group_id == group_id))
        if ranked:
            self.session.execute(
                insert(CommunityRole),
                [
                    {
                        "group_id": group_id,
                        "contact_id": r.contact_id,
                        "role": r.role,
                        "rank": r.rank,
                        "score": r.score,
                        "last_active_at": r.last_active_at,
                        "computed_at": at,
                    }
                    for r in ranked
                ],
            )
        after = {r.contact_id: r.role for r in ranked}
        return {c for c in set(before) | set(after) if before.get(c) != after.get(c)}

    def _tags(self, ranked: list[Ranked]) -> dict[str, int]:
        tags = TagService(self.session)
        if tags.repo.group(TAG_GROUP) is None:
            tags.create_group({"name": TAG_GROUP, "exclusive": True, "description": "1% / 9% / 90%"})
        wanted: dict[str, set[int]] = defaultdict(set)
        for r in ranked:
            wanted[r.role].add(r.contact_id)
        moved = 0
        for role, key in ROLE_TAGS.items():
            tag = tags.tag(key, create=True)
            holders = set(tags.repo.holders(tag.id))
            gone = sorted(holders - wanted[role])
            if gone:
                moved += tags.remove(key, gone, source="community").removed
        for role, key in ROLE_TAGS.items():
            tag = tags.tag(key)
            new = sorted(wanted[role] - set(tags.repo.holders(tag.id)))
            if new:
                moved += tags.apply(key, new, source="community").added
        return {"changed": moved}

    # --- reading -----------------------------------------------------------------------------
    def roles(self, chat_id: str | None = None) -> list[dict[str, Any]]:
        """Rows of one group's pyramid (``chat_id``) or of the brand-wide one, by rank."""
        stmt = select(CommunityRole).order_by(CommunityRole.rank)
        if chat_id:
            gid = self.session.scalar(select(CustomerGroup.id).where(CustomerGroup.chat_id == chat_id))
            if gid is None:
                from siyu.community.wecom import CommunityNotFound

                raise CommunityNotFound(f"chat_id: no customer group {chat_id!r}")
            stmt = stmt.where(CommunityRole.group_id == gid)
        else:
            stmt = stmt.where(CommunityRole.group_id == BRAND)
        return [
            {
                "contact_id": r.contact_id,
                "role": r.role,
                "rank": r.rank,
                "score": r.score,
                "last_active_at": r.last_active_at,
            }
            for r in self.session.scalars(stmt)
        ]

    def everyone(self) -> dict[str, Any]:
        """Each contact's role brand-wide and per group (``siyu community pyramid --json``)."""
        chats = dict(self.session.execute(select(CustomerGroup.id, CustomerGroup.chat_id)).all())
        contacts: dict[int, dict[str, Any]] = {}
        for r in self.session.scalars(
            select(CommunityRole).order_by(CommunityRole.group_id, CommunityRole.rank)
        ):
            entry = contacts.setdefault(
                r.contact_id, {"contact_id": r.contact_id, "brand": None, "groups": {}}
            )
            if r.group_id == BRAND:
                entry["brand"] = {"role": r.role, "rank": r.rank, "score": r.score}
            elif r.group_id in chats:
                entry["groups"][chats[r.group_id]] = {"role": r.role, "rank": r.rank, "score": r.score}
        summary = dict.fromkeys(ROLES, 0)
        for entry in contacts.values():
            if entry["brand"]:
                summary[entry["brand"]["role"]] += 1
        return {"summary": summary, "contacts": sorted(contacts.values(), key=lambda e: e["contact_id"])}
