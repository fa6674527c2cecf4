"""How many billed parts (条) an SMS takes in mainland China, as Aliyun and Tencent Cloud count it.

Both providers count the signature (【品牌】, brackets included) and the text together, one
character each whatever it is — a Chinese character, a Latin letter, a digit, a punctuation
mark or a space — and bill a message of up to 70 characters as one part; a longer one is sent
as a concatenated SMS of 67 characters per part (the other 3 carry the part header).

Characters are counted as UTF-16 code units, which is what the carriers' UCS-2 encoding
sends: an emoji outside the Basic Multilingual Plane takes two. The console's live counter
(console/static/content.js) counts the same way, so both always agree.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

SINGLE_PART = 70
PER_PART = 67
#: A concatenated SMS holds at most this many parts; providers refuse longer texts.
MAX_PARTS = 10


@dataclass(frozen=True)
class SmsCount:
    chars: int  # signature + text, in UTF-16 code units
    parts: int  # billed parts (0 for an empty message)
    per_part: int  # 70 for a single part, 67 when concatenated
    left: int  # characters left in the last part before another part starts
    signature: str  # the signature as counted, 【…】

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def signature_of(sign_name: str | None) -> str:
    """``品牌`` → ``【品牌】``; empty when no signature (the provider's configured one applies)."""
    name = (sign_name or "").strip().strip("【】[]")
    return f"【{name}】" if name else ""


def units(text: str) -> int:
    """Characters as the carrier counts them: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def count_sms(text: str, sign_name: str | None = None) -> SmsCount:
    """The parts ``text`` takes with its signature (see the module's docstring)."""
    signature = signature_of(sign_name)
    chars = units(signature + (text or "")) if text else units(signature)
    if not text:
        return SmsCount(chars, 0, SINGLE_PART, SINGLE_PART - chars, signature)
    if chars <= SINGLE_PART:
        return SmsCount(chars, 1, SINGLE_PART, SINGLE_PART - chars, signature)
    parts = -(-chars // PER_PART)
    return SmsCount(chars, parts, PER_PART, parts * PER_PART - chars, signature)


#: How a preview marks a link (content.render.PREVIEW_LINK) — sent, it is a short link.
_PREVIEW_LINK = re.compile(r"\[link:[^\]\s]*\]")


def short_link_length(public_url: str) -> int:
    """Characters of a tracked short link: ``{public_url}/l/`` and a 10-character code."""
    return len(public_url.rstrip("/")) + len("/l/") + 10


def sms_counts(
    channel: str, content: dict[str, Any], link_length: int | None = None
) -> dict[str, Any] | None:
    """The parts of a rendered message's SMS text: an ``sms`` body's text, or a smart SMS
    card's fallback (what a phone without card support receives); None for other channels.
    ``link_length``: count a preview's ``[link:URL]`` markers as the short links sent."""

    def count(text: Any, sign: Any) -> dict[str, Any]:
        text = str(text or "")
        if link_length is not None:
            text = _PREVIEW_LINK.sub("x" * link_length, text)
        return count_sms(text, sign).to_dict()

    if channel == "sms":
        return count(content.get("text"), content.get("sign_name"))
    fallback = content.get("fallback")
    if channel == "smart_sms" and isinstance(fallback, dict):
        return count(fallback.get("text"), fallback.get("sign_name"))
    return None
