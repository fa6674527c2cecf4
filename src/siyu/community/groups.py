"""Customer groups (客户群): sync from ``groupchat/list`` + ``groupchat/get`` and reconciliation.

Reconciliation is the one way membership changes. A callback only says "look at this group";
the member list comes from ``groupchat/get`` and is diffed against the open memberships we hold.
So a lost callback is repaired by the next one (or by the next sync), a reordered pair of
callbacks ends in WeCom's current state, and a repeated callback finds nothing to change.

``Group Joined`` / ``Group Left`` carry message ids built from the member's WeCom ``join_time``
(``group.joined:{group}:{member}:{join_time}``), so each real join and each real departure
is emitted once even when two reconciliations race; a member who leaves and comes back has a
new join_time and so a new pair of events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.wecom_api import WeComApi, WeComError
from siyu.community.wecom import EC, CommunityError, api_for, resolve_member
from siyu.context import AppContext
from siyu.store.changes import emit_events, note_changed
from siyu.store.models import CustomerGroup, GroupMember, WeComStaff, utcnow

JOINED, LEFT = "Group Joined", "Group Left"
LIST_LIMIT = 1000  # groupchat/list: limit 1..1000
OWNER_FILTER_MAX = 100  # owner_filter.userid_list ≤ 100
TOO_MANY_OWNERS = 81017
CHAT_NOT_FOUND = {40050, 49004}


@dataclass
class ReconcileResult:
    chat_id: str
    joined: list[int] = field(default_factory=list)  # contact ids
    left: list[int] = field(default_factory=list)
    unchanged: bool = False
    dismissed: bool = False


@dataclass
class SyncResult:
    groups: int = 0
    dismissed: int = 0
    joined: int = 0
    left: int = 0
    by_owner: bool = False

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _ts(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC) if value not in (None, "", 0, "0") else None
    except (TypeError, ValueError):
        return None


class GroupSync:
    """Reads WeCom, writes ``customer_groups`` / ``group_members``; never commits."""

    def __init__(
        self, session: Session, ctx: AppContext, provider_key: str, api: WeComApi | None = None
    ) -> None:
        self.session, self.ctx, self.provider = session, ctx, provider_key
        self.api = api or api_for(session, ctx, provider_key)

    def group(self, chat_id: str) -> CustomerGroup | None:
        return self.session.scalar(
            select(CustomerGroup).where(
                CustomerGroup.provider_key == self.provider, CustomerGroup.chat_id == chat_id
            )
        )

    # --- one group --------------------------------------------------------------------------
    def reconcile(
        self, chat_id: str, quits: dict[str, int] | None = None, cur_version: str | None = None
    ) -> ReconcileResult:
        """Bring one group to WeCom's current state. ``cur_version`` (a callback's CurMemVer)
        lets an event whose change is already applied skip the call; ``quits`` (member → WeCom's
        QuitScene, from a del_member callback) says how those members left, which the API does
        not: recorded on their membership even when an earlier reconciliation closed it."""
        result = ReconcileResult(chat_id)
        quits = quits or {}
        group = self.group(chat_id)
        if group is not None and quits:
            self._backfill_quits(group, quits)
        if group is not None and cur_version and group.member_version == cur_version:
            result.unchanged = True
            return result
        try:
            data = self.api.call("POST", f"{EC}/groupchat/get", {"chat_id": chat_id, "need_name": 1})
        except WeComError as exc:
            if exc.errcode in CHAT_NOT_FOUND:
                if group is not None:
                    self.dismiss(group, result)
                return result
            raise
        chat = data.get("group_chat") or {}
        now = utcnow()
        if group is None:
            group = CustomerGroup(provider_key=self.provider, chat_id=chat_id)
            self.session.add(group)
        group.name = str(chat.get("name") or "")[:200]
        group.owner_userid = chat.get("owner")
        group.notice = (chat.get("notice") or None) and str(chat["notice"])[:2000]
        group.created_at = _ts(chat.get("create_time"))
        group.dismissed_at = None
        group.synced_at = now
        self.session.flush()
        members = {str(m["userid"]): m for m in chat.get("member_list") or [] if m.get("userid")}
        if group.member_version == chat.get("member_version") and group.member_count == len(members):
            result.unchanged = True
            return result
        rows = {
            r.member_id: r
            for r in self.session.scalars(select(GroupMember).where(GroupMember.group_id == group.id))
        }
        joined: list[tuple[str, int, dict[str, Any]]] = []
        for member_id, m in members.items():
            row = rows.get(member_id)
            join_time = _ts(m.get("join_time")) or now
            if row is not None and row.left_at is None:
                continue
            if row is None:
                row = GroupMember(group_id=group.id, member_id=member_id)
                self.session.add(row)
            row.member_type = int(m.get("type") or 2)
            row.unionid = m.get("unionid") or row.unionid
            row.nickname = m.get("group_nickname") or m.get("name") or row.nickname or None
            row.joined_at, row.left_at, row.quit_scene = join_time, None, None
            row.join_scene = m.get("join_scene")
            row.inviter_userid = (m.get("invitor") or {}).get("userid")
            row.state = m.get("state") or None
            if row.member_type == 2:
                found = resolve_member(self.session, self.ctx, self.provider, member_id, row.unionid)
                row.contact_id = found or row.contact_id
            if row.contact_id is not None and row.member_type == 2:
                props = {
                    "provider": self.provider,
                    "chat_id": chat_id,
                    "group": group.name,
                    "join_scene": row.join_scene,
                    "inviter": row.inviter_userid,
                    "state": row.state,
                }
                mid = f"group.joined:{group.id}:{member_id}:{int(join_time.timestamp())}"
                joined.append((mid[:128], row.contact_id, props))
                result.joined.append(row.contact_id)
        left: list[tuple[str, int, dict[str, Any]]] = []
        for member_id, row in rows.items():
            if row.left_at is None and member_id not in members:
                row.left_at, row.quit_scene = now, quits.get(member_id)
                if row.contact_id is not None and row.member_type == 2:
                    left.append(self._left_event(group, row))
                    result.left.append(row.contact_id)
        group.member_version = chat.get("member_version")
        group.member_count = len(members)
        self._emit(joined, left, result)
        return result

    def _backfill_quits(self, group: CustomerGroup, quits: dict[str, int]) -> None:
        for row in self.session.scalars(
            select(GroupMember).where(
                GroupMember.group_id == group.id,
                GroupMember.member_id.in_(sorted(quits)),
                GroupMember.left_at.is_not(None),
                GroupMember.quit_scene.is_(None),
            )
        ):
            row.quit_scene = quits[row.member_id]

    def dismiss(self, group: CustomerGroup, result: ReconcileResult | None = None) -> ReconcileResult:
        """The group is gone (dismissed, or no longer visible): every open membership ends."""
        result = result or ReconcileResult(group.chat_id)
        result.dismissed = True
        if group.dismissed_at is None:
            group.dismissed_at = utcnow()
        left = []
        for row in self.session.scalars(
            select(GroupMember).where(GroupMember.group_id == group.id, GroupMember.left_at.is_(None))
        ):
            row.left_at = group.dismissed_at
            if row.contact_id is not None and row.member_type == 2:
                left.append(self._left_event(group, row))
                result.left.append(row.contact_id)
        group.member_count = 0
        self._emit([], left, result)
        return result

    def _left_event(self, group: CustomerGroup, row: GroupMember) -> tuple[str, int, dict[str, Any]]:
        joined = int(row.joined_at.timestamp()) if row.joined_at else 0
        props = {
            "provider": self.provider,
            "chat_id": group.chat_id,
            "group": group.name,
            "quit_scene": row.quit_scene,
        }
        assert row.contact_id is not None
        return (f"group.left:{group.id}:{row.member_id}:{joined}"[:128], row.contact_id, props)

    def _emit(self, joined: list[Any], left: list[Any], result: ReconcileResult) -> None:
        self.session.flush()
        if joined:
            emit_events(self.session, JOINED, joined)
        if left:
            emit_events(self.session, LEFT, left)
        if result.joined or result.left:
            note_changed(self.session, [*result.joined, *result.left])

    # --- every group ------------------------------------------------------------------------
    def chat_ids(self) -> tuple[list[str], bool]:
        """Every visible chat id, and whether the list had to be read owner by owner (81017)."""
        try:
            rows = self.api.pages(
                f"{EC}/groupchat/list", {"status_filter": 0, "limit": LIST_LIMIT}, "group_chat_list"
            )
            return [str(r["chat_id"]) for r in rows], False
        except WeComError as exc:
            if exc.errcode != TOO_MANY_OWNERS:
                raise
        owners = list(
            self.session.scalars(
                select(WeComStaff.userid)
                .where(WeComStaff.provider_key == self.provider)
                .order_by(WeComStaff.userid)
            )
        )
        if not owners:
            raise CommunityError(
                "owners: WeCom has over 1,000 group owners and needs them named (81017); sync the staff first"
            )
        ids: list[str] = []
        for i in range(0, len(owners), OWNER_FILTER_MAX):
            body = {
                "status_filter": 0,
                "limit": LIST_LIMIT,
                "owner_filter": {"userid_list": owners[i : i + OWNER_FILTER_MAX]},
            }
            ids.extend(
                str(r["chat_id"]) for r in self.api.pages(f"{EC}/groupchat/list", body, "group_chat_list")
            )
        return list(dict.fromkeys(ids)), True

    def sync(self) -> SyncResult:
        result = SyncResult()
        ids, result.by_owner = self.chat_ids()
        for chat_id in ids:
            r = self.reconcile(chat_id)
            result.groups += 1
            result.joined += len(r.joined)
            result.left += len(r.left)
        seen = set(ids)
        for group in self.session.scalars(
            select(CustomerGroup).where(
                CustomerGroup.provider_key == self.provider, CustomerGroup.dismissed_at.is_(None)
            )
        ).all():
            if group.chat_id not in seen:
                # not listed: dismissed — or, listed owner by owner, owned by someone the staff
                # table does not know yet. groupchat/get tells which (40050 → dismissed).
                r = self.reconcile(group.chat_id)
                result.left += len(r.left)
                result.dismissed += int(r.dismissed)
        return result
