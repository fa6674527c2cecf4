"""Tencent Cloud SMS (腾讯云短信, API 3.0, version 2021-01-11) adapter.

What it relies on, from Tencent Cloud's documentation and its SDK's models:

* Signature v3, TC3-HMAC-SHA256 (cloud.tencent.com/document/api/382/52072): ``CanonicalRequest`` =
  method, ``/``, the query string, the canonical headers (lower-case ``name:value`` lines sorted by name;
  ``content-type`` and ``host`` are required, we also sign ``x-tc-action``), the signed header names and
  the hex SHA-256 of the body; ``StringToSign`` = ``TC3-HMAC-SHA256``, the timestamp, the credential scope
  ``{UTC date}/sms/tc3_request`` and the hex SHA-256 of the canonical request; the key is derived as
  ``HMAC("TC3" + SecretKey, date)`` → ``HMAC(·, "sms")`` → ``HMAC(·, "tc3_request")``. Headers
  ``X-TC-Action``, ``X-TC-Version``, ``X-TC-Timestamp`` (more than 5 minutes off →
  ``AuthFailure.SignatureExpire``), ``X-TC-Region`` and ``Authorization``. The tests pin the documented
  worked example (signature ``72e494ea…``). Signing is an ``httpx.Auth`` so each retry is re-signed.
* Every answer is HTTP 200 with ``{"Response": {...}}``; a failed call has ``Response.Error.Code``.
* ``SendSms``: ``PhoneNumberSet`` (E.164, ≤ 200), ``SmsSdkAppId``, ``TemplateId``, ``SignName``,
  ``TemplateParamSet`` (strings, in template order), ``SessionContext`` ("server 会原样返回"); the answer's
  ``SendStatusSet[]`` has per number ``SerialNo``, ``PhoneNumber``, ``Code`` (``Ok`` when accepted),
  ``Message``, ``SessionContext``.
* ``PullSmsSendStatusByPhoneNumber`` (BeginTime within 7 days, Offset fixed at 0, Limit ≤ 100,
  PhoneNumber, SmsSdkAppId, optional EndTime) and ``PullSmsSendStatus`` (Limit ≤ 100, SmsSdkAppId) return
  ``PullSmsSendStatusSet[]``: ``UserReceiveTime``, ``PhoneNumber``, ``SerialNo``, ``ReportStatus``
  (SUCCESS/FAIL), ``Description`` and ``SessionContext`` — the latter is empty unless Tencent enables it
  for the account ("如需开通请联系腾讯云短信小助手"), which exactly-once lookup needs.
* Callbacks: the status report is a JSON array of ``user_receive_time, nationcode, mobile,
  report_status, errmsg, description, sid`` (+ ``ext`` echoing the SessionContext when enabled); the
  reply callback is ``{nationcode, mobile, text, sign, time, extend}``. Both expect
  ``{"result": 0, "errmsg": "OK"}``.

Batching: one SendSms request has one ``SessionContext`` and one ``TemplateParamSet``, so several numbers
can share a request only when they get the very same text *and* the same key — which never happens for
our per-contact keys. Each message is therefore its own request (the API takes 3000 requests/s), so
``lookup`` can always tell which message a status record belongs to.

Per-number limits: ``LimitExceeded.PhoneNumberThirtySecondLimit`` and ``…OneHourLimit`` are retried
after their window; ``…DailyLimit`` and ``…SameContentDailyLimit`` fail (tomorrow is a new decision for
the journey). ``FailedOperation.MarketingSendTimeConstraint`` (marketing only 08:00–22:00) is retried at
08:00 China time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Generator, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import orjson

from siyu.channels.base import Inbound, OutboundMessage, PreparedCall, Receipt, SendResult
from siyu.channels.http import ProviderError, ProviderHttp, call_blocking
from siyu.channels.sms_common import (
    from_provider_phone,
    parse_china_time,
    seconds_until_china_hour,
    sms_content,
    to_e164,
)

API_VERSION = "2021-01-11"
SERVICE = "sms"
ALGORITHM = "TC3-HMAC-SHA256"
DEFAULT_BASE_URL = "https://sms.tencentcloudapi.com"
CONTENT_TYPE = "application/json; charset=utf-8"
PULL_LIMIT = 100
PULL_PAGES = 20  # PullSmsSendStatus drains a queue; bound one call's work
LOOKUP_DAYS = 7  # "最大可拉取当前时期前7天的数据"

#: The answer Tencent expects from the status and reply callback receivers.
PUSH_ACK: dict[str, Any] = {"result": 0, "errmsg": "OK"}

RETRY_AFTER: dict[str, float] = {
    "RequestLimitExceeded": 1.0,
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "LimitExceeded.DeliveryFrequencyLimit": 60.0,
    "InternalError.Timeout": 5.0,
    "InternalError.SendAndRecvFail": 5.0,
    "InternalError.UnknownError": 5.0,
    "InternalError.OtherError": 5.0,
    "InternalError": 5.0,
    "ResourceUnavailable": 5.0,
}
CLOCK_CODES = frozenset({"AuthFailure.SignatureExpire", "InternalError.RequestTimeException"})


def tc3_canonical_request(
    method: str, path: str, query: str, headers: dict[str, str], payload: bytes
) -> tuple[str, str]:
    """The canonical request and the ``SignedHeaders`` list for ``headers`` (names and values are
    lower-cased and trimmed, sorted by name)."""
    items = sorted((k.strip().lower(), v.strip().lower()) for k, v in headers.items())
    canonical_headers = "".join(f"{k}:{v}\n" for k, v in items)
    signed_headers = ";".join(k for k, _ in items)
    payload_hash = hashlib.sha256(payload).hexdigest()
    request = "\n".join([method.upper(), path or "/", query, canonical_headers, signed_headers, payload_hash])
    return request, signed_headers


def tc3_signature(secret_key: str, timestamp: int, service: str, canonical_request: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    string_to_sign = "\n".join(
        [
            ALGORITHM,
            str(timestamp),
            f"{date}/{service}/tc3_request",
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing_key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    return hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(
    secret_id: str, secret_key: str, timestamp: int, service: str, canonical_request: str, signed_headers: str
) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    signature = tc3_signature(secret_key, timestamp, service, canonical_request)
    return (
        f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


class Tc3Auth(httpx.Auth):
    """Signs each attempt with the current time (a retry after a few seconds is signed anew)."""

    requires_request_body = True

    def __init__(self, secret_id: str, secret_key: str, clock: Callable[[], float]) -> None:
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        timestamp = int(self.clock())
        request.headers["X-TC-Timestamp"] = str(timestamp)
        signed = {name: request.headers[name] for name in ("content-type", "host", "x-tc-action")}
        canonical, signed_headers = tc3_canonical_request(
            request.method, request.url.path, request.url.query.decode(), signed, request.content
        )
        request.headers["Authorization"] = tc3_authorization(
            self.secret_id, self.secret_key, timestamp, SERVICE, canonical, signed_headers
        )
        yield request


def map_tencent_code(code: str | None, message: str | None, now: datetime | None = None) -> SendResult:
    """A Tencent error (or per-number) code → our result; see the module docstring for the choices."""
    code = code or "Unknown"
    text = f"{code}: {message or ''}".rstrip(": ")
    if code == "Ok":
        return SendResult("sent")
    if code in ("HTTP429", "HTTP408") or code.startswith("HTTP5"):
        return SendResult(
            "retry", error=f"{text} (Tencent may have accepted it; lookup decides)", retry_after_s=5.0
        )
    if code in RETRY_AFTER:
        return SendResult("retry", error=text, retry_after_s=RETRY_AFTER[code])
    if code.startswith("RequestLimitExceeded"):
        return SendResult("retry", error=text, retry_after_s=1.0)
    if code == "FailedOperation.MarketingSendTimeConstraint":
        wait = seconds_until_china_hour(now or datetime.now(UTC), 8)
        return SendResult("retry", error=text, retry_after_s=wait)
    if code in CLOCK_CODES:
        return SendResult("failed", error=f"this server's clock is more than 5 minutes off ({text})")
    if code.startswith("AuthFailure") or code.startswith("UnauthorizedOperation.SmsSdkAppId"):
        return SendResult(
            "failed", error=f"Tencent Cloud rejected the credentials ({text}); check secret_id/secret_key"
        )
    return SendResult("failed", error=text)


class TencentSmsAdapter:
    """Sends ``sms`` messages through Tencent Cloud SMS (see the module docstring for the API facts)."""

    kind = "tencent_sms"
    messages_per_call = 1
    #: Calls in flight at once (config ``concurrency``): the client is stateless, and every
    #: send can be looked up by its SessionContext, so concurrency never costs a duplicate.
    default_concurrency = 8
    max_concurrency = 256
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "base_url": f"API endpoint (default {DEFAULT_BASE_URL})",
        "sdk_app_id": "required: SmsSdkAppId of the SMS application (e.g. 1400006666)",
        "sign_name": "required: the approved signature (签名) unless the message content overrides it",
        "region": "X-TC-Region (default ap-guangzhou)",
        "rate_per_s": "client-side request rate limit (default 50/s; the API allows 3000/s)",
    }
    SECRET_FIELDS: ClassVar[dict[str, str]] = {
        "secret_id": "required: SecretId of a CAM key allowed sms:SendSms and sms:PullSmsSendStatus*",
        "secret_key": "required: its SecretKey",
    }

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        missing = [f for f in ("sdk_app_id", "sign_name") if not config.get(f)]
        missing += [f for f in ("secret_id", "secret_key") if not secrets.get(f)]
        if missing:
            raise ValueError(f"tencent_sms: missing {', '.join(missing)}")
        self.sdk_app_id = str(config["sdk_app_id"])
        self.sign_name = str(config["sign_name"])
        self.region = str(config.get("region") or "ap-guangzhou")
        self.http = ProviderHttp(
            str(config.get("base_url") or DEFAULT_BASE_URL), rate_per_s=float(config.get("rate_per_s", 50))
        )
        #: Seconds since the epoch; signing timestamps and lookup windows use it (tests may move it).
        self.clock: Callable[[], float] = time.time
        self.auth = Tc3Auth(str(secrets["secret_id"]), str(secrets["secret_key"]), lambda: self.clock())

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        return [call_blocking(self.http, self.prepare(m)) for m in messages]

    def prepare(self, message: OutboundMessage) -> PreparedCall | SendResult:
        """The signed SendSms request for one number, or the result when it cannot go out."""
        try:
            content = sms_content(message)
            phone = to_e164(message.recipient.phone)
        except ValueError as exc:
            return SendResult("failed", error=str(exc))
        payload = {
            "PhoneNumberSet": [phone],
            "SmsSdkAppId": self.sdk_app_id,
            "TemplateId": content.template_code,
            "SignName": content.sign_name or self.sign_name,
            "TemplateParamSet": list(content.params.values()),
            "SessionContext": message.key,
        }
        return PreparedCall("POST", "/", self._request("SendSms", payload), lambda r: self._sent(r, phone))

    def _sent(self, resp: httpx.Response, phone: str) -> SendResult:
        response = _response(resp)
        now = datetime.fromtimestamp(self.clock(), UTC)
        error = response.get("Error")
        if error:
            result = map_tencent_code(error.get("Code"), error.get("Message"), now)
        else:
            statuses = response.get("SendStatusSet") or []
            mine = [s for s in statuses if s.get("PhoneNumber") == phone] or statuses or [{}]
            status = mine[0]
            result = map_tencent_code(status.get("Code") or "Unknown", status.get("Message"), now)
            if result.status == "sent":
                result.provider_message_id = status.get("SerialNo")
        result.detail = {"request_id": response.get("RequestId")}
        return result

    def _request(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "Content-Type": CONTENT_TYPE,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Region": self.region,
        }
        return {"content": orjson.dumps(payload), "headers": headers, "auth": self.auth}

    def _call(self, action: str, payload: dict[str, Any], idempotent: bool = False) -> dict[str, Any]:
        """One signed call; the ``Response`` object (a bare 5xx as ``Error.Code`` ``HTTP5xx``). Only
        ``idempotent`` calls are retried by ProviderHttp after a 5xx or a timeout: a send may have been
        accepted (the dispatcher asks ``lookup`` first) and a pull may have been handed out. Raises
        :class:`ProviderError` when no answer came."""
        request = self._request(action, payload)
        return _response(self.http.request("POST", "/", idempotent=idempotent, **request))

    def _pull(self, action: str, payload: dict[str, Any], idempotent: bool) -> list[dict[str, Any]]:
        response = self._call(action, payload, idempotent)
        error = response.get("Error")
        if error:
            verdict = map_tencent_code(error.get("Code"), error.get("Message"))
            temporary = verdict.status == "retry"
            raise ProviderError(f"{action}: {verdict.error}", temporary, verdict.retry_after_s)
        return [s for s in response.get("PullSmsSendStatusSet") or [] if isinstance(s, dict)]

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """Tencent's status record of ``message`` (matched by ``SessionContext``) since ``since``, or None.

        Tencent keeps a record once the carrier's receipt arrived (usually seconds), so a message accepted
        a moment ago may not be visible yet; and ``SessionContext`` is only echoed when enabled for the
        account. Raises :class:`ProviderError` when Tencent cannot be asked."""
        try:
            phone = to_e164(message.recipient.phone)
        except ValueError:
            return None
        now = int(self.clock())
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        # A little before ``since`` too (clocks differ), but within the 7 days Tencent serves.
        begin = max(int(since.timestamp()) - 600, now - LOOKUP_DAYS * 86400 + 60)
        statuses = self._pull(
            "PullSmsSendStatusByPhoneNumber",
            {
                "BeginTime": begin,  # no EndTime: up to now, whatever the clocks' difference
                "Offset": 0,
                "Limit": PULL_LIMIT,
                "PhoneNumber": phone,
                "SmsSdkAppId": self.sdk_app_id,
            },
            idempotent=True,
        )
        for s in statuses:
            if s.get("SessionContext") == message.key:
                return SendResult(
                    "sent",
                    provider_message_id=s.get("SerialNo"),
                    detail={"report_status": s.get("ReportStatus"), "description": s.get("Description")},
                )
        return None

    def receipts(self, since: datetime) -> list[Receipt]:
        """Statuses not pulled before (PullSmsSendStatus hands each one out once, so ``since`` is not a
        filter). Tencent only queues them when pulling is enabled in the console instead of the callback."""
        receipts: list[Receipt] = []
        for _ in range(PULL_PAGES):
            payload = {"Limit": PULL_LIMIT, "SmsSdkAppId": self.sdk_app_id}
            statuses = self._pull("PullSmsSendStatus", payload, idempotent=False)
            receipts.extend(_receipt_from_status(s) for s in statuses)
            if len(statuses) < PULL_LIMIT:
                break
        return receipts

    def close(self) -> None:
        self.http.close()


def _response(resp: httpx.Response) -> dict[str, Any]:
    """The ``Response`` object of an answer; a bare 5xx (no JSON) as ``Error.Code`` ``HTTP5xx``."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    response = body.get("Response") if isinstance(body, dict) else None
    if not isinstance(response, dict):
        return {"Error": {"Code": f"HTTP{resp.status_code}", "Message": resp.text[:200]}}
    return response


