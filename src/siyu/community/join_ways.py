"""Group live codes (群活码): ``groupchat/add_join_way`` and friends, the swap job, joins per code.

A WeCom join way lists at most 5 groups and admits a scan to one of them with room; a group
holds at most 500. The swap job keeps a code usable for ever: every group of a code whose
member count (as last reconciled) reached the code's ``swap_threshold`` (default 480, leaving
room for members who are joining while we look) leaves the code's list through
``update_join_way``, and the history row of that period is closed with reason ``full``. When
every listed group is full, the code keeps its fullest group only if it has nothing else to
list: WeCom refuses an empty list, and with ``auto_create_room`` WeCom then opens a new group
itself, which the next sync or ``change_external_chat`` create event brings in — the job then
adds that new group to the code (a group whose name starts with ``room_base_name`` and owned by
the owner of the code's groups).

Joins per code are the memberships whose ``state`` is the code's state (WeCom reports the
state a member came through in ``groupchat/get``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.audit import service as audit
from siyu.channels.wecom_api import WeComApi
from siyu.community.wecom import EC, CommunityError, CommunityNotFound, api_for
from siyu.context import AppContext
from siyu.store.models import CustomerGroup, GroupJoinWay, GroupJoinWayChange, GroupMember, utcnow

MAX_CHATS = 5
MAX_STATE = 30
MAX_REMARK = 30
MAX_ROOM_NAME = 40
GROUP_LIMIT = 500
JW = f"{EC}/groupchat"


def _check(
    name: str,
    state: str,
    chat_ids: list[str],
    auto_create_room: bool,
    room_base_name: str | None,
    threshold: int,
) -> None:
    if not name.strip():
        raise CommunityError("name: required")
    if not state or len(state) > MAX_STATE:
        raise CommunityError(f"state: 1 to {MAX_STATE} characters (WeCom's limit), got {len(state)}")
    if not 1 <= len(chat_ids) <= MAX_CHATS:
        raise CommunityError(f"chat_ids: a live code lists 1 to {MAX_CHATS} groups, got {len(chat_ids)}")
    if len(set(chat_ids)) != len(chat_ids):
        raise CommunityError("chat_ids: a group is listed twice")
    if auto_create_room and not (room_base_name or "").strip():
        raise CommunityError("room_base_name: required when WeCom may create new groups (auto_create_room)")
    if room_base_name and len(room_base_name) > MAX_ROOM_NAME:
        raise CommunityError(f"room_base_name: at most {MAX_ROOM_NAME} characters")
    if not 1 <= threshold <= GROUP_LIMIT:
        raise CommunityError(f"swap_threshold: 1 to {GROUP_LIMIT} members")


class JoinWayService:
    def __init__(self, session: Session, ctx: AppContext, api: WeComApi | None = None) -> None:
        self.session, self.ctx = session, ctx
        self._api = api

    def api(self, provider_key: str) -> WeComApi:
        return self._api or api_for(self.session, self.ctx, provider_key)

    def get(self, state: str) -> GroupJoinWay:
        row = self.session.scalar(
            select(GroupJoinWay).where(GroupJoinWay.state == state, GroupJoinWay.deleted_at.is_(None))
        )
        if row is None:
            raise CommunityNotFound(f"state: no group live code {state!r}")
        return row

    def create(
        self,
        provider_key: str,
        name: str,
        state: str,
        chat_ids: list[str],
        auto_create_room: bool = True,
        room_base_name: str | None = None,
        room_base_id: int | None = None,
        swap_threshold: int = 480,
        actor: str = "system",
    ) -> GroupJoinWay:
        _check(name, state, chat_ids, auto_create_room, room_base_name, swap_threshold)
        if self.session.scalar(select(GroupJoinWay.id).where(GroupJoinWay.state == state)):
            raise CommunityError(f"state: {state!r} is already used by another live code")
        body: dict[str, Any] = {
            "scene": 2,
            "remark": name[:MAX_REMARK],
            "auto_create_room": int(auto_create_room),
            "chat_id_list": chat_ids,
            "state": state,
        }
        if room_base_name:
            body["room_base_name"] = room_base_name
        if room_base_id is not None:
            body["room_base_id"] = room_base_id
        api = self.api(provider_key)
        config_id = str(api.call("POST", f"{JW}/add_join_way", body, creates=True)["config_id"])
        qr = api.call("POST", f"{JW}/get_join_way", {"config_id": config_id}).get("join_way") or {}
        row = GroupJoinWay(
            provider_key=provider_key,
            config_id=config_id,
            name=name,
            state=state,
            auto_create_room=int(auto_create_room),
            room_base_name=room_base_name,
            room_base_id=room_base_id,
            chat_ids=list(chat_ids),
            swap_threshold=swap_threshold,
            qr_code=qr.get("qr_code"),
        )
        self.session.add(row)
        self.session.flush()
        now = utcnow()
        self.session.add_all(
            [GroupJoinWayChange(join_way_id=row.id, chat_id=c, added_at=now) for c in chat_ids]
        )
        audit.record(
            self.session, actor, "group_join_way.created", "group_join_way", row.id, {"state": state}
        )
        return row

    def set_chats(self, row: GroupJoinWay, chat_ids: list[str], reason: str = "operator") -> None:
        """Replace the code's groups (``update_join_way`` replaces the whole list) and record the
        periods that end and begin."""
        _check(
            row.name, row.state, chat_ids, bool(row.auto_create_room), row.room_base_name, row.swap_threshold
        )
        body: dict[str, Any] = {
            "config_id": row.config_id,
            "scene": row.scene,
            "remark": row.name[:MAX_REMARK],
            "auto_create_room": row.auto_create_room,
            "chat_id_list": chat_ids,
            "state": row.state,
        }
        if row.room_base_name:
            body["room_base_name"] = row.room_base_name
        if row.room_base_id is not None:
            body["room_base_id"] = row.room_base_id
        self.api(row.provider_key).call("POST", f"{JW}/update_join_way", body)
        now = utcnow()
        old, new = set(row.chat_ids or []), set(chat_ids)
        for change in self.session.scalars(
            select(GroupJoinWayChange).where(
                GroupJoinWayChange.join_way_id == row.id,
                GroupJoinWayChange.removed_at.is_(None),
                GroupJoinWayChange.chat_id.in_(sorted(old - new)),
            )
        ):
            change.removed_at, change.reason = now, reason
        self.session.add_all(
            [
                GroupJoinWayChange(join_way_id=row.id, chat_id=c, added_at=now)
                for c in chat_ids
                if c not in old
            ]
        )
        row.chat_ids = list(chat_ids)

    def update(self, state: str, chat_ids: list[str], actor: str = "system") -> GroupJoinWay:
        row = self.get(state)
        self.set_chats(row, chat_ids)
        audit.record(
            self.session, actor, "group_join_way.updated", "group_join_way", row.id, {"chat_ids": chat_ids}
        )
        return row

    def delete(self, state: str, actor: str = "system") -> None:
        row = self.get(state)
        self.api(row.provider_key).call("POST", f"{JW}/del_join_way", {"config_id": row.config_id})
        row.deleted_at = utcnow()
        for change in self.session.scalars(
            select(GroupJoinWayChange).where(
                GroupJoinWayChange.join_way_id == row.id, GroupJoinWayChange.removed_at.is_(None)
            )
        ):
            change.removed_at, change.reason = row.deleted_at, "deleted"
        audit.record(
            self.session, actor, "group_join_way.deleted", "group_join_way", row.id, {"state": state}
        )

    # --- the swap job ----------------------------------------------------------------------
    def swap_full(self) -> list[dict[str, Any]]:
        """One pass over every live code; returns what changed (code, groups out, groups in)."""
        changed = []
        for row in self.session.scalars(select(GroupJoinWay).where(GroupJoinWay.deleted_at.is_(None))).all():
            out, new = self._plan(row)
            if out or new:
                keep = [c for c in row.chat_ids if c not in out] + new
                if not keep:  # WeCom refuses an empty list: keep the emptiest until a group opens
                    keep = [min(out, key=lambda c: self._counts(row).get(c, 0))]
                    out = [c for c in out if c not in keep]
                if keep != list(row.chat_ids):
                    self.set_chats(row, keep[:MAX_CHATS], reason="full")
                    changed.append({"state": row.state, "removed": out, "added": new})
        return changed

    def _counts(self, row: GroupJoinWay) -> dict[str, int]:
        return dict(
            self.session.execute(
                select(CustomerGroup.chat_id, CustomerGroup.member_count).where(
                    CustomerGroup.provider_key == row.provider_key,
                    CustomerGroup.chat_id.in_(row.chat_ids or []),
                )
            ).all()
        )

    def _plan(self, row: GroupJoinWay) -> tuple[list[str], list[str]]:
        counts = self._counts(row)
        gone = set(
            self.session.scalars(
                select(CustomerGroup.chat_id).where(
                    CustomerGroup.provider_key == row.provider_key,
                    CustomerGroup.chat_id.in_(row.chat_ids or []),
                    CustomerGroup.dismissed_at.is_not(None),
                )
            )
        )
        out = [c for c in row.chat_ids if c in gone or counts.get(c, 0) >= row.swap_threshold]
        room = MAX_CHATS - (len(row.chat_ids) - len(out))
        new: list[str] = []
        if out and row.auto_create_room and row.room_base_name and room > 0:
            owners = set(
                self.session.scalars(
                    select(CustomerGroup.owner_userid).where(
                        CustomerGroup.provider_key == row.provider_key,
                        CustomerGroup.chat_id.in_(row.chat_ids),
                    )
                )
            )
            used = set(
                self.session.scalars(
                    select(GroupJoinWayChange.chat_id).where(GroupJoinWayChange.join_way_id == row.id)
                )
            )
            candidates = self.session.scalars(
                select(CustomerGroup.chat_id)
                .where(
                    CustomerGroup.provider_key == row.provider_key,
                    CustomerGroup.name.startswith(row.room_base_name, autoescape=True),
                    CustomerGroup.owner_userid.in_(sorted(o for o in owners if o)),
                    CustomerGroup.dismissed_at.is_(None),
                    CustomerGroup.member_count < row.swap_threshold,
                )
                .order_by(CustomerGroup.id)
            )
            new = [c for c in candidates if c not in used][:room]
        return out, new

    # --- reading -----------------------------------------------------------------------------
    def describe(self, row: GroupJoinWay) -> dict[str, Any]:
        joins = self.session.scalar(
            select(func.count(GroupMember.id))
            .join(CustomerGroup, CustomerGroup.id == GroupMember.group_id)
            .where(CustomerGroup.provider_key == row.provider_key, GroupMember.state == row.state)
        )
        history = self.session.scalars(
            select(GroupJoinWayChange)
            .where(GroupJoinWayChange.join_way_id == row.id)
            .order_by(GroupJoinWayChange.added_at, GroupJoinWayChange.id)
        ).all()
        return {
            "state": row.state,
            "name": row.name,
            "provider": row.provider_key,
            "config_id": row.config_id,
            "qr_code": row.qr_code,
            "chat_ids": list(row.chat_ids or []),
            "auto_create_room": bool(row.auto_create_room),
            "room_base_name": row.room_base_name,
            "swap_threshold": row.swap_threshold,
            "joins": int(joins or 0),
            "history": [
                {"chat_id": h.chat_id, "added_at": h.added_at, "removed_at": h.removed_at, "reason": h.reason}
                for h in history
            ],
        }

    def list(self) -> list[dict[str, Any]]:
        rows = self.session.scalars(
            select(GroupJoinWay).where(GroupJoinWay.deleted_at.is_(None)).order_by(GroupJoinWay.id)
        ).all()
        return [self.describe(r) for r in rows]
