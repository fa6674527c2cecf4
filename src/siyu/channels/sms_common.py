"""What the Aliyun and Tencent Cloud SMS adapters share: the ``sms`` message content, phone number
formats, China-time parsing and the unsubscribe (退订) keyword check.

Unsubscribe keywords. Chinese carriers and the SMS platforms on top of them require marketing
(推广/营销) templates to carry an opt-out instruction. The long-standing wording was "回T退订" /
"回TD退订"; since 2023 the platforms require "拒收请回复R" (Tencent Cloud rejects a marketing template
without it: ``InvalidParameterValue.MarketingTemplateWithoutUnsubscribe``; Huawei Cloud documents the same
"R" rule). People also answer "退订", "取消", "N", "STOP". A reply counts as an unsubscribe when, once
normalised (NFKC, so full-width ``ＴＤ`` becomes ``TD``; case-folded; surrounding punctuation and spaces
dropped), *every* word in it is one of these keywords — so "TD", " td ", "退订！" and "TD 退订" match, and
"STD courier" or "退订了吗？我还想收" do not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import phonenumbers

from siyu.channels.base import OutboundMessage

#: Replies that revoke marketing consent (compared after :func:`normalise_reply`).
UNSUBSCRIBE_KEYWORDS: frozenset[str] = frozenset(
    {"t", "td", "r", "n", "stop", "unsubscribe", "退订", "取消", "取消订阅", "拒收"}
)

#: Both providers report times as China Standard Time wall-clock strings (no zone in the text).
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_WORD_SPLIT = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise_reply(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), case-folded, trimmed."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def is_unsubscribe(text: str) -> bool:
    """True when the reply consists only of unsubscribe keywords (see the module docstring)."""
    words = [w for w in _WORD_SPLIT.split(normalise_reply(text)) if w]
    return bool(words) and all(w in UNSUBSCRIBE_KEYWORDS for w in words)


@dataclass(frozen=True)
class SmsContent:
    """``OutboundMessage.content`` for channel ``sms``: the provider template to use, its parameters
    (ordered — Tencent fills ``{1}``, ``{2}``… by position), the rendered text for logs, and an
    optional signature (签名) that overrides the adapter's configured one."""

    template_code: str
    params: dict[str, str]
    text: str
    sign_name: str | None = None


def sms_content(message: OutboundMessage) -> SmsContent:
    """The message's content, checked; raises ``ValueError`` with a message fit for ``SendResult.error``."""
    content = message.content
    if message.channel != "sms":
        raise ValueError(f"channel {message.channel!r} is not sms")
    code = content.get("template_code")
    if not isinstance(code, str) or not code:
        raise ValueError("content.template_code is required")
    raw_params: Any = content.get("params") or {}
    if not isinstance(raw_params, dict):
        raise ValueError("content.params must be an object of name → value")
    sign = content.get("sign_name")
    return SmsContent(
        template_code=code,
        params={str(k): _param_text(v) for k, v in raw_params.items()},
        text=str(content.get("text") or ""),
        sign_name=str(sign) if sign else None,
    )


def _param_text(value: Any) -> str:
    # Both providers take template variables as strings; a bool would otherwise render "True".
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def parse_phone(phone: str | None) -> phonenumbers.PhoneNumber:
    """Parse an E.164 number (``+8613800138000``); raises ``ValueError`` when it is missing or unparseable.
    Validity (e.g. a new carrier prefix) is left to the provider, whose metadata is the current one."""
    if not phone:
        raise ValueError("recipient has no phone number")
    try:
        return phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"phone {phone!r} is not in E.164 form: {exc}") from exc


def to_e164(phone: str | None) -> str:
    number = parse_phone(phone)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def aliyun_phone(phone: str | None) -> str:
    """The form dysmsapi documents for ``PhoneNumbers``/``PhoneNumber``: the bare 11-digit number for the
    Chinese mainland, "国际区号+号码" (country code then number, no ``+`` or ``00``) otherwise."""
    number = parse_phone(phone)
    national = phonenumbers.national_significant_number(number)
    return national if number.country_code == 86 else f"{number.country_code}{national}"


def from_provider_phone(raw: str, country_code: str | int | None = None) -> str:
    """Back to E.164 from what a report/uplink push carries: a bare mainland number (``1381111****``), a
    number with its country code but no ``+``, or a separate ``nationcode``."""
    digits = re.sub(r"[^\d+]", "", raw or "")
    if digits.startswith("+"):
        return digits
    if country_code:
        return f"+{country_code}{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+86{digits}"
    if digits.startswith("00"):
        return f"+{digits[2:]}"
    return f"+{digits}"


def parse_china_time(value: str | None) -> datetime | None:
    """``"2017-01-01 00:00:00"`` (China time, as both providers report) → an aware UTC datetime."""
    if not value:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=CHINA_TZ).astimezone(UTC)
        except ValueError:
            continue
    return None


def seconds_until_china_hour(now: datetime, hour: int) -> float:
    """Seconds from ``now`` to the next ``hour``:00 China time (marketing SMS may only go out 08–22)."""
    local = now.astimezone(CHINA_TZ)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return (target - local).total_seconds()
