"""The WeCom emulator's contact ways (联系我), 获客助手 links, staff directory, customer details
in bulk and customer transfers (在职继承), plugged into :class:`tests.emulators.wecom.WeComEmulator`
through ``ROUTES`` (the base emulator checks the token, injected failures and the per-minute cap
before any of these run).

State lives in :class:`WaysWorld` (``ways(emu)``), so it stays apart from the other helpers'
state. It keeps customers compactly enough to hold 100k customers across 200 staff.

Checks, as WeCom documents them (92228 contact ways, 97297 acquisition links, 92994 batch
customer details, 90201 user/list, 94081/94088 transfers):

* ``state`` ≤ 30 characters; type 1 (single) takes exactly one user, type 2 (multi) up to 100;
  scene 2 (QR) answers a ``qr_code``; 500,000 contact ways (and join ways) per corp.
* ``customer_channel`` on an acquisition link's URL ≤ 64 bytes; ``customer`` pages ≤ 1,000.
* batch/get_by_user: ≤ 100 userids per call, ``limit`` ≤ 100 (default 50), cursor paging.
* transfer_customer: ≤ 100 external_userids per call; a customer moves at most twice in 90 days
  (per-customer errcode 40128); a customer in a transfer already is 40129.

Where WeCom documents the rule but not its errcode (the quota, an unknown config_id), the
emulator answers 40058 ("invalid parameter"), WeCom's generic code, and says what it refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

EC = "/cgi-bin/externalcontact"
CONTACT_WAY_QUOTA = 500_000
TRANSFER_WINDOW_S = 90 * 86400
TRANSFERS_PER_WINDOW = 2


def _refuse(errcode: int, errmsg: str) -> Exception:
    from tests.emulators.wecom import Refusal  # the base module imports this one: import late

    return Refusal(errcode, errmsg)


@dataclass(slots=True)
class Follow:
    """One staff member's ``follow_info`` for one customer."""

    createtime: int
    state: str = ""
    remark: str = ""
    add_way: int = 1
    tag_id: list[str] = field(default_factory=list)
    oper_userid: str = ""


