"""A local Tencent Cloud SMS API 3.0 (2021-01-11) that checks what Tencent checks.

Every answer is HTTP 200 with ``{"Response": {...}}``; failures carry ``Response.Error.Code`` as Tencent
documents them. Authentication: the ``X-TC-*`` headers are present (``MissingParameter``), the
``Authorization`` header is a well-formed TC3-HMAC-SHA256 one naming at least ``content-type`` and
``host`` (``AuthFailure.InvalidAuthorization``), the SecretId exists (``AuthFailure.SecretIdNotFound``),
``X-TC-Timestamp`` is within 5 minutes (``AuthFailure.SignatureExpire``), the credential scope is
``{UTC date of the timestamp}/sms/tc3_request`` and the signature — recomputed here, independently of
the adapter — matches (``AuthFailure.SignatureFailure``). Version and action must exist
(``InvalidAction``), the region must be one SMS serves (``UnsupportedRegion``).

``SendSms``: ``SmsSdkAppId`` known (``InvalidParameterValue.SdkAppIdNotExist``), ``SignName`` approved
(``FailedOperation.SignatureIncorrectOrUnapproved``), ``TemplateId`` approved
(``FailedOperation.TemplateIncorrectOrUnapproved``), as many ``TemplateParamSet`` values as the template
has ``{n}`` (``FailedOperation.TemplateParamSetNotMatchApprovedTemplate``), 1–200 numbers
(``MissingParameter.EmptyPhoneNumberSet`` / ``LimitExceeded.PhoneNumberCountLimit``); then per number, in
``SendStatusSet``: E.164 (``InvalidParameterValue.IncorrectPhoneNumber``) and the per-number frequency
limits (``LimitExceeded.PhoneNumberThirtySecondLimit`` / ``OneHourLimit`` / ``DailyLimit``, configurable).
An accepted number gets ``Code: "Ok"`` and a status record (the carrier receipt arrives at once, SUCCESS),
served by ``PullSmsSendStatusByPhoneNumber`` and, once each, by ``PullSmsSendStatus``.

``fail_next(n, code)``: the next ``n`` SendSms calls (or the ``actions`` given) fail — an ``int`` as
that HTTP status, a ``str`` as that error code (``RequestLimitExceeded``, ``InternalError.Timeout``…).
``sent_by_key()`` counts accepted messages per ``SessionContext``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.emulators.server import Emulator, Request, Response, json_response

AUTH = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<headers>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})$"
)
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAINLAND = re.compile(r"^\+861[3-9]\d{9}$")
REGIONS = {"ap-guangzhou", "ap-beijing", "ap-nanjing"}
MESSAGES = {
    "InvalidParameterValue.IncorrectPhoneNumber": "手机号格式错误",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "单个手机号30秒内下发短信条数超过设定的上限",
    "LimitExceeded.PhoneNumberOneHourLimit": "单个手机号1小时内下发短信条数超过设定的上限",
    "LimitExceeded.PhoneNumberDailyLimit": "单个手机号日下发短信条数超过设定的上限",
}
ACTIONS = {"SendSms", "PullSmsSendStatus", "PullSmsSendStatusByPhoneNumber"}


class _Rejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


class TencentSmsEmulator(Emulator):
    def __init__(
        self,
        secret_id: str = "AKIDEXAMPLE0000000000",
        secret_key: str = "emulator-secret-key",
        sdk_app_id: str = "1400006666",
        sign_names: tuple[str, ...] = ("思域商城",),
        templates: dict[str, str] | None = None,
        limits: dict[str, int] | None = None,
        echo_session_context: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.keys = {secret_id: secret_key}
        self.sdk_app_id = sdk_app_id
        self.sign_names = set(sign_names)
        self.templates = templates or {"449739": "{1}您好，会员日全场8折，拒收请回复R"}
        #: Tencent's default frequency policy: 1 per 30 s, 5 per hour, 10 per day for one number.
        self.limits = {"thirty_second": 1, "one_hour": 5, "daily": 10, **(limits or {})}
        #: Whether status records carry SessionContext (Tencent enables it per account on request).
        self.echo_session_context = echo_session_context
        self.clock = clock
        self.sent: list[dict[str, Any]] = []
        self.pulled: set[str] = set()
        self.failures: list[tuple[int | str, tuple[str, ...]]] = []
        self.serials = itertools.count(1)

    def fail_next(self, n: int, code: int | str = 503, actions: tuple[str, ...] = ("SendSms",)) -> None:
        """The next ``n`` calls of ``actions`` fail with ``code`` before any check."""
        with self.lock:
            self.failures.extend([(code, actions)] * n)

    def sent_by_key(self) -> Counter[str]:
        with self.lock:
            return Counter(s["SessionContext"] for s in self.sent)

    # -- the API ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        try:
            with self.lock:
                action = request.headers.get("x-tc-action", "")
                if self.failures and action in self.failures[0][1]:
                    failure = self.failures.pop(0)[0]
                    if isinstance(failure, int):
                        return Response(failure, "Service Unavailable")
                    raise _Rejected(failure, "injected failure")
                self._authenticate(request)
                body = request.json()
                if not isinstance(body, dict):
                    raise _Rejected("FailedOperation.JsonParseFail", "request body is not a JSON object")
                result = getattr(self, f"_{action}")(body)
        except _Rejected as exc:
            result = {"Error": {"Code": exc.code, "Message": exc.message}}
        return json_response({"Response": {**result, "RequestId": request_id}})

    def _authenticate(self, request: Request) -> None:
        h = request.headers
        if request.method != "POST" or request.path != "/":
            raise _Rejected("InvalidParameter", "only POST / with application/json is served here")
        for name in ("x-tc-action", "x-tc-version", "x-tc-timestamp", "x-tc-region", "authorization"):
            if not h.get(name):
                raise _Rejected("MissingParameter", f"The request is missing a required header `{name}`.")
        if h["x-tc-version"] != "2021-01-11" or h["x-tc-action"] not in ACTIONS:
            raise _Rejected("InvalidAction", "The requested action or version does not exist.")
        if h["x-tc-region"] not in REGIONS:
            raise _Rejected("UnsupportedRegion", f"The region `{h['x-tc-region']}` is not supported.")
        match = AUTH.match(h["authorization"])
        signed = match["headers"].split(";") if match else []
        if not match or "content-type" not in signed or "host" not in signed:
            raise _Rejected("AuthFailure.InvalidAuthorization", "Authorization header is not valid.")
        secret_key = self.keys.get(match["id"])
        if secret_key is None:
            raise _Rejected("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            timestamp = int(h["x-tc-timestamp"])
        except ValueError as exc:
            raise _Rejected("InvalidParameterValue", "X-TC-Timestamp is not a number.") from exc
        if abs(timestamp - self.clock()) > 300:
            raise _Rejected(
                "AuthFailure.SignatureExpire", "Signature expired (X-TC-Timestamp is 5+ min off)."
            )
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if match["date"] != date or match["service"] != "sms":
            raise _Rejected("AuthFailure.SignatureFailure", "The credential scope does not match.")
        if any(name not in h for name in signed):
            raise _Rejected("AuthFailure.SignatureFailure", "A signed header is missing.")
        canonical_headers = "".join(f"{name}:{h[name].strip().lower()}\n" for name in sorted(signed))
        canonical = "\n".join(
            [
                "POST",
                "/",
                "",
                canonical_headers,
                ";".join(sorted(signed)),
                hashlib.sha256(request.body).hexdigest(),
            ]
        )
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n"
        to_sign += hashlib.sha256(canonical.encode()).hexdigest()
        key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), "sms"), "tc3_request")
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise _Rejected(
                "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
            )

    def _app(self, body: dict[str, Any]) -> None:
        if not body.get("SmsSdkAppId"):
            raise _Rejected("MissingParameter", "SmsSdkAppId is required.")
        if str(body["SmsSdkAppId"]) != self.sdk_app_id:
            raise _Rejected("InvalidParameterValue.SdkAppIdNotExist", "SdkAppId does not exist.")

    def _SendSms(self, body: dict[str, Any]) -> dict[str, Any]:
        self._app(body)
        phones = body.get("PhoneNumberSet")
        if not isinstance(phones, list) or not phones:
            raise _Rejected("MissingParameter.EmptyPhoneNumberSet", "PhoneNumberSet is empty.")
        if len(phones) > 200:
            raise _Rejected("LimitExceeded.PhoneNumberCountLimit", "More than 200 numbers in one request.")
        template = self.templates.get(str(body.get("TemplateId") or ""))
        if template is None:
            raise _Rejected("FailedOperation.TemplateIncorrectOrUnapproved", "Template unapproved or wrong.")
        if body.get("SignName") not in self.sign_names:
            raise _Rejected(
                "FailedOperation.SignatureIncorrectOrUnapproved", "Signature unapproved or wrong."
            )
        params = body.get("TemplateParamSet") or []
        if not isinstance(params, list) or len(params) != len(set(re.findall(r"\{(\d+)\}", template))):
            raise _Rejected(
                "FailedOperation.TemplateParamSetNotMatchApprovedTemplate", "Parameter count does not match."
            )
        context = str(body.get("SessionContext") or "")
        now = self.clock()
        statuses = []
        for phone in phones:
            status = {
                "PhoneNumber": phone,
                "SessionContext": context,
                "Fee": 0,
                "SerialNo": "",
                "IsoCode": "",
            }
            code = self._per_number(str(phone), now)
            if code:
                status.update(Code=code, Message=MESSAGES[code])
            else:
                serial = f"2433:{next(self.serials):020d}"
                status.update(Code="Ok", Message="send success", SerialNo=serial, Fee=1, IsoCode="CN")
                self.sent.append(
                    {"PhoneNumber": phone, "SerialNo": serial, "SessionContext": context, "at": now}
                )
            statuses.append(status)
        return {"SendStatusSet": statuses}

    def _per_number(self, phone: str, now: float) -> str | None:
        if not E164.match(phone) or (phone.startswith("+86") and not MAINLAND.match(phone)):
            return "InvalidParameterValue.IncorrectPhoneNumber"
        times = [s["at"] for s in self.sent if s["PhoneNumber"] == phone]
        for name, window, code in (
            ("thirty_second", 30, "LimitExceeded.PhoneNumberThirtySecondLimit"),
            ("one_hour", 3600, "LimitExceeded.PhoneNumberOneHourLimit"),
            ("daily", 86400, "LimitExceeded.PhoneNumberDailyLimit"),
        ):
            if sum(1 for t in times if now - t < window) >= self.limits[name]:
                return code
        return None

    def _status(self, sent: dict[str, Any]) -> dict[str, Any]:
        phone = sent["PhoneNumber"]
        return {
            "UserReceiveTime": int(sent["at"]) + 2,
            "CountryCode": "86" if phone.startswith("+86") else "",
            "SubscriberNumber": phone.removeprefix("+86"),
            "PhoneNumber": phone,
            "SerialNo": sent["SerialNo"],
            "ReportStatus": "SUCCESS",
            "Description": "用户短信送达成功",
            "SessionContext": sent["SessionContext"] if self.echo_session_context else "",
        }

    def _limit(self, body: dict[str, Any]) -> int:
        limit = body.get("Limit")
        if not isinstance(limit, int) or not 0 < limit <= 100:
            raise _Rejected("InvalidParameterValue.LimitVerifyFail", "Limit must be 1..100.")
        return limit

    def _PullSmsSendStatusByPhoneNumber(self, body: dict[str, Any]) -> dict[str, Any]:
        self._app(body)
        limit = self._limit(body)
        if body.get("Offset") != 0:
            raise _Rejected("InvalidParameterValue.OffsetVerifyFail", "Offset is fixed at 0.")
        begin, end = body.get("BeginTime"), body.get("EndTime")
        if not isinstance(begin, int) or begin < self.clock() - 7 * 86400:
            raise _Rejected("InvalidParameterValue.BeginTimeVerifyFail", "BeginTime within the last 7 days.")
        if not body.get("PhoneNumber"):
            raise _Rejected("MissingParameter", "PhoneNumber is required.")
        rows = [
            self._status(s)
            for s in self.sent
            if s["PhoneNumber"] == body["PhoneNumber"]
            and s["at"] >= begin
            and (end is None or s["at"] <= end)
        ]
        return {"PullSmsSendStatusSet": rows[:limit]}

    def _PullSmsSendStatus(self, body: dict[str, Any]) -> dict[str, Any]:
        self._app(body)
        limit = self._limit(body)
        fresh = [s for s in self.sent if s["SerialNo"] not in self.pulled][:limit]
        self.pulled.update(s["SerialNo"] for s in fresh)
        return {"PullSmsSendStatusSet": [self._status(s) for s in fresh]}
