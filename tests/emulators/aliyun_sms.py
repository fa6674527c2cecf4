"""A local Aliyun dysmsapi (2017-05-25) that checks what Aliyun checks.

Gateway (POP) checks, with Aliyun's documented codes and HTTP statuses: the common parameters are
present (``Missing{Name}``, 400), ``SignatureMethod``/``SignatureVersion``/``Format``/``Version`` are the
supported ones, ``Timestamp`` is ISO 8601 and within 15 minutes (``InvalidTimeStamp.Format`` /
``InvalidTimeStamp.Expired``, 400), the AccessKey exists (``InvalidAccessKeyId.NotFound``, 404), the
HMAC-SHA1 signature recomputed over query + form matches (``SignatureDoesNotMatch``, 400) and the nonce
was not used in the last 15 minutes (``SignatureNonceUsed``, 400). The signature is recomputed here
independently of the adapter's code.

SMS checks (HTTP 200 with the ``isv.*`` code): known signature (``isv.SMS_SIGNATURE_ILLEGAL``), known
template (``isv.SMS_TEMPLATE_ILLEGAL``), every ``${var}`` of the template supplied
(``isv.TEMPLATE_MISSING_PARAMETERS``), valid numbers (``isv.MOBILE_NUMBER_ILLEGAL``), frequency control per
number and template (``isv.BUSINESS_LIMIT_CONTROL`` with "触发分钟级/小时级/天级流控Permits:N"). A rejected
call accepts nothing. ``QuerySendDetails`` serves what was accepted.

``fail_next(n, code)`` makes the next ``n`` send calls (or the ``actions`` given) fail before any
check: an ``int`` is an HTTP status (e.g. 503), a ``str`` an Aliyun code (``Throttling.User`` → 400,
``isp.SYSTEM_ERROR`` → 200).
``sent_by_key()`` counts accepted messages per idempotency key: a SendBatchSms ``OutId`` of ``|``-joined
keys (the adapter's convention, one key per number in order) is attributed position by position.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from tests.emulators.server import Emulator, Request, Response, json_response

CHINA = timezone(timedelta(hours=8))
GATEWAY_STATUS = {
    "InvalidAccessKeyId.NotFound": 404,
    "InvalidAction.NotFound": 404,
    "Throttling.User": 400,
    "Throttling": 400,
    "ServiceUnavailable": 503,
}
SEND_ACTIONS = ("SendSms", "SendBatchSms")
COMMON = ("AccessKeyId", "Action", "Format", "SignatureMethod", "SignatureNonce", "SignatureVersion")
COMMON += ("Timestamp", "Version", "Signature")
MAINLAND = re.compile(r"^1[3-9]\d{9}$")
INTERNATIONAL = re.compile(r"^[1-9]\d{7,14}$")


def _encode(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def _sign(method: str, params: dict[str, str], secret: str) -> tuple[str, str]:
    pairs = sorted((k, v) for k, v in params.items() if k != "Signature")
    canonical = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    to_sign = f"{method}&%2F&{_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode(), to_sign


class _Rejected(Exception):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(code)
        self.code, self.message, self.status = code, message, status


class AliyunSmsEmulator(Emulator):
    def __init__(
        self,
        access_key_id: str = "LTAI5tEXAMPLE",
        access_key_secret: str = "emulator-secret",
        sign_names: tuple[str, ...] = ("思域商城",),
        templates: dict[str, str] | None = None,
        rate_limit: tuple[int, float] | None = (1, 30.0),
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.keys = {access_key_id: access_key_secret}
        self.sign_names = set(sign_names)
        self.templates = templates or {"SMS_100001": "${name}您好，会员日全场8折，拒收请回复R"}
        #: (messages, window in seconds) per phone number and template; None turns it off.
        self.rate_limit = rate_limit
        self.clock = clock
        self.records: list[dict[str, Any]] = []  # one per accepted message (QuerySendDetails rows)
        self.nonces: dict[str, float] = {}
        self.failures: list[tuple[int | str, tuple[str, ...]]] = []
        self.biz_ids = itertools.count(900619746936)

    # -- test controls ----------------------------------------------------------------------------

    def fail_next(self, n: int, code: int | str = 503, actions: tuple[str, ...] = SEND_ACTIONS) -> None:
        """The next ``n`` calls of ``actions`` fail with ``code`` before any check."""
        with self.lock:
            self.failures.extend([(code, actions)] * n)

    def sent_by_key(self) -> Counter[str]:
        with self.lock:
            return Counter(r["_key"] for r in self.records)

    def deliver(self, success: bool = True, err_code: str = "DELIVERED") -> None:
        """The carrier's receipt for every message still waiting (SendStatus 1 → 3 or 2)."""
        with self.lock:
            now = self._china_now()
            for r in self.records:
                if r["SendStatus"] == 1:
                    r.update(SendStatus=3 if success else 2, ErrCode=err_code, ReceiveDate=now)

    def report_body(self) -> bytes:
        """The SmsReport HTTP push Aliyun would send for the delivered messages."""
        with self.lock:
            items = [
                {
                    "phone_number": r["PhoneNum"],
                    "send_time": r["SendDate"],
                    "report_time": r["ReceiveDate"],
                    "success": r["SendStatus"] == 3,
                    "err_code": r["ErrCode"],
                    "err_msg": "用户接收成功" if r["SendStatus"] == 3 else "失败",
                    "sms_size": "1",
                    "biz_id": r["_biz_id"],
                    "out_id": r["OutId"],
                }
                for r in self.records
                if r["SendStatus"] != 1
            ]
        return orjson.dumps(items)

    # -- the API ----------------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        params = {**request.query, **(request.form() if request.method == "POST" else {})}
        request_id = str(uuid.uuid4()).upper()
        try:
            with self.lock:
                action = params.get("Action", "")
                if self.failures and action in self.failures[0][1]:
                    failure = self.failures.pop(0)[0]
                    if isinstance(failure, int):
                        return Response(failure, "Service Unavailable")
                    status = GATEWAY_STATUS.get(failure, 200)
                    raise _Rejected(failure, "injected failure", status)
                self._authenticate(request.method, params)
                body = self._action(action, params)
        except _Rejected as exc:
            return json_response(
                {"RequestId": request_id, "Code": exc.code, "Message": exc.message}, status=exc.status
            )
        return json_response({"RequestId": request_id, **body})

    def _authenticate(self, method: str, params: dict[str, str]) -> None:
        for name in COMMON:
            if not params.get(name):
                raise _Rejected(f"Missing{name}", f"{name} is mandatory for this action.", 400)
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            raise _Rejected("InvalidSignatureMethod", "Specified signature method is not valid.", 400)
        if params["Format"] not in ("JSON", "XML") or params["Version"] != "2017-05-25":
            raise _Rejected("InvalidParameter", "Format or Version is not valid.", 400)
        try:
            stamp = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError as exc:
            raise _Rejected(
                "InvalidTimeStamp.Format", "Specified time stamp is not well formatted.", 400
            ) from exc
        if abs(stamp.timestamp() - self.clock()) > 15 * 60:
            raise _Rejected("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", 400)
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            raise _Rejected("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
        expected, to_sign = _sign(method, params, secret)
        if not hmac.compare_digest(expected, params["Signature"]):
            mismatch = "Specified signature is not matched with our calculation."
            raise _Rejected("SignatureDoesNotMatch", f"{mismatch} server string to sign is: {to_sign}", 400)
        now = self.clock()
        self.nonces = {n: t for n, t in self.nonces.items() if now - t < 15 * 60}
        if params["SignatureNonce"] in self.nonces:
            raise _Rejected("SignatureNonceUsed", "Specified signature nonce was used already.", 400)
        self.nonces[params["SignatureNonce"]] = now

    def _action(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        if action == "SendSms":
            phones = [p for p in params.get("PhoneNumbers", "").split(",") if p] or self._missing(
                "PhoneNumbers"
            )
            self._require(params, "SignName", "TemplateCode")
            signs = [params["SignName"]] * len(phones)
            values = [self._json(params.get("TemplateParam") or "{}", dict)] * len(phones)
            return self._accept(phones, signs, params["TemplateCode"], values, params.get("OutId", ""), 1000)
        if action == "SendBatchSms":
            self._require(params, "PhoneNumberJson", "SignNameJson", "TemplateCode")
            phones = self._json(params["PhoneNumberJson"], list)
            signs = self._json(params["SignNameJson"], list)
            values = self._json(params.get("TemplateParamJson") or "[]", list) or [{}] * len(phones)
            if len(signs) != len(phones) or len(values) != len(phones):
                raise _Rejected("isv.INVALID_PARAMETERS", "号码、签名、模板参数的个数不一致")
            return self._accept(phones, signs, params["TemplateCode"], values, params.get("OutId", ""), 100)
        if action == "QuerySendDetails":
            return self._query(params)
        raise _Rejected("InvalidAction.NotFound", f"Specified api is not found: {action}", 404)

    def _accept(
        self, phones: list[str], signs: list[str], template: str, values: list[Any], out_id: str, limit: int
    ) -> dict[str, Any]:
        if len(phones) > limit:
            raise _Rejected("isv.MOBILE_COUNT_OVER_LIMIT", f"手机号码数量超过限制 {limit}")
        if len(out_id) >= 256:
            raise _Rejected("isv.INVALID_PARAMETERS", "OutId 长度须小于 256")
        if template not in self.templates:
            raise _Rejected("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        wanted = re.findall(r"\$\{(\w+)\}", self.templates[template])
        numbers = [self._number(p) for p in phones]
        for sign, value in zip(signs, values, strict=True):
            if sign not in self.sign_names:
                raise _Rejected("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
            if not isinstance(value, dict) or any(not value.get(v) for v in wanted):
                raise _Rejected("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        now = self.clock()
        for number in numbers:
            self._check_rate(number, template, now)
        keys = out_id.split("|")
        per_number_keys = keys if len(phones) > 1 and len(keys) == len(phones) else [out_id] * len(phones)
        biz_id = f"{next(self.biz_ids)}^0"
        for number, sign, value, key in zip(numbers, signs, values, per_number_keys, strict=True):
            text = re.sub(
                r"\$\{(\w+)\}", lambda m, v=value: str(v.get(m.group(1), "")), self.templates[template]
            )
            self.records.append(
                {
                    "PhoneNum": number,
                    "SendStatus": 1,
                    "ErrCode": "",
                    "TemplateCode": template,
                    "Content": f"【{sign}】{text}",
                    "SendDate": self._china_now(),
                    "ReceiveDate": "",
                    "OutId": out_id,
                    "_key": key,
                    "_biz_id": biz_id,
                    "_at": now,
                }
            )
        return {"Code": "OK", "Message": "OK", "BizId": biz_id}

    def _number(self, raw: str) -> str:
        number = str(raw).strip().removeprefix("+")
        for prefix in ("0086", "86"):
            if number.startswith(prefix) and len(number) == len(prefix) + 11:
                number = number[len(prefix) :]
        # As on the real service, 11 digits starting with 1 are read as a mainland number.
        mainland = len(number) == 11 and number.startswith("1")
        if MAINLAND.match(number) or (not mainland and INTERNATIONAL.match(number) and number[:2] != "86"):
            return number
        raise _Rejected("isv.MOBILE_NUMBER_ILLEGAL", f"非法手机号 {raw}")

    def _check_rate(self, number: str, template: str, now: float) -> None:
        if not self.rate_limit:
            return
        count, window = self.rate_limit
        recent = [r for r in self.records if r["PhoneNum"] == number and r["TemplateCode"] == template]
        if sum(1 for r in recent if now - r["_at"] < window) >= count:
            level = "分钟级" if window <= 60 else "小时级" if window <= 3600 else "天级"
            raise _Rejected("isv.BUSINESS_LIMIT_CONTROL", f"触发{level}流控Permits:{count}")

    def _query(self, params: dict[str, str]) -> dict[str, Any]:
        self._require(params, "PhoneNumber", "SendDate", "PageSize", "CurrentPage")
        try:
            day = datetime.strptime(params["SendDate"], "%Y%m%d").date()
            size, page = int(params["PageSize"]), int(params["CurrentPage"])
        except ValueError as exc:
            raise _Rejected("isv.INVALID_PARAMETERS", "参数格式错误") from exc
        today = datetime.fromtimestamp(self.clock(), CHINA).date()
        if not 1 <= size <= 50 or page < 1 or not timedelta(0) <= today - day < timedelta(days=30):
            raise _Rejected("isv.INVALID_PARAMETERS", "PageSize 1~50，SendDate 须为最近 30 天")
        number = self._number(params["PhoneNumber"])
        rows = [
            r
            for r in self.records
            if r["PhoneNum"] == number
            and r["SendDate"].startswith(day.strftime("%Y-%m-%d"))
            and (not params.get("BizId") or r["_biz_id"] == params["BizId"])
        ]
        chunk = rows[(page - 1) * size : page * size]
        public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in chunk]
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(rows),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": public},
        }

    def _china_now(self) -> str:
        return datetime.fromtimestamp(self.clock(), CHINA).strftime("%Y-%m-%d %H:%M:%S")

    @staticmethod
    def _require(params: dict[str, str], *names: str) -> None:
        for name in names:
            if not params.get(name):
                AliyunSmsEmulator._missing(name)

    @staticmethod
    def _missing(name: str) -> Any:
        raise _Rejected(f"Missing{name}", f"{name} is mandatory for this action.", 400)

    @staticmethod
    def _json(raw: str, kind: type) -> Any:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _Rejected("isv.INVALID_JSON_PARAM", "JSON 参数不合法") from exc
        if not isinstance(value, kind):
            raise _Rejected("isv.INVALID_JSON_PARAM", "JSON 参数不合法")
        return value
