"""WeCom inflow emulator: the customer "world" (external contacts and who follows them),
callbacks pushed to siyu exactly as WeCom pushes them, and the endpoints the inflow calls.

* Callbacks: the event XML is encrypted and signed with the corp's Token / EncodingAESKey
  (the algorithm written out here independently of siyu's code), POSTed as
  ``<xml><ToUserName/><AgentID/><Encrypt/></xml>`` with ``msg_signature``, ``timestamp`` and
  ``nonce``; an answer other than ``success`` within 5 s is retried, 3 times at most.
* ``externalcontact/get`` (GET ``external_userid``): 41035 when missing, 84061 when no staff
  member has that customer.
* ``send_welcome_msg``: the code is valid 20 s after the add event and usable once; a second
  use answers 41096 (another app / an earlier call used it).
* ``get_corp_tag_list`` (filters ``tag_id``/``group_id``), ``add_corp_tag`` (names ≤ 30
  characters, ≤ 100 tags a call, ≤ 3,000 tags in all, a name used twice in a group: 40071),
  ``mark_tag`` (the base emulator's checks: the customer must follow the staff member, tags
  must exist)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import string
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from tests.emulators.wecom import EC, Refusal, WeComEmulator

MAX_TAG_NAME = 30
MAX_TAGS = 3000


def make_aes_key() -> str:
    """A random 43-character EncodingAESKey, as WeCom's admin page generates."""
    return base64.b64encode(os.urandom(32)).decode().rstrip("=")


