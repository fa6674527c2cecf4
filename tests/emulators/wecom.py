"""A WeCom (企业微信) customer-contact API emulator: gettoken and token expiry, the bulk-message
task APIs (add_msg_template, get_groupmsg_list_v2 / _task / _send_result), moments tasks,
welcome messages and corp tags, with the checks and error codes WeCom documents (see the
docstring of ``siyu.channels.wecom_api``).

The staff member's confirmation is explicit: :meth:`WeComEmulator.confirm_send` plays the staff
member pressing "send", which is when customers receive the message and the per-customer
monthly quota (as many bulk messages per calendar month, Asia/Shanghai, as the month has days)
is applied. ``now`` is the emulator's clock (epoch seconds); set it to move time."""

from __future__ import annotations

import calendar
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.emulators.server import Emulator, Request, Response, json_response

SHANGHAI = timezone(timedelta(hours=8))  # China has no daylight saving time
EC = "/cgi-bin/externalcontact"
ATTACHMENT_TYPES = {"image", "link", "miniprogram", "video", "file"}


class Refusal(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(errmsg)
        self.errcode, self.errmsg = errcode, errmsg


@dataclass
class Task:
    msgid: str
    chat_type: str
    sender: str
    text: str
    attachments: list[dict[str, Any]]
    create_time: int
    targets: list[str]  # external_userids (single) or chat ids (group)
    status: dict[str, int] = field(default_factory=dict)  # target → 0/1/2/3
    send_time: int | None = None


class WeComEmulator(Emulator):
    def __init__(self, corp_id: str = "wwcorp", corp_secret: str = "s3cret", token_ttl_s: int = 7200) -> None:
        super().__init__()
        self.corp_id, self.corp_secret, self.token_ttl_s = corp_id, corp_secret, token_ttl_s
        self.now: float = time.time()
        self.per_minute_limit = 10_000  # per API per corp
        self.moments_per_minute = 10
        self.welcome_taken_errcode = 41051  # 92137: later callers get 41051
        self.tokens: dict[str, float] = {}
        self.gettoken_calls = 0
        self.staff: set[str] = set()
        self.customers: dict[str, set[str]] = {}  # staff userid → external_userids
        self.groups: dict[str, str] = {}  # chat_id → owner
        self.tag_groups: dict[str, dict[str, Any]] = {}
        self.contact_tags: dict[tuple[str, str], set[str]] = {}
        self.tasks: dict[str, Task] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.moments: dict[str, dict[str, Any]] = {}
        self.welcome_codes: dict[str, dict[str, Any]] = {}
        self.welcomes_sent: list[dict[str, Any]] = []
        self.received: Counter[tuple[str, str]] = Counter()  # (target, "YYYY-MM") → bulk messages
        self._calls: Counter[tuple[str, int]] = Counter()
        self._failures: list[tuple[int, str | None]] = []
        self._drops: list[str] = []
        self._http_answers: list[tuple[str, int, Any]] = []
        self.latency_s: dict[str, float] = {}  # path → seconds each answer takes (a slow API)
        self._ids = itertools.count(1)

    # --- test controls ----------------------------------------------------------------------

    def add_customer(self, userid: str, external_userid: str) -> None:
        with self.lock:
            self.staff.add(userid)
            self.customers.setdefault(userid, set()).add(external_userid)

    def remove_customer(self, userid: str, external_userid: str) -> None:
        with self.lock:
            self.customers.get(userid, set()).discard(external_userid)

    def add_group_chat(self, owner: str, chat_id: str) -> None:
        with self.lock:
            self.staff.add(owner)
            self.groups[chat_id] = owner

    def add_corp_tag(self, group_name: str, tag_name: str) -> str:
        with self.lock:
            group = next((g for g in self.tag_groups.values() if g["group_name"] == group_name), None)
            if group is None:
                gid = f"etgroup{next(self._ids)}"
                group = self.tag_groups[gid] = {"group_id": gid, "group_name": group_name, "tags": {}}
            tag_id = f"ettag{next(self._ids)}"
            group["tags"][tag_id] = tag_name
            return tag_id

    def issue_welcome_code(self, userid: str, external_userid: str) -> str:
        """What the add-customer callback carries: valid 20 s, usable once."""
        with self.lock:
            code = f"WELCOME{next(self._ids)}"
            self.welcome_codes[code] = {"userid": userid, "external_userid": external_userid, "at": self.now}
            return code

    def fail_next(self, n: int, errcode: int, path: str | None = None) -> None:
        """The next ``n`` calls (to ``path`` if given; gettoken excluded) answer ``errcode``."""
        with self.lock:
            self._failures.extend([(errcode, path)] * n)

    def drop_next_response(self, path: str) -> None:
        """The next call to ``path`` is carried out but its answer is lost (HTTP 502 from a proxy):
        the caller cannot know whether it happened."""
        with self.lock:
            self._drops.append(path)

    def answer_next(self, path: str, status: int, body: Any, n: int = 1) -> None:
        """The next ``n`` calls to ``path`` answer HTTP ``status`` with ``body`` and are not
        carried out: WeCom's front end or a proxy failing (a 5xx may well carry a JSON body)."""
        with self.lock:
            self._http_answers.extend([(path, status, body)] * n)

    def recover(self) -> None:
        """Injected HTTP answers still queued are dropped: the API works again."""
        with self.lock:
            self._http_answers.clear()

    def add_task(self, sender: str, targets: list[str], text: str, chat_type: str = "single") -> str:
        """A task on record as if created through add_msg_template (for volume tests)."""
        with self.lock:
            msgid = f"msg{next(self._ids)}"
            self.tasks[msgid] = Task(msgid, chat_type, sender, text, [], int(self.now), list(targets))
            return msgid

    def seed_received(self, target: str, n: int) -> None:
        """``target`` already received ``n`` bulk messages this month (from elsewhere)."""
        with self.lock:
            self.received[(target, _month(self.now))] += n

    def confirm_send(self, msgid: str) -> None:
        """The staff member confirms the task: each customer / group receives it now, unless it
        is no longer a customer (status 2) or has had this month's quota (status 3)."""
        with self.lock:
            task = self.tasks[msgid]
            task.send_time = int(self.now)
            month, limit = _month(self.now), _days_in_month(self.now)
            for target in task.targets:
                if task.chat_type == "single" and target not in self.customers.get(task.sender, set()):
                    task.status[target] = 2
                elif self.received[(target, month)] >= limit:
                    task.status[target] = 3
                else:
                    task.status[target] = 1
                    self.received[(target, month)] += 1

    def sent_by_external_userid(self) -> dict[str, int]:
        """How many 1:1 tasks each customer was included in (accepted by WeCom)."""
        counts: Counter[str] = Counter()
        for task in self.tasks.values():
            if task.chat_type == "single":
                counts.update(task.targets)
        return dict(counts)

    def tasks_with_text(self, text: str) -> int:
        return sum(1 for t in self.tasks.values() if t.text == text)

    # --- dispatch ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        if self.latency_s.get(request.path):
            time.sleep(self.latency_s[request.path])
        with self.lock:
            try:
                if request.path == "/cgi-bin/gettoken":
                    return json_response(self._gettoken(request.query))
                self._check_token(request.query.get("access_token"))
                for i, (path, status, body) in enumerate(self._http_answers):
                    if path == request.path:
                        del self._http_answers[i]
                        return Response(status, body)
                self._check_limits(request.path)
                route = getattr(self, "extra_routes", {}).get(request.path) or ROUTES.get(request.path)
                if route is None:
                    return Response(404, {"errcode": 404, "errmsg": "no such api"})
                body = request.json() if request.method == "POST" else dict(request.query)
                if not isinstance(body, dict):
                    raise Refusal(47001, "data format error")
                answer = json_response({"errcode": 0, "errmsg": "ok", **route(self, body)})
                if request.path in self._drops:
                    self._drops.remove(request.path)
                    return Response(502, "Bad Gateway")
                return answer
            except Refusal as exc:
                return json_response({"errcode": exc.errcode, "errmsg": exc.errmsg})

    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        if not query.get("corpid"):
            raise Refusal(41002, "corpid missing")
        if not query.get("corpsecret"):
            raise Refusal(41004, "corpsecret missing")
        if query["corpid"] != self.corp_id:
            raise Refusal(40013, "invalid corpid")
        if query["corpsecret"] != self.corp_secret:
            raise Refusal(40001, "invalid credential")
        self.gettoken_calls += 1
        token = f"TOKEN{next(self._ids)}"
        self.tokens[token] = self.now + self.token_ttl_s
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl_s}

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise Refusal(41001, "access_token missing")
        if token not in self.tokens:
            raise Refusal(40014, "invalid access_token")
        if self.now >= self.tokens[token]:
            raise Refusal(42001, "access_token expired")

    def _check_limits(self, path: str) -> None:
        for i, (errcode, only) in enumerate(self._failures):
            if only is None or only == path:
                del self._failures[i]
                raise Refusal(errcode, "injected failure")
        minute = int(self.now // 60)
        self._calls[(path, minute)] += 1
        if self._calls[(path, minute)] > self.per_minute_limit:
            raise Refusal(45009, "api freq out of limit")

    def _staff(self, userid: Any, errcode: int = 41009) -> str:
        if not userid:
            raise Refusal(errcode, "userid missing")
        if userid not in self.staff:
            raise Refusal(40003, f"invalid userid {userid}")
        return str(userid)

    # --- bulk messages (92135, 93338) -------------------------------------------------------

    def add_msg_template(self, body: dict[str, Any]) -> dict[str, Any]:
        chat_type = body.get("chat_type", "single")
        text, attachments = _message_content(body)
        sender = body.get("sender")
        if chat_type == "group":
            owner = self._staff(sender)
            chats = list(body.get("chat_id_list") or [c for c, o in self.groups.items() if o == owner])
            if len(chats) > 2000:
                raise Refusal(40058, "chat_id_list exceed max size 2000")
            targets, fail_list = [c for c in chats if self.groups.get(c) == owner], []
        elif chat_type == "single":
            wanted = list(body.get("external_userid") or [])
            if not wanted and not sender:
                raise Refusal(40058, "external_userid and sender cannot both be empty")
            if len(wanted) > 10_000:
                raise Refusal(40058, "external_userid exceed max size 10000")
            if sender:
                self._staff(sender)
            mine = self.customers.get(str(sender), set())
            wanted = wanted or sorted(mine)
            targets = [e for e in dict.fromkeys(wanted) if e in mine]
            fail_list = [e for e in dict.fromkeys(wanted) if e not in mine]
        else:
            raise Refusal(40058, f"invalid chat_type {chat_type}")
        if not targets:
            raise Refusal(41048, "no customer to send")
        msgid = f"msg{next(self._ids):08d}"
        self.tasks[msgid] = Task(msgid, chat_type, str(sender), text, attachments, int(self.now), targets)
        self.tasks[msgid].status = {t: 0 for t in targets}
        return {"msgid": msgid, "fail_list": fail_list}

    def get_groupmsg_list_v2(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("chat_type", "start_time", "end_time"):
            if body.get(name) in (None, ""):
                raise Refusal(40058, f"{name} missing")
        start, end = int(body["start_time"]), int(body["end_time"])
        if end < start or end - start > 31 * 86400:
            raise Refusal(40058, "the range of start_time and end_time must be within one month")
        if body.get("creator") or int(body.get("filter_type", 2)) == 1:
            rows: list[Task] = []  # API-created tasks have no creator and are 企业发表 (create_type 0)
        else:
            rows = [
                t
                for t in self.tasks.values()
                if t.chat_type == body["chat_type"] and start <= t.create_time <= end
            ]
        items = [
            {
                "msgid": t.msgid,
                "create_time": str(t.create_time),
                "create_type": 0,
                "text": {"content": t.text},
            }
            | ({"attachments": t.attachments} if t.attachments else {})
            for t in rows
        ]
        return _page(items, body, "group_msg_list", default=50, maximum=100)

    def get_groupmsg_task(self, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task(body)
        row: dict[str, Any] = {"userid": task.sender, "status": 2 if task.send_time else 0}
        if task.send_time:
            row["send_time"] = task.send_time
        return _page([row], body, "task_list", default=500, maximum=1000)

    def get_groupmsg_send_result(self, body: dict[str, Any]) -> dict[str, Any]:
        task = self._task(body)
        userid = self._staff(body.get("userid"))
        rows: list[dict[str, Any]] = []
        if userid == task.sender:
            for target, status in task.status.items():
                if task.chat_type == "group" and status != 1:
                    continue  # 93338: group tasks list only what was sent
                row = {"userid": userid, "status": status}
                row["external_userid" if task.chat_type == "single" else "chat_id"] = target
                if status == 1:
                    row["send_time"] = task.send_time
                rows.append(row)
        return _page(rows, body, "send_list", default=500, maximum=1000)

    def _task(self, body: dict[str, Any]) -> Task:
        if not body.get("msgid"):
            raise Refusal(41046, "msgid missing")
        if body["msgid"] not in self.tasks:
            raise Refusal(41047, "invalid msgid")
        return self.tasks[body["msgid"]]

    # --- welcome (92137) --------------------------------------------------------------------

    def send_welcome_msg(self, body: dict[str, Any]) -> dict[str, Any]:
        code = body.get("welcome_code")
        if not code:
            raise Refusal(41049, "welcome_code missing")
        text, attachments = _message_content(body)
        issued = self.welcome_codes.get(code)
        if issued is None or self.now - issued["at"] > 20:
            raise Refusal(41050, "invalid welcome_code")
        if issued.get("used"):
            raise Refusal(self.welcome_taken_errcode, "externaluser has started chatting")
        issued["used"] = True
        self.welcomes_sent.append({"welcome_code": code, "text": text, "attachments": attachments} | issued)
        return {}

    # --- moments (95094, 93333) -------------------------------------------------------------

    def add_moment_task(self, body: dict[str, Any]) -> dict[str, Any]:
        text = (body.get("text") or {}).get("content") or ""
        attachments = body.get("attachments") or []
        if len(text) > 2000:
            raise Refusal(40058, "invalid text size")
        if not text and not attachments:
            raise Refusal(40058, "text and attachments cannot both be empty")
        kinds = {a.get("msgtype") for a in attachments}
        if not kinds <= {"image", "link", "video"} or len(kinds) > 1:
            raise Refusal(40058, "invalid attachments msgtype")
        if len(attachments) > (9 if kinds == {"image"} else 1):
            raise Refusal(40058, "invalid attachments size")
        for a in attachments:
            if not (a.get(a["msgtype"]) or {}).get("media_id"):
                raise Refusal(41006, "media_id missing")
        minute = int(self.now // 60)
        if self._calls[("moments", minute)] >= self.moments_per_minute:
            raise Refusal(45009, "api freq out of limit: 10 moments per minute")
        self._calls[("moments", minute)] += 1
        senders = list(((body.get("visible_range") or {}).get("sender_list") or {}).get("user_list") or [])
        valid = [u for u in senders if u in self.staff] if senders else sorted(self.staff)
        moment_id = f"mom{next(self._ids)}"
        self.moments[moment_id] = {"create_time": int(self.now), "text": text, "senders": valid, "body": body}
        jobid = f"job{next(self._ids)}"
        result = {"errcode": 0, "errmsg": "ok", "moment_id": moment_id}
        result["invalid_sender_list"] = {"user_list": [u for u in senders if u not in self.staff]}
        self.jobs[jobid] = {"status": 3, "type": "add_moment_task", "result": result}
        return {"jobid": jobid}

    def get_moment_task_result(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("jobid"):
            raise Refusal(40058, "jobid missing")
        if body["jobid"] not in self.jobs:
            raise Refusal(40088, "jobid not found")
        return dict(self.jobs[body["jobid"]])

    def get_moment_list(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = int(body.get("start_time") or 0), int(body.get("end_time") or 0)
        if not start or not end or end - start > 30 * 86400:
            raise Refusal(40058, "start_time and end_time required, at most 30 days apart")
        rows = [
            {
                "moment_id": mid,
                "create_time": str(m["create_time"]),
                "create_type": 0,
                "text": {"content": m["text"]},
            }
            for mid, m in self.moments.items()
            if start <= m["create_time"] <= end and int(body.get("filter_type", 2)) != 1
        ]
        return _page(rows, body, "moment_list", default=20, maximum=20)

    def get_moment_task(self, body: dict[str, Any]) -> dict[str, Any]:
        moment = self.moments.get(body.get("moment_id") or "")
        if moment is None:
            raise Refusal(41060, "invalid moment_id")
        rows = [{"userid": u, "publish_status": 0} for u in moment["senders"]]
        return _page(rows, body, "task_list", default=500, maximum=1000)

    # --- tags (92117, 92118) ----------------------------------------------------------------

    def get_corp_tag_list(self, body: dict[str, Any]) -> dict[str, Any]:
        groups = [
            {
                "group_id": g["group_id"],
                "group_name": g["group_name"],
                "tag": [{"id": tid, "name": name, "order": 0} for tid, name in g["tags"].items()],
            }
            for g in self.tag_groups.values()
            if not body.get("group_id") or g["group_id"] in body["group_id"]
        ]
        return {"tag_group": groups}

    def mark_tag(self, body: dict[str, Any]) -> dict[str, Any]:
        userid = self._staff(body.get("userid"))
        external = body.get("external_userid")
        if not external:
            raise Refusal(41035, "external_userid missing")
        if external not in self.customers.get(userid, set()):
            raise Refusal(40096, "invalid external_userid")
        add, remove = list(body.get("add_tag") or []), list(body.get("remove_tag") or [])
        if not add and not remove:
            raise Refusal(40058, "add_tag and remove_tag cannot both be empty")
        known = {tid for g in self.tag_groups.values() for tid in g["tags"]}
        if any(t not in known for t in add + remove):
            raise Refusal(40068, "invalid tagid")
        tags = self.contact_tags.setdefault((userid, external), set())
        tags.update(add)
        tags.difference_update(remove)
        return {}


def _message_content(body: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    text = (body.get("text") or {}).get("content") or ""
    attachments = body.get("attachments") or []
    if not text and not attachments:
        raise Refusal(44004, "text and attachments cannot both be empty")
    if len(text.encode()) > 4000:
        raise Refusal(45002, "content size out of limit")
    if len(attachments) > 9:
        raise Refusal(40058, "invalid attachments size")
    for a in attachments:
        kind = a.get("msgtype")
        inner = a.get(kind) if kind in ATTACHMENT_TYPES else None
        if not isinstance(inner, dict):
            raise Refusal(41065, "invalid attachment type")
        if kind == "image" and not (inner.get("media_id") or inner.get("pic_url")):
            raise Refusal(41006, "media_id missing")
        if kind in ("link", "miniprogram") and not inner.get("title"):
            raise Refusal(41016, "title missing")
        if kind == "link" and not inner.get("url"):
            raise Refusal(41010, "url missing")
        if kind == "miniprogram" and not (
            inner.get("appid") and inner.get("page") and inner.get("pic_media_id")
        ):
            raise Refusal(40058, "miniprogram needs appid, page and pic_media_id")
        if kind in ("video", "file") and not inner.get("media_id"):
            raise Refusal(41006, "media_id missing")
    return text, attachments


def _page(
    items: list[dict[str, Any]], body: dict[str, Any], name: str, default: int, maximum: int
) -> dict[str, Any]:
    limit = int(body.get("limit") or default)
    limit = default if limit > maximum else limit  # "超过最大值时取默认值"
    offset = int(body.get("cursor") or 0)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return {name: page, "next_cursor": str(offset + limit) if more else ""}


def _month(ts: float) -> str:
    return datetime.fromtimestamp(ts, SHANGHAI).strftime("%Y-%m")


def _days_in_month(ts: float) -> int:
    local = datetime.fromtimestamp(ts, SHANGHAI)
    return calendar.monthrange(local.year, local.month)[1]


ROUTES = {
    f"{EC}/{name}": getattr(WeComEmulator, name)
    for name in (
        "add_msg_template",
        "get_groupmsg_list_v2",
        "get_groupmsg_task",
        "get_groupmsg_send_result",
        "send_welcome_msg",
        "add_moment_task",
        "get_moment_task_result",
        "get_moment_list",
        "get_moment_task",
        "get_corp_tag_list",
        "mark_tag",
    )
}
# Contact ways, links, sync and transfers (wecom_ways.py); customer groups, group live codes,
# welcome templates and group statistics (wecom_groups.py).
for _module in ("tests.emulators.wecom_ways", "tests.emulators.wecom_groups"):
    ROUTES.update(__import__(_module, fromlist=["ROUTES"]).ROUTES)
