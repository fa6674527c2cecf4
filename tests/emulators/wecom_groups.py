"""The customer-group half of the WeCom emulator: ``groupchat/list|get`` (member_version, 500
members, 81017), group live codes (``add|get|update|del_join_way``: ≤ 5 chat ids, scans admitted
to a listed group with room, ``auto_create_room`` creating ``room_base_name`` + id),
``group_welcome_template/*``, ``groupchat/statistic_group_by_day`` (30-day span, last 180 days),
and the ``change_external_chat`` events a real corp would push, queued as plain dicts in
:attr:`GroupWorld.pushed` (the inflow emulator encrypts and posts them).

State lives in :class:`GroupWorld`, reached as ``emulator.community`` (created on first use), so
wecom.py only registers :data:`ROUTES`. Group sends (``add_msg_template`` with ``chat_type``
group) and their monthly limit stay in wecom.py; a group created here is also registered in the
emulator's ``groups`` map (chat id → owner) so those sends reach it."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tests.emulators.wecom import EC, SHANGHAI, Refusal, _page

if TYPE_CHECKING:
    from tests.emulators.wecom import WeComEmulator

GROUP_LIMIT = 500
GC = f"{EC}/groupchat"


@dataclass
class Group:
    chat_id: str
    name: str
    owner: str
    create_time: int
    notice: str = ""
    status: int = 0
    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: int = 0
    dismissed: bool = False

    @property
    def member_version(self) -> str:
        return hashlib.md5(f"{self.chat_id}:{self.changes}".encode()).hexdigest()


class GroupWorld:
    def __init__(self, emu: WeComEmulator) -> None:
        self.emu = emu
        self.groups: dict[str, Group] = {}
        self.join_ways: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.day_stats: dict[tuple[str, int], dict[str, int]] = {}  # (owner, day start) → counts
        self.pushed: list[dict[str, Any]] = []
        self.owner_limit = 1000  # groupchat/list without owner_filter: 81017 above this
        self._ids = itertools.count(1)

    # --- test controls (callers hold no lock; these take the emulator's) --------------------

    def create_group(self, owner: str, name: str = "", chat_id: str | None = None, push: bool = True) -> str:
        with self.emu.lock:
            chat_id = chat_id or f"wrOgQhDgAA{next(self._ids):06d}"
            group = Group(chat_id, name or chat_id, owner, int(self.emu.now))
            group.members[owner] = _member(owner, 1, None, int(self.emu.now), 1, None, None)
            self.groups[chat_id] = group
            self.emu.add_group_chat(owner, chat_id)
            if push:
                self._push(group, "create")
            return chat_id

    def join(
        self,
        chat_id: str,
        external_userid: str,
        unionid: str | None = None,
        join_scene: int = 3,
        inviter: str | None = None,
        state: str | None = None,
        push: bool = True,
    ) -> None:
        with self.emu.lock:
            group = self.groups[chat_id]
            if len(group.members) >= GROUP_LIMIT:
                raise Refusal(86001, "group is full")
            group.members[external_userid] = _member(
                external_userid, 2, unionid, int(self.emu.now), join_scene, inviter, state
            )
            group.changes += 1
            if push:
                self._push(group, "update", "add_member", [external_userid], JoinScene=str(join_scene))

    def fill(self, chat_id: str, n: int, prefix: str = "wmfill") -> None:
        """``n`` members join at once without events (a bulk test set-up)."""
        with self.emu.lock:
            group = self.groups[chat_id]
            for i in range(n):
                uid = f"{prefix}{chat_id[-6:]}{i:04d}"
                group.members[uid] = _member(uid, 2, None, int(self.emu.now), 1, None, None)
            group.changes += 1

    def leave(self, chat_id: str, member: str, quit_scene: int = 0, push: bool = True) -> None:
        with self.emu.lock:
            group = self.groups[chat_id]
            group.members.pop(member, None)
            group.changes += 1
            if push:
                self._push(group, "update", "del_member", [member], QuitScene=str(quit_scene))

    def rename(self, chat_id: str, name: str, push: bool = True) -> None:
        with self.emu.lock:
            self.groups[chat_id].name = name
            if push:
                self._push(self.groups[chat_id], "update", "change_name")

    def dismiss(self, chat_id: str, push: bool = True) -> None:
        with self.emu.lock:
            self.groups[chat_id].dismissed = True
            self.emu.groups.pop(chat_id, None)
            if push:
                self._push(self.groups[chat_id], "dismiss")

    def scan(self, config_id: str, external_userid: str, unionid: str | None = None) -> str:
        """A customer scans a group live code: WeCom admits them to the first listed group with
        room, or creates ``room_base_name`` + (``room_base_id`` + 1) when all are full and
        ``auto_create_room`` is 1. Returns the chat id joined."""
        with self.emu.lock:
            way = self.join_ways[config_id]
            for chat_id in way["chat_id_list"]:
                group = self.groups.get(chat_id)
                if group and not group.dismissed and len(group.members) < GROUP_LIMIT:
                    break
            else:
                if not way.get("auto_create_room"):
                    raise Refusal(86001, "all groups of the code are full")
                first = self.groups[way["chat_id_list"][0]]
                way["room_base_id"] = int(way.get("room_base_id") or 0) + 1
                chat_id = self.create_group(
                    first.owner, f"{way.get('room_base_name') or ''}{way['room_base_id']}"
                )
                way["chat_id_list"].append(chat_id)
            self.join(chat_id, external_userid, unionid, 3, None, way.get("state"))
            return chat_id

    def set_day_stat(self, owner: str, day: datetime, **counts: int) -> None:
        start = int(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI).timestamp())
        with self.emu.lock:
            self.day_stats[(owner, start)] = dict(counts)

    def take_pushed(self) -> list[dict[str, Any]]:
        with self.emu.lock:
            events, self.pushed = self.pushed, []
            return events

    def _push(
        self,
        group: Group,
        change: str,
        detail: str | None = None,
        members: list[str] | None = None,
        **extra: str,
    ) -> None:
        event: dict[str, Any] = {
            "ToUserName": self.emu.corp_id,
            "FromUserName": "sys",
            "CreateTime": str(int(self.emu.now)),
            "MsgType": "event",
            "Event": "change_external_chat",
            "ChatId": group.chat_id,
            "ChangeType": change,
        }
        if detail:
            event["UpdateDetail"] = detail
        if members is not None:
            event["MemChangeCnt"] = str(len(members))
            event["MemChangeList"] = list(members)
            event["CurMemVer"] = group.member_version
        self.pushed.append(event | extra)

    # --- groupchat ----------------------------------------------------------------------------

    def list(self, body: dict[str, Any]) -> dict[str, Any]:
        limit = body.get("limit")
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise Refusal(40058, "limit must be 1..1000")
        owners = list(((body.get("owner_filter") or {}).get("userid_list")) or [])
        if len(owners) > 100:
            raise Refusal(40058, "owner_filter.userid_list exceeds 100")
        visible = {g.owner for g in self.groups.values() if not g.dismissed}
        if not owners and len(visible) > self.owner_limit:
            raise Refusal(81017, "too many owners, use owner_filter")
        status = int(body.get("status_filter") or 0)
        rows = [
            {"chat_id": g.chat_id, "status": g.status}
            for g in self.groups.values()
            if not g.dismissed and (not owners or g.owner in owners) and (status == 0 or g.status == status)
        ]
        return _page(rows, body, "group_chat_list", default=limit, maximum=1000)

    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        group = self.groups.get(str(body.get("chat_id") or ""))
        if group is None or group.dismissed:
            raise Refusal(40050, "chatid not found")
        members = []
        for m in group.members.values():
            row = {k: v for k, v in m.items() if v is not None and k != "name"}
            if body.get("need_name") and m.get("name"):
                row["name"] = m["name"]
            members.append(row)
        return {
            "group_chat": {
                "chat_id": group.chat_id,
                "name": group.name,
                "owner": group.owner,
                "create_time": group.create_time,
                "notice": group.notice,
                "member_list": members,
                "admin_list": [],
                "member_version": group.member_version,
            }
        }

    # --- join ways ----------------------------------------------------------------------------

    def add_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self._check_way(body)
        config_id = f"cfg{next(self._ids):08d}"
        self.join_ways[config_id] = way | {
            "config_id": config_id,
            "qr_code": f"https://wework.qpic.cn/wwpic/{config_id}.png",
        }
        return {"config_id": config_id}

    def get_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"join_way": dict(self._way(body))}

    def update_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self._way(body)
        way.update(self._check_way(body))
        return {}

    def del_join_way(self, body: dict[str, Any]) -> dict[str, Any]:
        self._way(body)
        del self.join_ways[body["config_id"]]
        return {}

    def _way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self.join_ways.get(str(body.get("config_id") or ""))
        if way is None:
            raise Refusal(41044, "invalid config_id")
        return way

    def _check_way(self, body: dict[str, Any]) -> dict[str, Any]:
        scene = body.get("scene")
        if scene not in (1, 2):
            raise Refusal(40058, "scene must be 1 or 2")
        chats = list(body.get("chat_id_list") or [])
        if not chats or len(chats) > 5:
            raise Refusal(40058, "chat_id_list must hold 1..5 chat ids")
        for chat in chats:
            if chat not in self.groups or self.groups[chat].dismissed:
                raise Refusal(40050, f"chatid {chat} not found")
        if len(str(body.get("state") or "")) > 30 or len(str(body.get("remark") or "")) > 30:
            raise Refusal(40058, "state and remark are at most 30 characters")
        auto = int(body.get("auto_create_room", 1))
        if auto and (not body.get("room_base_name") or len(str(body["room_base_name"])) > 40):
            raise Refusal(40058, "room_base_name (≤ 40) is required with auto_create_room")
        return {
            "scene": scene,
            "remark": body.get("remark", ""),
            "auto_create_room": auto,
            "room_base_name": body.get("room_base_name"),
            "room_base_id": body.get("room_base_id"),
            "chat_id_list": chats,
            "state": body.get("state"),
        }

    # --- welcome templates --------------------------------------------------------------------

    def template_add(self, body: dict[str, Any]) -> dict[str, Any]:
        if len(self.templates) >= 100:
            raise Refusal(40058, "at most 100 group welcome templates")
        self._check_template(body)
        template_id = f"tpl{next(self._ids):06d}"
        self.templates[template_id] = {k: v for k, v in body.items() if k != "template_id"}
        return {"template_id": template_id}

    def template_edit(self, body: dict[str, Any]) -> dict[str, Any]:
        self._template(body)
        self._check_template(body)
        self.templates[body["template_id"]] = {k: v for k, v in body.items() if k != "template_id"}
        return {}

    def template_get(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._template(body))

    def template_del(self, body: dict[str, Any]) -> dict[str, Any]:
        self._template(body)
        del self.templates[body["template_id"]]
        return {}

    def _template(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.templates.get(str(body.get("template_id") or ""))
        if found is None:
            raise Refusal(40058, "invalid template_id")
        return found

    @staticmethod
    def _check_template(body: dict[str, Any]) -> None:
        text = str((body.get("text") or {}).get("content") or "")
        if len(text.encode()) > 3000:
            raise Refusal(45002, "text.content exceeds 3000 bytes")
        if not text and not any(body.get(k) for k in ("image", "link", "miniprogram", "file", "video")):
            raise Refusal(44004, "empty template")

    # --- statistics ---------------------------------------------------------------------------

    def statistic_group_by_day(self, body: dict[str, Any]) -> dict[str, Any]:
        begin = body.get("day_begin_time")
        if not isinstance(begin, int):
            raise Refusal(40058, "day_begin_time required")
        end = body.get("day_end_time") or begin
        if end < begin or end - begin > 29 * 86400:
            raise Refusal(40058, "the span of day_begin_time and day_end_time is at most 30 days")
        if begin < self.emu.now - 180 * 86400:
            raise Refusal(40058, "day_begin_time must be within the last 180 days")
        owners = list(((body.get("owner_filter") or {}).get("userid_list")) or [])
        items = []
        day = datetime.fromtimestamp(begin, SHANGHAI).replace(hour=0, minute=0, second=0)
        while int(day.timestamp()) <= end:
            start = int(day.timestamp())
            data: dict[str, int] = {}
            for (owner, ts), counts in self.day_stats.items():
                if ts == start and (not owners or owner in owners):
                    for k, v in counts.items():
                        data[k] = data.get(k, 0) + v
            items.append({"stat_time": start, "data": data})
            day += timedelta(days=1)
        return {"items": items}


def _member(
    userid: str, kind: int, unionid: str | None, at: int, scene: int, inviter: str | None, state: str | None
) -> dict[str, Any]:
    return {
        "userid": userid,
        "type": kind,
        "unionid": unionid,
        "join_time": at,
        "join_scene": scene,
        "invitor": {"userid": inviter} if inviter else None,
        "state": state,
        "group_nickname": "",
        "name": f"客户{userid[-4:]}",
    }


def world(emu: WeComEmulator) -> GroupWorld:
    found = emu.__dict__.get("community")
    if found is None:
        found = emu.__dict__["community"] = GroupWorld(emu)
    return found  # type: ignore[no-any-return]


def _route(name: str) -> Any:
    return lambda emu, body: getattr(world(emu), name)(body)


ROUTES = {
    f"{GC}/list": _route("list"),
    f"{GC}/get": _route("get"),
    f"{GC}/add_join_way": _route("add_join_way"),
    f"{GC}/get_join_way": _route("get_join_way"),
    f"{GC}/update_join_way": _route("update_join_way"),
    f"{GC}/del_join_way": _route("del_join_way"),
    f"{GC}/statistic_group_by_day": _route("statistic_group_by_day"),
    f"{EC}/group_welcome_template/add": _route("template_add"),
    f"{EC}/group_welcome_template/edit": _route("template_edit"),
    f"{EC}/group_welcome_template/get": _route("template_get"),
    f"{EC}/group_welcome_template/del": _route("template_del"),
}