def encrypt(xml: str, aes_key43: str, receive_id: str) -> str:
    key = base64.b64decode(aes_key43 + "=")
    raw = xml.encode()
    plain = os.urandom(16) + struct.pack(">I", len(raw)) + raw + receive_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def event_xml(fields: dict[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        if isinstance(value, list):
            parts.append(f"<{name}>" + "".join(f"<Item><![CDATA[{v}]]></Item>" for v in value) + f"</{name}>")
        elif isinstance(value, int):
            parts.append(f"<{name}>{value}</{name}>")
        else:
            parts.append(f"<{name}><![CDATA[{value}]]></{name}>")
    return "<xml>" + "".join(parts) + "</xml>"


@dataclass
class Delivery:
    """One pushed event and every attempt at it: (HTTP status or error, answer text, seconds)."""

    event: dict[str, Any]
    attempts: list[tuple[int | str, str, float]] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(status == 200 and text == "success" for status, text, _ in self.attempts)


class WeComInflowEmulator(WeComEmulator):
    #: Read by the base emulator's dispatch (``extra_routes``): this module's endpoints.
    extra_routes: ClassVar[dict[str, Any]] = {}

    def __init__(self, corp_id: str = "wwcorp", corp_secret: str = "s3cret", **kw: Any) -> None:
        super().__init__(corp_id, corp_secret, **kw)
        self.welcome_taken_errcode = 41096
        self.callback_token = "".join(secrets.choice(string.ascii_letters) for _ in range(16))
        self.encoding_aes_key = make_aes_key()
        self.callback_url = ""  # where the corp's app receives callbacks
        self.retry_timeout_s = 5.0
        self.max_retries = 3
        self.externals: dict[str, dict[str, Any]] = {}  # external_userid → external_contact
        self.follows: dict[tuple[str, str], dict[str, Any]] = {}  # (staff, external) → follow_user
        self.deliveries: list[Delivery] = []
        self.welcome_times: dict[str, tuple[float, float | None]] = {}  # code → (issued, sent) wall time
        self._push_lock = threading.Lock()

    # --- the world ---------------------------------------------------------------------------
    def world_follow(self, staff: str, external_userid: str) -> dict[str, Any] | None:
        """The tiny shared hook: who follows whom (for the sync and group emulators)."""
        with self.lock:
            return self.follows.get((staff, external_userid))

    def customer_adds(
        self,
        staff: str,
        external_userid: str,
        state: str = "",
        unionid: str | None = None,
        name: str = "客户",
        add_way: int = 1,
        welcome: bool = True,
        push: bool = True,
    ) -> dict[str, Any]:
        """A customer adds ``staff`` through a contact way with ``state``: the world changes and
        the ``add_external_contact`` callback is pushed (returns the event)."""
        with self.lock:
            now = int(time.time())
            self.staff.add(staff)
            self.customers.setdefault(staff, set()).add(external_userid)
            contact = {"external_userid": external_userid, "name": name, "type": 1, "gender": 0}
            if unionid:
                contact["unionid"] = unionid
            self.externals[external_userid] = contact
            self.follows[(staff, external_userid)] = {
                "userid": staff,
                "remark": "",
                "description": "",
                "createtime": now,
                "tags": [],
                "state": state,
                "add_way": add_way,
            }
            event: dict[str, Any] = {
                "ToUserName": self.corp_id,
                "FromUserName": "sys",
                "CreateTime": now,
                "MsgType": "event",
                "Event": "change_external_contact",
                "ChangeType": "add_external_contact",
                "UserID": staff,
                "ExternalUserID": external_userid,
            }
            if state:
                event["State"] = state
            if welcome:
                code = self.issue_welcome_code(staff, external_userid)
                self.welcome_times[code] = (time.time(), None)
                event["WelcomeCode"] = code
        if push:
            self.push(event)
        return event

    def customer_deletes_staff(self, staff: str, external_userid: str, push: bool = True) -> dict[str, Any]:
        """The customer deletes the staff member (流失): ``del_follow_user``."""
        return self._ended(staff, external_userid, "del_follow_user", push)

    def staff_deletes_customer(self, staff: str, external_userid: str, push: bool = True) -> dict[str, Any]:
        return self._ended(staff, external_userid, "del_external_contact", push)

    def _ended(self, staff: str, external_userid: str, change: str, push: bool) -> dict[str, Any]:
        with self.lock:
            self.follows.pop((staff, external_userid), None)
            self.customers.get(staff, set()).discard(external_userid)
            event = {
                "ToUserName": self.corp_id,
                "FromUserName": "sys",
                "CreateTime": int(time.time()),
                "MsgType": "event",
                "Event": "change_external_contact",
                "ChangeType": change,
                "UserID": staff,
                "ExternalUserID": external_userid,
            }
        if push:
            self.push(event)
        return event

    # --- pushing -------------------------------------------------------------------------------
    def envelope(self, event: dict[str, Any], timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
        """(query, body) of one delivery, freshly encrypted and signed."""
        encrypted = encrypt(event_xml(event), self.encoding_aes_key, self.corp_id)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = str(secrets.randbelow(10**10))
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<AgentID><![CDATA[1000002]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        ).encode()
        return {
            "msg_signature": sign(self.callback_token, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }, body

    def push(self, event: dict[str, Any]) -> Delivery:
        """POST the event to ``callback_url``; retry while the answer is not ``success`` within
        ``retry_timeout_s`` (at most ``max_retries`` more times). Runs outside the API lock:
        siyu calls back into the emulator while it processes."""
        if not self.callback_url:
            raise RuntimeError("callback_url is not set")
        delivery = Delivery(event)
        with self._push_lock:
            self.deliveries.append(delivery)
        for _ in range(1 + self.max_retries):
            query, body = self.envelope(event)
            started = time.monotonic()
            try:
                resp = httpx.post(self.callback_url, params=query, content=body, timeout=self.retry_timeout_s)
                delivery.attempts.append((resp.status_code, resp.text, time.monotonic() - started))
                if resp.status_code == 200 and resp.text == "success":
                    break
            except httpx.HTTPError as exc:
                delivery.attempts.append((type(exc).__name__, "", time.monotonic() - started))
        return delivery

    def url_check(self, echo: str = "") -> tuple[dict[str, str], str]:
        """The GET WeCom sends when the admin saves the URL: (query, the plain echostr)."""
        echo = echo or str(secrets.randbelow(10**18))
        encrypted = encrypt(echo, self.encoding_aes_key, self.corp_id)
        ts, nonce = str(int(time.time())), str(secrets.randbelow(10**10))
        query = {
            "msg_signature": sign(self.callback_token, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }
        return {**query, "echostr": encrypted}, echo

    # --- endpoints ---------------------------------------------------------------------------
    def get(self, body: dict[str, Any]) -> dict[str, Any]:
        ext = body.get("external_userid")
        if not ext:
            raise Refusal(41035, "external_userid missing")
        follows = [dict(f) for (staff, e), f in self.follows.items() if e == ext]
        if ext not in self.externals or not follows:
            raise Refusal(84061, "not external contact")
        return {"external_contact": dict(self.externals[ext]), "follow_user": follows}

    def send_welcome_msg(self, body: dict[str, Any]) -> dict[str, Any]:
        answer = super().send_welcome_msg(body)
        code = body["welcome_code"]
        if code in self.welcome_times:
            self.welcome_times[code] = (self.welcome_times[code][0], time.time())
        return answer

    def get_corp_tag_list(self, body: dict[str, Any]) -> dict[str, Any]:
        tag_ids = set(body.get("tag_id") or [])
        group_ids = set(body.get("group_id") or [])
        groups = []
        for g in self.tag_groups.values():
            if group_ids and g["group_id"] not in group_ids:
                continue
            tags = [
                {"id": tid, "name": name, "order": 0, "create_time": 0}
                for tid, name in g["tags"].items()
                if not tag_ids or tid in tag_ids
            ]
            if tag_ids and not tags:
                continue
            groups.append({"group_id": g["group_id"], "group_name": g["group_name"], "order": 0, "tag": tags})
        return {"tag_group": groups}

    def api_add_corp_tag(self, body: dict[str, Any]) -> dict[str, Any]:
        tags = body.get("tag") or []
        if not tags or len(tags) > 100:
            raise Refusal(40058, "tag: 1 to 100 tags")
        group = None
        if body.get("group_id"):
            group = self.tag_groups.get(body["group_id"])
            if group is None:
                raise Refusal(40068, "invalid tagid")
        else:
            name = str(body.get("group_name") or "")
            if not name or len(name) > MAX_TAG_NAME:
                raise Refusal(40058, "group_name: 1 to 30 characters")
            group = next((g for g in self.tag_groups.values() if g["group_name"] == name), None)
        total = sum(len(g["tags"]) for g in self.tag_groups.values())
        if total + len(tags) > MAX_TAGS:
            raise Refusal(40070, "tag count exceeds the limit")
        for t in tags:
            name = str(t.get("name") or "")
            if not name or len(name) > MAX_TAG_NAME:
                raise Refusal(40058, "tag name: 1 to 30 characters")
            if group is not None and name in group["tags"].values():
                raise Refusal(40071, "tag name exists")
        created = []
        for t in tags:
            tag_id = self.add_corp_tag(
                group["group_name"] if group else str(body["group_name"]), str(t["name"])
            )
            group = next(g for g in self.tag_groups.values() if tag_id in g["tags"])
            created.append({"id": tag_id, "name": t["name"], "order": 0, "create_time": int(time.time())})
        assert group is not None
        return {
            "tag_group": {"group_id": group["group_id"], "group_name": group["group_name"], "tag": created}
        }


WeComInflowEmulator.extra_routes = {  # set after the class: the methods exist now
    f"{EC}/get": WeComInflowEmulator.get,
    f"{EC}/add_corp_tag": WeComInflowEmulator.api_add_corp_tag,
    f"{EC}/get_corp_tag_list": WeComInflowEmulator.get_corp_tag_list,
    f"{EC}/send_welcome_msg": WeComInflowEmulator.send_welcome_msg,
}
