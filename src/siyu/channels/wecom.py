"""WeCom (企业微信) customer-contact adapter: private (1:1) and group bulk messages, moments
posts, welcome messages, delivery results and corp-tag sync.

A WeCom "send" creates a *task*: the staff member (员工) confirms it in the WeCom client and only
then does the customer receive it (92135). So ``send`` answers ``sent`` when WeCom accepted the
task, and the receipt (``delivered`` / ``failed``) follows from ``get_groupmsg_send_result``
(93338) once the staff member has acted: status 1 delivered, 2 no longer a customer of that
staff member, 3 the customer has had this month's quota of bulk messages (每位客户每月最多可接收
当月天数条群发) → ``wecom_monthly_limit``.

Exactly-once. add_msg_template has no caller-context field, so the idempotency key cannot travel
with the task. ``lookup`` instead lists the corp-created tasks (``get_groupmsg_list_v2``,
``filter_type`` 0) created since ``since`` and matches a task whose ``text.content`` equals the
message text and whose recipients (``get_groupmsg_send_result`` for the sender, which lists the
unsent customers of a 1:1 task too) include the customer. Journey messages carry a unique tracked
short link, so their text is unique per message. The ``creator`` filter is not used: 93338 says
tasks created through the API do not carry a creator. Welcome messages need no lookup: a
``welcome_code`` is usable once, so a repeated call can never send twice.

Provider message ids: a 1:1 message is ``"{msgid}:{external_userid}"`` (several customers share
one task when the content is identical, and a receipt must name one message); a group message
is the ``msgid``; a moments post is the ``jobid`` of add_moment_task; a welcome message has none.
``detail`` always carries the raw ``msgid`` / ``jobid``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import orjson

from siyu.channels.base import OutboundMessage, Receipt, SendResult
from siyu.channels.http import ProviderError
from siyu.channels.wecom_api import ContentError, WeComApi, WeComError, message_body, moment_body

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
EC = "/cgi-bin/externalcontact"
MAX_EXTERNAL_USERIDS = 10_000  # add_msg_template: 最多可传入1万个客户
MAX_CHAT_IDS = 2000  # add_msg_template: chat_id_list, at most 2000 groups
LIST_WINDOW = timedelta(days=30)  # get_groupmsg_list_v2 / get_moment_list: range ≤ 1 month
WELCOME_TAKEN = {41051, 41096}  # 92137 documents 41051 for "another app sent it first"; 41096 too
SEND_STATUS_ERRORS = {2: "wecom_not_customer", 3: "wecom_monthly_limit"}
TASK_STAFF_CACHE = 50_000  # tasks whose staff list the receipt poller remembers


class WeComAdapter:
    """See the module docstring. Besides the :class:`~siyu.channels.base.ChannelAdapter`
    methods it offers :meth:`poll_results`, :meth:`moment_task_result`, :meth:`mark_tag` and
    :meth:`corp_tags`."""

    kind = "wecom"
    messages_per_call = None  # one add_msg_template task carries up to 10,000 customers
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "base_url": f"API root (default {DEFAULT_BASE_URL})",
        "corp_id": "required; the corp id (企业ID, 'ww…')",
        "agent_id": "optional; the self-built app allowed to call the customer-contact API",
        "rate_per_s": "client-side call rate limit (default 100/s; WeCom allows 10,000/min per API)",
        "receipt_rate_per_s": "call rate of the receipt poller, apart from sends (default 50/s)",
        "retries": "retries after 45009/45033 and network errors (default 3)",
        "backoff_s": "first retry delay in seconds, doubled each retry (default 0.5)",
        "rate_retries": "retries after 45009/45033 alone (default 6; never fewer than retries)",
        "max_backoff_s": "longest wait between two retries in seconds (default 60)",
    }
    SECRET_FIELDS: ClassVar[dict[str, str]] = {
        "corp_secret": "required; the secret of the customer-contact app (客户联系 secret)",
        "callback_token": "optional; the callback Token set in WeCom's admin (接收事件服务器 Token)",
        "encoding_aes_key": "optional; the callback EncodingAESKey (43 characters, 接收事件服务器)",
    }

    @staticmethod
    def check_secrets(secrets: dict[str, Any]) -> None:
        """Callbacks need both the token and the key, and the key must be WeCom's 43 characters
        of base64 (it decodes to the 32-byte AES key): refused when saved, not at the first event."""
        token, key = secrets.get("callback_token"), secrets.get("encoding_aes_key")
        if bool(token) != bool(key):
            raise ValueError(
                "secrets.callback_token and secrets.encoding_aes_key: set both for callbacks, or neither"
            )
        if key:
            key = str(key)
            try:
                ok = len(key) == 43 and len(base64.b64decode(key + "=", validate=True)) == 32
            except (binascii.Error, ValueError):
                ok = False
            if not ok:
                raise ValueError("secrets.encoding_aes_key: must be the 43 characters WeCom's admin shows")

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        if not config.get("corp_id"):
            raise ValueError("wecom: config corp_id is required")
        if not secrets.get("corp_secret"):
            raise ValueError("wecom: secret corp_secret is required")
        self.agent_id = config.get("agent_id")
        self.api = WeComApi(
            str(config.get("base_url") or DEFAULT_BASE_URL),
            str(config["corp_id"]),
            str(secrets["corp_secret"]),
            rate_per_s=float(config.get("rate_per_s", 100)),
            retries=int(config.get("retries", 3)),
            backoff_s=float(config.get("backoff_s", 0.5)),
            rate_retries=int(config.get("rate_retries", 6)),
            max_backoff_s=float(config.get("max_backoff_s", 60)),
        )
        self._task_staff: dict[str, list[str]] = {}

    def close(self) -> None:
        self.api.close()

    # --- send -------------------------------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """One result per message, in order. 1:1 messages with the same sender and identical
        content share one add_msg_template task (up to 10,000 customers, never the same customer
        twice in one task)."""
        results: list[SendResult | None] = [None] * len(messages)
        batches: dict[bytes, list[list[int]]] = {}
        for i, msg in enumerate(messages):
            try:
                if msg.channel == "wecom_private":
                    self._batch(batches, i, msg, messages)
                elif msg.channel == "wecom_group":
                    results[i] = self._send_group(msg)
                elif msg.channel == "wecom_moment":
                    results[i] = self._send_moment(msg)
                elif msg.channel == "wecom_welcome":
                    results[i] = self._send_welcome(msg)
                elif msg.channel == "wecom_tag":
                    results[i] = self._sync_tags(msg)
                else:
                    results[i] = SendResult("failed", error=f"unsupported_channel: {msg.channel}")
            except ContentError as exc:
                results[i] = SendResult(
                    "failed", error=f"invalid_content: {exc}", detail={"field": exc.field}
                )
            except ProviderError as exc:
                results[i] = _failure(exc)
        for chunks in batches.values():
            for chunk in chunks:
                for i, result in zip(chunk, self._send_private(chunk, messages), strict=True):
                    results[i] = result
        return [r if r is not None else SendResult("failed", error="internal: no result") for r in results]

    def _batch(
        self,
        batches: dict[bytes, list[list[int]]],
        i: int,
        msg: OutboundMessage,
        all_: Sequence[OutboundMessage],
    ) -> None:
        sender, customer = msg.recipient.wecom_staff_userid, msg.recipient.wecom_external_userid
        if not customer:
            raise ContentError("recipient.wecom_external_userid", "is required for wecom_private")
        if not sender:
            raise ContentError("recipient.wecom_staff_userid", "is required (the sending staff member)")
        key = orjson.dumps([sender, message_body(msg.content)], option=orjson.OPT_SORT_KEYS)
        for chunk in batches.setdefault(key, []):
            taken = {all_[j].recipient.wecom_external_userid for j in chunk}
            if len(chunk) < MAX_EXTERNAL_USERIDS and customer not in taken:
                chunk.append(i)
                return
        batches[key].append([i])

    def _send_private(self, chunk: list[int], messages: Sequence[OutboundMessage]) -> list[SendResult]:
        first = messages[chunk[0]]
        sender = first.recipient.wecom_staff_userid
        customers = [messages[i].recipient.wecom_external_userid for i in chunk]
        body = {"chat_type": "single", "external_userid": customers, "sender": sender}
        try:
            data = self.api.call(
                "POST", f"{EC}/add_msg_template", body | message_body(first.content), creates=True
            )
        except ProviderError as exc:
            if isinstance(exc, WeComError) and exc.errcode == 41048:  # 无可发送的客户
                return [_unreachable(c, exc.errmsg) for c in customers]
            return [_failure(exc) for _ in chunk]
        if not data.get("msgid"):
            # errcode 0 without a task id: we cannot tell what WeCom did, so ask before resending
            exc = ProviderError(f"{EC}/add_msg_template: errcode 0 but no msgid", temporary=True)
            return [_failure(exc) for _ in chunk]
        msgid = str(data["msgid"])
        failed = set(data.get("fail_list") or [])
        return [
            _unreachable(c, "in fail_list")
            if c in failed
            else SendResult(
                "sent",
                provider_message_id=f"{msgid}:{c}",
                detail={"msgid": msgid, "external_userid": c, "sender": sender, "batch_size": len(chunk)},
            )
            for c in customers
        ]

    def _send_group(self, msg: OutboundMessage) -> SendResult:
        owner = msg.recipient.wecom_staff_userid
        if not owner:
            raise ContentError("recipient.wecom_staff_userid", "is required (the group owner who sends)")
        body: dict[str, Any] = {"chat_type": "group", "sender": owner} | message_body(msg.content)
        chat_ids = msg.content.get("chat_id_list") or []
        if len(chat_ids) > MAX_CHAT_IDS:
            raise ContentError("chat_id_list", f"{len(chat_ids)} groups; WeCom allows at most {MAX_CHAT_IDS}")
        if chat_ids:
            body["chat_id_list"] = list(chat_ids)
        msgid = _created(self.api.call("POST", f"{EC}/add_msg_template", body, creates=True), "msgid")
        return SendResult("sent", provider_message_id=msgid, detail={"msgid": msgid, "sender": owner})

    def _send_moment(self, msg: OutboundMessage) -> SendResult:
        body = moment_body(msg.content)
        visible: dict[str, Any] = {}
        if msg.recipient.wecom_staff_userid:
            visible["sender_list"] = {"user_list": [msg.recipient.wecom_staff_userid]}
        if msg.content.get("visible_tags"):
            visible["external_contact_list"] = {"tag_list": list(msg.content["visible_tags"])}
        if visible:
            body["visible_range"] = visible
        jobid = _created(self.api.call("POST", f"{EC}/add_moment_task", body, creates=True), "jobid")
        return SendResult("sent", provider_message_id=jobid, detail={"jobid": jobid})

    def _send_welcome(self, msg: OutboundMessage) -> SendResult:
        code = msg.content.get("welcome_code")
        if not code:
            raise ContentError("welcome_code", "is required (from the add-customer callback)")
        try:
            self.api.call(
                "POST",
                f"{EC}/send_welcome_msg",
                {"welcome_code": code} | message_body(msg.content),
                creates=True,
            )
        except WeComError as exc:
            if exc.errcode in WELCOME_TAKEN:
                why = f"another app already sent the welcome message ({exc.errcode})"
                return SendResult("failed", error=f"wecom_welcome_taken: {why}")
            if exc.errcode == 41050:
                return SendResult(
                    "failed", error="wecom_welcome_code_expired: welcome_code is valid 20 s, once"
                )
            raise
        return SendResult("sent", detail={"welcome_code": code})

    # --- exactly-once -----------------------------------------------------------------------

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """WeCom's record of ``message`` if a task with its text (and its customer, for 1:1)
        was created since ``since``; None if there is none. Raises :class:`ProviderError` when
        WeCom cannot be asked right now (the dispatcher must not re-send blindly then)."""
        text = message.content.get("text") or ""
        sender = message.recipient.wecom_staff_userid
        if message.channel == "wecom_tag":
            return None  # marking tags is idempotent: doing it again is the answer
        if message.channel == "wecom_welcome" or not text or not sender:
            return None  # a welcome_code is single-use; without text or sender nothing to match
        if message.channel == "wecom_moment":
            return self._lookup_moment(text, sender, since)
        chat_type = "single" if message.channel == "wecom_private" else "group"
        customer = message.recipient.wecom_external_userid
        for task in self._tasks(chat_type, since):
            if (task.get("text") or {}).get("content") != text:
                continue
            msgid = str(task["msgid"])
            if chat_type == "single":
                sends = self._send_list(msgid, sender)
                if any(s.get("external_userid") == customer for s in sends):
                    return SendResult(
                        "sent",
                        provider_message_id=f"{msgid}:{customer}",
                        detail={
                            "msgid": msgid,
                            "external_userid": customer,
                            "sender": sender,
                            "found_by": "lookup",
                        },
                    )
            else:
                staff = self.api.pages(
                    f"{EC}/get_groupmsg_task", {"msgid": msgid, "limit": 1000}, "task_list"
                )
                if any(t.get("userid") == sender for t in staff):
                    return SendResult(
                        "sent", provider_message_id=msgid, detail={"msgid": msgid, "found_by": "lookup"}
                    )
        return None

    def _lookup_moment(self, text: str, sender: str, since: datetime) -> SendResult | None:
        for start, end in _windows(since):
            body = {"start_time": start, "end_time": end, "filter_type": 0, "limit": 20}
            for moment in self.api.pages(f"{EC}/get_moment_list", body, "moment_list"):
                if (moment.get("text") or {}).get("content") != text:
                    continue
                mid = str(moment["moment_id"])
                staff = self.api.pages(
                    f"{EC}/get_moment_task", {"moment_id": mid, "limit": 1000}, "task_list"
                )
                if any(t.get("userid") == sender for t in staff):
                    return SendResult(
                        "sent", provider_message_id=mid, detail={"moment_id": mid, "found_by": "lookup"}
                    )
        return None

    def _tasks(self, chat_type: str, since: datetime) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        for start, end in _windows(since):
            body = {
                "chat_type": chat_type,
                "start_time": start,
                "end_time": end,
                "filter_type": 0,
                "limit": 100,
            }
            tasks.extend(self.api.pages(f"{EC}/get_groupmsg_list_v2", body, "group_msg_list"))
        return tasks

    def _send_list(self, msgid: str, userid: str) -> list[dict[str, Any]]:
        body = {"msgid": msgid, "userid": userid, "limit": 1000}
        return self.api.pages(f"{EC}/get_groupmsg_send_result", body, "send_list")

    # --- receipts ---------------------------------------------------------------------------

    def receipts(self, since: datetime) -> list[Receipt]:
        """Results of every corp-created task since ``since`` (1:1 and group), for every staff
        member it went to. Repeats the same receipts on every poll: record them idempotently."""
        out: list[Receipt] = []
        for chat_type in ("single", "group"):
            for task in self._tasks(chat_type, since):
                msgid = str(task["msgid"])
                staff = self.api.pages(
                    f"{EC}/get_groupmsg_task", {"msgid": msgid, "limit": 1000}, "task_list"
                )
                for userid in dict.fromkeys(str(t["userid"]) for t in staff if t.get("userid")):
                    out.extend(_receipts(msgid, self._send_list(msgid, userid)))
        return out

    def task_receipts(self, msgid: str) -> list[Receipt]:
        """Receipts of one task for every staff member it went to (what the receipt poller asks,
        task by task). A task's staff list never changes, so it is fetched once and cached:
        later polls of the same task cost one call per staff member."""
        staff = self._task_staff.get(msgid)
        if staff is None:
            rows = self.api.pages(f"{EC}/get_groupmsg_task", {"msgid": msgid, "limit": 1000}, "task_list")
            staff = list(dict.fromkeys(str(t["userid"]) for t in rows if t.get("userid")))
            if len(self._task_staff) >= TASK_STAFF_CACHE:
                self._task_staff.pop(next(iter(self._task_staff)))  # oldest first
            self._task_staff[msgid] = staff
        out: list[Receipt] = []
        for userid in staff:
            out.extend(_receipts(msgid, self._send_list(msgid, userid)))
        return out

    def poll_results(self, msgids: list[str], sender: str) -> list[Receipt]:
        """Receipts for the given tasks of one staff member. ``msgids`` may be raw msgids or the
        ``"{msgid}:{external_userid}"`` provider message ids ``send`` returned. Customers the
        staff member has not yet sent to yield nothing (status 0)."""
        out: list[Receipt] = []
        for msgid in dict.fromkeys(m.split(":", 1)[0] for m in msgids):
            out.extend(_receipts(msgid, self._send_list(msgid, sender)))
        return out

    def moment_task_result(self, jobid: str) -> dict[str, Any]:
        """get_moment_task_result: ``status`` (1 started, 2 running, 3 done) and ``result`` with
        ``moment_id`` and the invalid senders / tags."""
        return self.api.call("GET", f"{EC}/get_moment_task_result", params={"jobid": jobid})

    # --- tags -------------------------------------------------------------------------------

    def _sync_tags(self, msg: OutboundMessage) -> SendResult:
        """Tag sync (``wecom_tag``): content ``{"add": [tag ids], "remove": [tag ids]}`` marked on
        the customer as seen by its staff member, so WeCom shows what siyu knows."""
        userid, customer = msg.recipient.wecom_staff_userid, msg.recipient.wecom_external_userid
        if not userid or not customer:
            raise ContentError(
                "recipient", "tag sync needs the staff member and the customer's external_userid"
            )
        add = [str(t) for t in msg.content.get("add") or []]
        remove = [str(t) for t in msg.content.get("remove") or []]
        if not add and not remove:
            raise ContentError("add", "give tag ids to add or remove")
        self.mark_tag(userid, customer, add, remove)
        return SendResult("sent")

    def mark_tag(self, userid: str, external_userid: str, add_tag: list[str], remove_tag: list[str]) -> None:
        """Add/remove corp tags (ids) on the customer ``external_userid`` of staff member
        ``userid`` (92118). Raises :class:`ProviderError` on any error."""
        body: dict[str, Any] = {"userid": userid, "external_userid": external_userid}
        if add_tag:
            body["add_tag"] = list(add_tag)
        if remove_tag:
            body["remove_tag"] = list(remove_tag)
        self.api.call("POST", f"{EC}/mark_tag", body)

    def corp_tags(self) -> list[dict[str, Any]]:
        """The corp tag library (92117): tag groups, each with ``group_id``, ``group_name`` and
        ``tag`` (``id``, ``name``, ``order``, …)."""
        return list(self.api.call("POST", f"{EC}/get_corp_tag_list", {}).get("tag_group") or [])


def _windows(since: datetime) -> list[tuple[int, int]]:
    """[since - 1 min, now + 1 min] cut into ≤ 30-day windows (list APIs refuse longer ranges);
    the minute either side absorbs clock skew between us and WeCom."""
    start = (since if since.tzinfo else since.replace(tzinfo=UTC)) - timedelta(minutes=1)
    end = datetime.now(UTC) + timedelta(minutes=1)
    out: list[tuple[int, int]] = []
    while start < end:
        stop = min(start + LIST_WINDOW, end)
        out.append((int(start.timestamp()), int(stop.timestamp())))
        start = stop
    return out


def _receipts(msgid: str, send_list: list[dict[str, Any]]) -> list[Receipt]:
    out: list[Receipt] = []
    group_delivered = False
    for entry in send_list:
        status = int(entry.get("status", 0))
        if status == 0:
            continue
        at = (
            datetime.fromtimestamp(int(entry["send_time"]), UTC)
            if entry.get("send_time")
            else datetime.now(UTC)
        )
        customer = entry.get("external_userid")
        if customer:
            error = SEND_STATUS_ERRORS.get(status)
            out.append(Receipt(None, f"{msgid}:{customer}", "failed" if error else "delivered", at, error))
        elif status == 1 and not group_delivered:  # a group task is delivered once the owner sent it
            group_delivered = True
            out.append(Receipt(None, msgid, "delivered", at))
    return out


def _created(answer: dict[str, Any], field: str) -> str:
    """The id a create call answered; its absence is an unknown outcome (a retry that asks
    ``lookup`` first), never a crash that loses the other results of the batch."""
    value = answer.get(field)
    if not value:
        raise ProviderError(f"errcode 0 but no {field} in the answer", temporary=True)
    return str(value)


def _unreachable(customer: str | None, why: str) -> SendResult:
    return SendResult(
        "failed",
        error=f"wecom_unreachable: {customer} is invalid or not a customer of the sender ({why})",
        detail={"external_userid": customer},
    )


def _failure(exc: ProviderError) -> SendResult:
    code = exc.errcode if isinstance(exc, WeComError) else None
    if exc.temporary:
        if code in (45009, 45033):  # refused before WeCom acted: nothing was created
            return SendResult("retry", error=f"wecom_rate_limited: {exc}", retry_after_s=exc.retry_after_s)
        # A network error, 5xx or "system busy" on a create: WeCom may have created the task, so the
        # next attempt must ask ``lookup`` before sending again.
        return SendResult(
            "retry",
            error=f"wecom_temporary: {exc}",
            retry_after_s=exc.retry_after_s,
            detail={"outcome_unknown": True},
        )
    if isinstance(exc, WeComError) and exc.path.endswith("/gettoken"):
        return SendResult("failed", error=f"wecom_auth: {exc}")
    return SendResult("failed", error=f"wecom_{code}: {exc}" if code is not None else f"wecom_error: {exc}")
