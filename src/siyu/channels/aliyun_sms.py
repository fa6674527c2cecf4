"""Aliyun SMS (阿里云短信服务, dysmsapi 2017-05-25) adapter.

What it relies on, from Aliyun's documentation:

* RPC signature V1 ("签名机制", help.aliyun.com/document_detail/28839 and 315526): every request carries
  ``AccessKeyId``, ``Action``, ``Format=JSON``, ``SignatureMethod=HMAC-SHA1``, ``SignatureNonce`` (unique
  per request — a replay gets ``SignatureNonceUsed``), ``SignatureVersion=1.0``, ``Timestamp`` (ISO 8601
  UTC; more than 15 minutes off gets ``InvalidTimeStamp.Expired``) and ``Version``; the string to sign is
  ``METHOD&%2F&percentEncode(canonicalised query)`` over every parameter (query and form body) sorted by
  name, percent-encoded per RFC 3986 (space → ``%20``, ``*`` → ``%2A``, ``~`` kept), and the signature is
  ``Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign))``. V1 is used rather than ACS3-HMAC-SHA256
  because it has a published worked example (``OLeaidS1JvxuMvnyHOwuJ+uX5qY=``) that the tests pin.
  The common parameters and the signature go in the query string and the business parameters in the
  form body, as Aliyun's own RPC SDK does. Signing happens in an ``httpx.Auth`` so every retry of
  :class:`~siyu.channels.http.ProviderHttp` gets a fresh nonce and timestamp.
* ``SendSms`` (PhoneNumbers, SignName, TemplateCode, TemplateParam JSON, OutId) and ``SendBatchSms``
  (PhoneNumberJson, SignNameJson, TemplateCode, TemplateParamJson, OutId "长度小于 256"; up to 100
  numbers) answer ``{"Code": "OK", "BizId": …}``. Aliyun states that neither is idempotent, hence
  ``OutId`` = our idempotency key and :meth:`AliyunSmsAdapter.lookup`.
* ``QuerySendDetails`` (PhoneNumber, SendDate ``yyyyMMdd`` within 30 days, PageSize 1–50, CurrentPage,
  optional BizId) returns ``SmsSendDetailDTOs.SmsSendDetailDTO[]`` with ``OutId``, ``SendStatus``
  (1 waiting for the receipt, 2 failed, 3 delivered), ``ErrCode``, ``SendDate``, ``ReceiveDate``.
* HTTP batch push (HTTP批量推送): ``SmsReport`` is a JSON array of ``phone_number, send_time, report_time,
  success, err_code, err_msg, sms_size, biz_id, out_id``; ``SmsUp`` is a JSON array of ``phone_number,
  send_time, content, sign_name, dest_code, sequence_id``. Both expect ``{"code": 0, "msg": "接收成功"}``.
* Phone numbers: the bare number for the mainland, "国际区号+号码" otherwise (see ``sms_common``).

One ``SendBatchSms`` call has one ``OutId`` and one result, so a batch's ``OutId`` is its members' keys
joined by ``|`` (kept under 256 characters, which bounds the batch size) and ``lookup`` matches a key
inside it. A batch rejected for a reason that may concern a single number (bad number, frequency
control, missing parameter) is re-sent one message at a time to learn which one: a rejected call
accepted nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote

import httpx
import orjson

from siyu.channels.base import Inbound, OutboundMessage, Receipt, SendResult
from siyu.channels.http import ProviderError, ProviderHttp
from siyu.channels.sms_common import (
    CHINA_TZ,
    SmsContent,
    aliyun_phone,
    from_provider_phone,
    parse_china_time,
    sms_content,
    to_e164,
)

API_VERSION = "2017-05-25"
DEFAULT_BASE_URL = "https://dysmsapi.aliyuncs.com"
MAX_BATCH = 100
MAX_OUT_ID = 255  # "长度小于 256 的字符串"
BATCH_KEY_SEPARATOR = "|"
QUERY_DAYS = 30  # QuerySendDetails "支持查询最近 30 天的记录"
#: Records a little older than ``since`` still count: our clock and Aliyun's may differ a bit.
CLOCK_SLACK = timedelta(minutes=10)

#: The answer Aliyun expects from the SmsReport / SmsUp HTTP push receiver.
PUSH_ACK: dict[str, Any] = {"code": 0, "msg": "接收成功"}

#: Gateway and SMS codes after which a later attempt can succeed.
RETRY_CODES = frozenset(
    {
        "Throttling",
        "Throttling.User",
        "Throttling.Api",
        "ServiceUnavailable",
        "InternalError",
        "isp.SYSTEM_ERROR",
        "SignatureNonceUsed",  # the next attempt is signed with a new nonce
    }
)
#: Credentials that Aliyun does not accept: every message fails until someone fixes the config.
AUTH_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "isp.RAM_PERMISSION_DENY",
        "Forbidden.RAM",
    }
)
#: Batch rejections that may be about one number: re-sent one by one to attribute them.
PER_NUMBER_CODES = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.BLACK_KEY_CONTROL_LIMIT",
    }
)


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun specifies it: only ``A-Za-z0-9-_.~`` stay, UTF-8 bytes as ``%XY``."""
    return quote(value, safe="-_.~")