def _receipt_from_status(s: dict[str, Any]) -> Receipt:
    ok = s.get("ReportStatus") == "SUCCESS"
    received = s.get("UserReceiveTime")
    at = datetime.fromtimestamp(int(received), UTC) if received else datetime.now(UTC)
    return Receipt(
        key=s.get("SessionContext") or None,
        provider_message_id=s.get("SerialNo"),
        status="delivered" if ok else "failed",
        at=at,
        error=None if ok else str(s.get("Description") or "FAIL"),
    )


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"callback body is not JSON: {exc}") from exc


def _context_key(ext: Any) -> str | None:
    """The SessionContext echoed in a status callback's ``ext`` (a string; some accounts get it parsed
    into an object, which we turn back into its JSON text)."""
    if ext is None or ext == "" or ext == {}:
        return None
    if isinstance(ext, str):
        return ext
    return orjson.dumps(ext).decode()


def parse_tencent_report(body: bytes) -> list[Receipt]:
    """Receipts from the status-report callback (状态报告回调), matched by ``sid`` = ``SerialNo``."""
    data = _json(body)
    items = data if isinstance(data, list) else [data]
    receipts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ok = item.get("report_status") == "SUCCESS"
        receipts.append(
            Receipt(
                key=_context_key(item.get("ext")),
                provider_message_id=str(item.get("sid") or "") or None,
                status="delivered" if ok else "failed",
                at=parse_china_time(item.get("user_receive_time")) or datetime.now(UTC),
                error=None
                if ok
                else f"{item.get('errmsg') or 'FAIL'}: {item.get('description') or ''}".rstrip(": "),
            )
        )
    return receipts


def parse_tencent_reply(body: bytes) -> list[Inbound]:
    """Replies from the reply callback (短信回复回调); check them with ``sms_common.is_unsubscribe``."""
    data = _json(body)
    items = data if isinstance(data, list) else [data]
    inbound = []
    for item in items:
        if not isinstance(item, dict):
            continue
        sent = item.get("time")
        inbound.append(
            Inbound(
                channel="sms",
                phone=from_provider_phone(str(item.get("mobile") or ""), item.get("nationcode")),
                text=str(item.get("text") or ""),
                at=datetime.fromtimestamp(int(sent), UTC) if sent else datetime.now(UTC),
            )
        )
    return inbound