@dataclass
class WaysWorld:
    emu: Any
    contact_ways: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    link_customers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    # external_userid → (name, unionid)
    externals: dict[str, tuple[str, str]] = field(default_factory=dict)
    follows: dict[str, dict[str, Follow]] = field(default_factory=dict)  # userid → ext → Follow
    transfers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    moves: dict[str, list[int]] = field(default_factory=dict)  # ext → transfer times
    quota: int = CONTACT_WAY_QUOTA
    directory_forbidden: bool = False  # user/list answers 48002 (the app may not read it)
    fault_every: int = 0  # every n-th call to these APIs answers ``fault_errcode``
    fault_errcode: int = 45009
    faults_injected: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _calls: int = 0

    # --- test controls ----------------------------------------------------------------------

    def add_user(self, userid: str, name: str = "", department: int = 1, status: int = 1) -> None:
        with self.emu.lock:
            self.users[userid] = {
                "userid": userid,
                "name": name or userid,
                "department": [department],
                "status": status,
            }
            self.emu.staff.add(userid)

    def add_follow(
        self,
        userid: str,
        external_userid: str,
        createtime: int,
        state: str = "",
        unionid: str = "",
        name: str = "",
        remark: str = "",
        tags: list[str] | None = None,
    ) -> None:
        """``external_userid`` becomes a customer of ``userid`` (who joins the directory)."""
        with self.emu.lock:
            if userid not in self.users:
                self.add_user(userid)
            self.externals[external_userid] = (name or external_userid, unionid)
            self.follows.setdefault(userid, {})[external_userid] = Follow(
                createtime, state, remark, 1, list(tags or [])
            )
            self.emu.add_customer(userid, external_userid)

    def remove_follow(self, userid: str, external_userid: str) -> None:
        with self.emu.lock:
            self.follows.get(userid, {}).pop(external_userid, None)
            self.emu.remove_customer(userid, external_userid)

    def inject_faults(self, every: int, errcode: int = 45009) -> None:
        """Every ``every``-th call to these APIs answers ``errcode`` (0 turns it off)."""
        self.fault_every, self.fault_errcode = every, errcode

    def link_click(self, url: str, external_userid: str, userid: str, unionid: str = "") -> str:
        """A customer opens an acquisition link (with its ``customer_channel``) and adds
        ``userid``; answers the State the add-customer callback would carry."""
        parts = urlsplit(url)
        link = next(
            (lk for lk in self.links.values() if lk["url"] == f"{parts.scheme}://{parts.netloc}{parts.path}"),
            None,
        )
        if link is None:
            raise ValueError(f"no acquisition link at {url}")
        channel = (parse_qs(parts.query).get("customer_channel") or [""])[0]
        if len(channel.encode()) > 64:
            raise ValueError("customer_channel is longer than 64 bytes: WeCom drops it")
        self.add_follow(userid, external_userid, int(self.emu.now), channel, unionid)
        self.follows[userid][external_userid].add_way = 16  # 获客助手
        self.link_customers.setdefault(link["link_id"], []).append(
            {"external_userid": external_userid, "userid": userid, "chat_status": 0, "state": channel}
        )
        return channel

    def finish_transfers(self, accept: bool = True) -> None:
        """24 h pass: waiting transfers complete (or the customers refuse them)."""
        with self.emu.lock:
            for (handover, ext), t in self.transfers.items():
                if t["status"] != 2:
                    continue
                if not accept:
                    t["status"] = 3
                    continue
                follow = self.follows.get(handover, {}).pop(ext, None)
                self.emu.remove_customer(handover, ext)
                if follow is not None:
                    self.follows.setdefault(t["takeover"], {})[ext] = follow
                    self.emu.add_customer(t["takeover"], ext)
                t["status"], t["takeover_time"] = 1, int(self.emu.now)

    def customer_count(self) -> int:
        return len({ext for f in self.follows.values() for ext in f})

    # --- API --------------------------------------------------------------------------------

    def _tick(self) -> None:
        self._calls += 1
        if self.fault_every and self._calls % self.fault_every == 0:
            self.faults_injected += 1
            raise _refuse(self.fault_errcode, "injected rate limit")

    def _users(self, body: dict[str, Any], key: str, maximum: int) -> list[str]:
        users = body.get(key) or []
        if not isinstance(users, list) or not users:
            raise _refuse(40058, f"{key} is required")
        if len(users) > maximum:
            raise _refuse(40058, f"{key}: at most {maximum}")
        for u in users:
            if u not in self.users:
                raise _refuse(40003, f"invalid userid {u}")
        return [str(u) for u in users]

    def _state(self, body: dict[str, Any]) -> str:
        state = str(body.get("state") or "")
        if len(state) > 30:
            raise _refuse(40058, "state: at most 30 characters")
        return state

    def add_contact_way(self, body: dict[str, Any]) -> dict[str, Any]:
        kind, scene = body.get("type"), body.get("scene")
        if kind not in (1, 2) or scene not in (1, 2):
            raise _refuse(40058, "type and scene must be 1 or 2")
        users = self._users(body, "user", 1 if kind == 1 else 100)
        state = self._state(body)
        if len(self.contact_ways) >= self.quota:
            raise _refuse(40058, f"contact way quota of {self.quota} reached")
        config_id = f"cw{next(self._ids):08x}"
        qr = f"{self.emu.base_url}/qr/{config_id}.png" if scene == 2 else ""
        self.contact_ways[config_id] = {
            "config_id": config_id,
            "type": kind,
            "scene": scene,
            "remark": str(body.get("remark") or ""),
            "skip_verify": bool(body.get("skip_verify", True)),
            "state": state,
            "user": users,
            "qr_code": qr,
        }
        return {"config_id": config_id, **({"qr_code": qr} if qr else {})}

    def _way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self.contact_ways.get(str(body.get("config_id") or ""))
        if way is None:
            raise _refuse(40058, "invalid config_id")
        return way

    def get_contact_way(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"contact_way": dict(self._way(body))}

    def update_contact_way(self, body: dict[str, Any]) -> dict[str, Any]:
        way = self._way(body)
        if "user" in body:
            way["user"] = self._users(body, "user", 1 if way["type"] == 1 else 100)
        if "state" in body:
            way["state"] = self._state(body)
        for key in ("remark", "skip_verify"):
            if key in body:
                way[key] = body[key]
        return {}

    def del_contact_way(self, body: dict[str, Any]) -> dict[str, Any]:
        self.contact_ways.pop(self._way(body)["config_id"])
        return {}

    def create_link(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body.get("link_name") or "")
        if not name:
            raise _refuse(40058, "link_name is required")
        users = self._users(body.get("range") or {}, "user_list", 500)
        link_id = f"cal{next(self._ids):08x}"
        url = f"https://work.weixin.qq.com/ca/{link_id}"
        self.links[link_id] = {
            "link_id": link_id,
            "link_name": name,
            "url": url,
            "user_list": users,
            "skip_verify": bool(body.get("skip_verify", True)),
            "create_time": int(self.emu.now),
        }
        return {"link": {k: v for k, v in self.links[link_id].items() if k != "user_list"}}

    def _link(self, body: dict[str, Any]) -> dict[str, Any]:
        link = self.links.get(str(body.get("link_id") or ""))
        if link is None:
            raise _refuse(40058, "invalid link_id")
        return link

    def update_link(self, body: dict[str, Any]) -> dict[str, Any]:
        link = self._link(body)
        if body.get("link_name"):
            link["link_name"] = str(body["link_name"])
        if "range" in body:
            link["user_list"] = self._users(body["range"] or {}, "user_list", 500)
        if "skip_verify" in body:
            link["skip_verify"] = bool(body["skip_verify"])
        return {}

    def delete_link(self, body: dict[str, Any]) -> dict[str, Any]:
        self.links.pop(self._link(body)["link_id"])
        return {}

    def customer(self, body: dict[str, Any]) -> dict[str, Any]:
        rows = self.link_customers.get(self._link(body)["link_id"], [])
        return _cursor_page(rows, body, "customer_list", default=1000, maximum=1000)

    def user_list(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.directory_forbidden:
            raise _refuse(48002, "api forbidden")
        if not body.get("department_id"):
            raise _refuse(40058, "department_id is required")
        dept = int(body["department_id"])
        child = str(body.get("fetch_child") or "0") == "1"
        rows = [u for u in self.users.values() if child or dept in u["department"]]
        return {"userlist": [dict(u) for u in rows]}

    def get_follow_user_list(self, body: dict[str, Any]) -> dict[str, Any]:
        """Staff with the customer-contact permission (here: every active user)."""
        return {"follow_user": [u for u, row in self.users.items() if row["status"] == 1]}

    def get_by_user(self, body: dict[str, Any]) -> dict[str, Any]:
        users = body.get("userid_list") or []
        if not isinstance(users, list) or not users:
            raise _refuse(40058, "userid_list is required")
        if len(users) > 100:
            raise _refuse(40058, "userid_list: at most 100")
        limit = int(body.get("limit") or 50)
        if limit > 100:
            raise _refuse(40058, "limit: at most 100")
        # The cursor is opaque to callers: "user index:offset" into the listed users' customers.
        cursor = str(body.get("cursor") or "0:0")
        try:
            ui, off = (int(x) for x in cursor.split(":"))
        except ValueError:
            raise _refuse(40058, "invalid cursor") from None
        out: list[dict[str, Any]] = []
        while ui < len(users) and len(out) < limit:
            items = list(self.follows.get(str(users[ui]), {}).items())[off : off + limit - len(out)]
            for ext, f in items:
                name, unionid = self.externals[ext]
                contact = {"external_userid": ext, "name": name, "type": 1}
                if unionid:
                    contact["unionid"] = unionid
                out.append(
                    {
                        "external_contact": contact,
                        "follow_info": {
                            "userid": users[ui],
                            "remark": f.remark,
                            "createtime": f.createtime,
                            "tag_id": list(f.tag_id),
                            "add_way": f.add_way,
                            "state": f.state,
                            "oper_userid": f.oper_userid or users[ui],
                        },
                    }
                )
            off += len(items)
            if off >= len(self.follows.get(str(users[ui]), {})):
                ui, off = ui + 1, 0
        return {"external_contact_list": out, "next_cursor": f"{ui}:{off}" if ui < len(users) else ""}

    def transfer_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        handover = self._users({"u": [body.get("handover_userid")]}, "u", 1)[0]
        takeover = self._users({"u": [body.get("takeover_userid")]}, "u", 1)[0]
        externals = body.get("external_userid") or []
        if not isinstance(externals, list) or not externals:
            raise _refuse(40058, "external_userid is required")
        if len(externals) > 100:
            raise _refuse(40058, "external_userid: at most 100")
        now = int(self.emu.now)
        answers = []
        for ext in externals:
            recent = [t for t in self.moves.get(ext, []) if now - t < TRANSFER_WINDOW_S]
            if ext not in self.follows.get(handover, {}):
                code = 40096
            elif self.transfers.get((handover, ext), {}).get("status") == 2:
                code = 40129
            elif len(recent) >= TRANSFERS_PER_WINDOW:
                code = 40128
            else:
                code = 0
                self.moves.setdefault(ext, []).append(now)
                self.transfers[(handover, ext)] = {"takeover": takeover, "status": 2, "takeover_time": 0}
            answers.append({"external_userid": ext, "errcode": code})
        return {"customer": answers}

    def transfer_result(self, body: dict[str, Any]) -> dict[str, Any]:
        handover, takeover = body.get("handover_userid"), body.get("takeover_userid")
        rows = [
            {"external_userid": ext, "status": t["status"], "takeover_time": t["takeover_time"]}
            for (h, ext), t in self.transfers.items()
            if h == handover and t["takeover"] == takeover
        ]
        return _cursor_page(rows, body, "customer", default=1000, maximum=1000)


def _cursor_page(
    rows: list[dict[str, Any]], body: dict[str, Any], name: str, default: int, maximum: int
) -> dict[str, Any]:
    limit = int(body.get("limit") or default)
    if limit > maximum:
        raise _refuse(40058, f"limit: at most {maximum}")
    offset = int(body.get("cursor") or 0)
    more = offset + limit < len(rows)
    return {name: rows[offset : offset + limit], "next_cursor": str(offset + limit) if more else ""}


def ways(emu: Any) -> WaysWorld:
    """The emulator's contact-way world (created on first use)."""
    world = emu.__dict__.get("_ways")
    if world is None:
        world = emu.__dict__["_ways"] = WaysWorld(emu)
    return world  # type: ignore[no-any-return]


def _route(name: str) -> Callable[[Any, dict[str, Any]], dict[str, Any]]:
    def handler(emu: Any, body: dict[str, Any]) -> dict[str, Any]:
        world = ways(emu)
        world._tick()
        return getattr(world, name)(body)  # type: ignore[no-any-return]

    return handler


ROUTES: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {
    **{
        f"{EC}/{name}": _route(name)
        for name in ("add_contact_way", "get_contact_way", "update_contact_way", "del_contact_way")
    },
    **{
        f"{EC}/customer_acquisition/{name}": _route(name)
        for name in ("create_link", "update_link", "delete_link", "customer")
    },
    f"{EC}/batch/get_by_user": _route("get_by_user"),
    f"{EC}/get_follow_user_list": _route("get_follow_user_list"),
    f"{EC}/transfer_customer": _route("transfer_customer"),
    f"{EC}/transfer_result": _route("transfer_result"),
    "/cgi-bin/user/list": _route("user_list"),
}