def rpc_string_to_sign(method: str, params: dict[str, str]) -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical)}"


def rpc_signature(method: str, params: dict[str, str], access_key_secret: str) -> str:
    """Signature V1 over every parameter except ``Signature`` itself."""
    to_sign = {k: v for k, v in params.items() if k != "Signature"}
    digest = hmac.new(
        f"{access_key_secret}&".encode(), rpc_string_to_sign(method, to_sign).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


class AliyunRpcAuth(httpx.Auth):
    """Adds the common parameters and the signature to each attempt of a request."""

    requires_request_body = True

    def __init__(self, access_key_id: str, access_key_secret: str, clock: Callable[[], float]) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        query = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        query.pop("Signature", None)
        query.update(
            {
                "AccessKeyId": self.access_key_id,
                "Format": "JSON",
                "SignatureMethod": "HMAC-SHA1",
                "SignatureNonce": uuid.uuid4().hex,
                "SignatureVersion": "1.0",
                "Timestamp": datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        body = dict(parse_qsl(request.content.decode(), keep_blank_values=True)) if request.content else {}
        query["Signature"] = rpc_signature(request.method, {**body, **query}, self.access_key_secret)
        raw = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in query.items())
        request.url = request.url.copy_with(query=raw.encode())
        yield request


def map_aliyun_code(code: str | None, message: str | None) -> SendResult:
    """Aliyun's answer code → our result. Frequency control (``isv.BUSINESS_LIMIT_CONTROL``) is retried
    after its window for the per-minute and per-hour levels; the per-day level fails, because the
    next attempt would be tomorrow and a marketing step that late is a different decision."""
    code = code or "Unknown"
    text = f"{code}: {message or ''}".rstrip(": ")
    if code == "OK":
        return SendResult("sent")
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        msg = message or ""
        if "天" in msg or "day" in msg.lower():
            return SendResult("failed", error=f"daily per-number limit reached ({text})")
        wait = 3600.0 if ("小时" in msg or "hour" in msg.lower()) else 60.0
        return SendResult("retry", error=text, retry_after_s=wait)
    if code in ("HTTP429", "HTTP408") or code.startswith("HTTP5"):
        return SendResult(
            "retry", error=f"{text} (Aliyun may have accepted it; lookup decides)", retry_after_s=5.0
        )
    if code in RETRY_CODES or (code.startswith("isp.") and code not in AUTH_CODES):
        return SendResult("retry", error=text, retry_after_s=1.0 if code.startswith("Throttling") else 5.0)
    if code in AUTH_CODES:
        return SendResult(
            "failed", error=f"Aliyun rejected the credentials ({text}); check access_key_id/access_key_secret"
        )
    if code.startswith("InvalidTimeStamp"):
        return SendResult("failed", error=f"this server's clock is more than 15 minutes off ({text})")
    return SendResult("failed", error=text)


@dataclass(frozen=True)
class _Prepared:
    index: int
    message: OutboundMessage
    content: SmsContent
    phone: str  # Aliyun's form
    e164: str
    sign_name: str


class AliyunSmsAdapter:
    """Sends ``sms`` messages through Aliyun dysmsapi (see the module docstring for the API facts)."""

    kind = "aliyun_sms"
    messages_per_call = MAX_BATCH  # numbers per SendBatchSms call
    #: Calls in flight at once (config ``concurrency``): stateless, and every send can be looked
    #: up by its OutId, so concurrency never costs a duplicate.
    default_concurrency = 4
    max_concurrency = 64
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "base_url": f"API endpoint (default {DEFAULT_BASE_URL})",
        "sign_name": "required: the approved signature (签名) on every message unless content overrides it",
        "region": "RegionId sent with each call (default cn-hangzhou)",
        "rate_per_s": "client-side request rate limit (default 50/s; Aliyun allows 5000 QPS per account)",
    }
    SECRET_FIELDS: ClassVar[dict[str, str]] = {
        "access_key_id": "required: AccessKey ID (RAM user allowed SendSms, SendBatchSms, QuerySendDetails)",
        "access_key_secret": "required: its AccessKey secret",
    }

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        missing = [f for f in ("sign_name",) if not config.get(f)]
        missing += [f for f in ("access_key_id", "access_key_secret") if not secrets.get(f)]
        if missing:
            raise ValueError(f"aliyun_sms: missing {', '.join(missing)}")
        self.sign_name = str(config["sign_name"])
        self.region = str(config.get("region") or "cn-hangzhou")
        self.http = ProviderHttp(
            str(config.get("base_url") or DEFAULT_BASE_URL), rate_per_s=float(config.get("rate_per_s", 50))
        )
        #: Seconds since the epoch; signing timestamps and lookup windows use it (tests may move it).
        self.clock: Callable[[], float] = time.time
        self.auth = AliyunRpcAuth(
            str(secrets["access_key_id"]), str(secrets["access_key_secret"]), lambda: self.clock()
        )

    # -- sending ----------------------------------------------------------------------------------

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        pending: list[_Prepared] = []
        for index, message in enumerate(messages):
            try:
                pending.append(self._prepare(index, message))
            except ValueError as exc:
                results[index] = SendResult("failed", error=str(exc))
        for batch in _batches(pending):
            outcome = self._send_batch(batch) if len(batch) > 1 else [self._send_single(batch[0])]
            for prepared, result in zip(batch, outcome, strict=True):
                results[prepared.index] = result
        return [r if r is not None else SendResult("failed", error="not sent") for r in results]

    def _prepare(self, index: int, message: OutboundMessage) -> _Prepared:
        content = sms_content(message)
        if len(message.key) > MAX_OUT_ID:
            raise ValueError(f"idempotency key longer than Aliyun's OutId allows ({MAX_OUT_ID})")
        return _Prepared(
            index,
            message,
            content,
            aliyun_phone(message.recipient.phone),
            to_e164(message.recipient.phone),
            content.sign_name or self.sign_name,
        )

    def _send_single(self, p: _Prepared) -> SendResult:
        params = {
            "PhoneNumbers": p.phone,
            "SignName": p.sign_name,
            "TemplateCode": p.content.template_code,
            "OutId": p.message.key,
        }
        if p.content.params:
            params["TemplateParam"] = orjson.dumps(p.content.params).decode()
        try:
            body = self._call("SendSms", params)
        except ProviderError as exc:
            return SendResult("retry", error=str(exc), retry_after_s=exc.retry_after_s)
        result = map_aliyun_code(body.get("Code"), body.get("Message"))
        if result.status == "sent":
            result.provider_message_id = body.get("BizId")
        result.detail = {"request_id": body.get("RequestId"), "code": body.get("Code")}
        return result

    def _send_batch(self, batch: list[_Prepared]) -> list[SendResult]:
        params = {
            "PhoneNumberJson": orjson.dumps([p.phone for p in batch]).decode(),
            "SignNameJson": orjson.dumps([p.sign_name for p in batch]).decode(),
            "TemplateCode": batch[0].content.template_code,
            "TemplateParamJson": orjson.dumps([p.content.params for p in batch]).decode(),
            "OutId": BATCH_KEY_SEPARATOR.join(p.message.key for p in batch),
        }
        try:
            body = self._call("SendBatchSms", params)
        except ProviderError as exc:
            return [SendResult("retry", error=str(exc), retry_after_s=exc.retry_after_s) for _ in batch]
        code = body.get("Code")
        if code in PER_NUMBER_CODES:
            return [self._send_single(p) for p in batch]
        results = []
        for p in batch:
            result = map_aliyun_code(code, body.get("Message"))
            if result.status == "sent":
                # One BizId covers the batch; the phone tells its members apart (as in SmsReport).
                result.provider_message_id = f"{body.get('BizId')}#{p.e164}"
            result.detail = {"request_id": body.get("RequestId"), "code": code, "batch": len(batch)}
            results.append(result)
        return results

    def _call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """One signed call; the decoded answer (gateway errors come as 4xx with the same ``Code`` shape,
        a bare 5xx as ``HTTP5xx``). Queries are retried by ProviderHttp; sends are not, after a 5xx or a
        timeout, because Aliyun may have accepted them (the dispatcher asks ``lookup`` first). Raises
        :class:`ProviderError` when no answer came."""
        query = {"Action": action, "Version": API_VERSION, "RegionId": self.region}
        resp = self.http.request(
            "POST", "/", idempotent=action.startswith("Query"), params=query, data=params, auth=self.auth
        )
        try:
            body = resp.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "Code" not in body:
            return {"Code": f"HTTP{resp.status_code}", "Message": resp.text[:200]}
        return body

    # -- exactly-once and receipts ----------------------------------------------------------------

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """Aliyun's record of ``message`` (matched by ``OutId``) sent since ``since``, or None. Raises
        :class:`ProviderError` when Aliyun cannot be asked, so the caller retries instead of re-sending."""
        try:
            phone = aliyun_phone(message.recipient.phone)
        except ValueError:
            return None  # never sendable, so never sent
        for detail in self._details(phone, since):
            out_id = detail.get("OutId") or ""
            if message.key == out_id or message.key in out_id.split(BATCH_KEY_SEPARATOR):
                return SendResult(
                    "sent",
                    detail={
                        "send_status": detail.get("SendStatus"),
                        "err_code": detail.get("ErrCode"),
                        "send_date": detail.get("SendDate"),
                        "out_id": out_id,
                    },
                )
        return None

    def receipts(self, since: datetime) -> list[Receipt]:
        """[]: QuerySendDetails needs a phone number, so Aliyun receipts arrive by the SmsReport push
        (:func:`parse_aliyun_report`); :meth:`receipts_for_phone` polls one number."""
        return []

    def receipts_for_phone(self, phone: str, since: datetime) -> list[Receipt]:
        """Final statuses (delivered/failed) of what was sent to ``phone`` since ``since``."""
        receipts = []
        for d in self._details(aliyun_phone(phone), since):
            status = d.get("SendStatus")
            if status not in (2, 3, "2", "3"):
                continue  # 1: still waiting for the carrier's receipt
            out_id = d.get("OutId") or ""
            ok = str(status) == "3"
            receipts.append(
                Receipt(
                    key=out_id if out_id and BATCH_KEY_SEPARATOR not in out_id else None,
                    provider_message_id=None,
                    status="delivered" if ok else "failed",
                    at=parse_china_time(d.get("ReceiveDate") or d.get("SendDate")) or datetime.now(UTC),
                    error=None if ok else d.get("ErrCode"),
                )
            )
        return receipts

    def _details(self, phone: str, since: datetime) -> list[dict[str, Any]]:
        """Every QuerySendDetails record for ``phone`` from ``since`` (at most 30 days back) to now."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        start = max(since, now - timedelta(days=QUERY_DAYS - 1)).astimezone(CHINA_TZ).date()
        day = now.astimezone(CHINA_TZ).date()
        found: list[dict[str, Any]] = []
        while day >= start:
            page, seen = 1, 0
            while True:
                body = self._call(
                    "QuerySendDetails",
                    {
                        "PhoneNumber": phone,
                        "SendDate": day.strftime("%Y%m%d"),
                        "PageSize": "50",
                        "CurrentPage": str(page),
                    },
                )
                if body.get("Code") != "OK":
                    verdict = map_aliyun_code(body.get("Code"), body.get("Message"))
                    raise ProviderError(f"QuerySendDetails: {verdict.error}", verdict.status == "retry")
                rows = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
                for row in rows:
                    sent_at = parse_china_time(row.get("SendDate"))
                    if sent_at is None or sent_at >= since - CLOCK_SLACK:
                        found.append(row)
                seen += len(rows)
                if not rows or seen >= int(body.get("TotalCount") or 0):
                    break
                page += 1
            day -= timedelta(days=1)
        return found

    def close(self) -> None:
        self.http.close()


def _batches(pending: list[_Prepared]) -> list[list[_Prepared]]:
    """Messages grouped into SendBatchSms calls: same template, distinct phones, at most 100, and the
    joined keys short enough for ``OutId``. A key containing the separator always goes alone."""
    by_template: dict[str, list[_Prepared]] = {}
    for p in pending:
        by_template.setdefault(p.content.template_code, []).append(p)
    batches: list[list[_Prepared]] = []
    for group in by_template.values():
        current: list[_Prepared] = []
        phones: set[str] = set()
        out_id_len = 0
        for p in group:
            if BATCH_KEY_SEPARATOR in p.message.key:
                batches.append([p])
                continue
            added_len = out_id_len + len(p.message.key) + (1 if current else 0)
            if current and (len(current) >= MAX_BATCH or p.phone in phones or added_len > MAX_OUT_ID):
                batches.append(current)
                current, phones, added_len = [], set(), len(p.message.key)
            current.append(p)
            phones.add(p.phone)
            out_id_len = added_len
        if current:
            batches.append(current)
    return batches


def _json_array(body: bytes) -> list[dict[str, Any]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"push body is not JSON: {exc}") from exc
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError("push body is not a JSON array")
    return [item for item in data if isinstance(item, dict)]


def parse_aliyun_report(body: bytes) -> list[Receipt]:
    """Receipts from an SmsReport HTTP push. A message sent alone carries its key in ``out_id``; a
    SendBatchSms member has no key of its own and is named ``"{biz_id}#{E.164 phone}"``, the
    ``provider_message_id`` that :meth:`AliyunSmsAdapter.send` recorded for it."""
    receipts = []
    for item in _json_array(body):
        out_id = str(item.get("out_id") or "")
        biz_id = str(item.get("biz_id") or "") or None
        batched = BATCH_KEY_SEPARATOR in out_id
        phone = from_provider_phone(str(item.get("phone_number") or ""))
        success = item.get("success") in (True, "true", "True", 1, "1")
        at = parse_china_time(item.get("report_time")) or parse_china_time(item.get("send_time"))
        receipts.append(
            Receipt(
                key=None if batched or not out_id else out_id,
                provider_message_id=f"{biz_id}#{phone}" if batched and biz_id else biz_id,
                status="delivered" if success else "failed",
                at=at or datetime.now(UTC),
                error=None if success else _report_error(item),
            )
        )
    return receipts


def _report_error(item: dict[str, Any]) -> str:
    return f"{item.get('err_code')}: {item.get('err_msg') or ''}".rstrip(": ")


def parse_aliyun_uplink(body: bytes) -> list[Inbound]:
    """Replies from an SmsUp HTTP push (check them with ``sms_common.is_unsubscribe``)."""
    return [
        Inbound(
            channel="sms",
            phone=from_provider_phone(str(item.get("phone_number") or "")),
            text=str(item.get("content") or ""),
            at=parse_china_time(item.get("send_time")) or datetime.now(UTC),
            provider_message_id=str(item["sequence_id"]) if item.get("sequence_id") is not None else None,
        )
        for item in _json_array(body)
    ]
