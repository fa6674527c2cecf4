"""Finding phone numbers and email addresses wherever they hide in a payload, and masking them.

Auditors found PII that the old exact-key scrub missed: ``Phone``/``EMAIL`` (key case),
``mobile_phone``/``phoneNumber``/``tel``/``手机号``/``邮箱`` (aliases), ``{"contact": {"mobile":
…}}`` (nesting), ``{"phones": […]}`` (lists) and ``13912345678`` sent as a JSON number. Two
detectors run together, so a value is caught however it arrives:

* **by key** — a key whose *normalised* form (lower case, without ``_ - . space``) is in the
  alias list (``SIYU_PII_KEY_ALIASES``) marks its value as a phone or an email, whatever the
  value looks like (a malformed phone is still somebody's phone);
* **by value** — any string (or integer) holding a mainland mobile number (with or without
  ``+86``/separators) or an email address has that part masked, under any key, and keys
  themselves are checked the same way.

The walk is the slow path: a payload is first serialised once and searched with one regex for
anything that *could* be PII (an alias-looking key, 11 digits, an ``@``); nearly every event
(page views, orders) has none and is returned untouched, so ingest pays about one
``orjson.dumps`` per call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import phonenumbers

from siyu.profiles.pii import mask_email, mask_phone

#: Key aliases (normalised: lower case, no ``_``, ``-``, ``.`` or spaces) → identifier type.
DEFAULT_KEY_ALIASES: dict[str, tuple[str, ...]] = {
    "phone": (
        "phone", "phones", "mobile", "mobiles", "mobilephone", "phonenumber", "phoneno", "phonenum",
        "mobilenumber", "mobileno", "tel", "telephone", "telno", "cellphone", "cell", "contactphone",
        "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式",
    ),
    "email": (
        "email", "emails", "mail", "emailaddress", "mailaddress", "contactemail",
        "邮箱", "电子邮箱", "邮件", "电子邮件", "邮箱地址",
    ),
}
#: Deeper than this a payload is not walked further: the rest is replaced, never kept unread.
MAX_DEPTH = 64
TOO_DEEP = "[nested too deep]"

_EMAIL_IN_TEXT = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# A mainland mobile number: 1[3-9]x xxxx xxxx, optionally +86/86/0086 and - or space separators,
# not part of a longer run of digits (order numbers, epoch milliseconds).
_MOBILE_IN_TEXT = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s\-]?)?1[3-9]\d(?:[\s\-]?\d{4}){2}(?!\d)")
_DIGITS = re.compile(r"\d")
# Pre-check patterns: simpler (and several times faster) supersets of the ones above.
_MAYBE_MOBILE = re.compile(r"1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4}")
_JSON_KEY = re.compile(r'"([^"]{1,64})":')


def _has_mobile(text: str) -> bool:
    """Whether ``text`` may hold a mobile number: the fast pattern (no look-behind, which
    would disable the regex engine's literal scan) plus a boundary check in Python, so the
    13 digits of an epoch in milliseconds do not send every event through the walk. A
    superset of :data:`_MOBILE_IN_TEXT` (``86``/``0086`` before the number still counts)."""
    for match in _MAYBE_MOBILE.finditer(text):
        start, end = match.span()
        if end < len(text) and text[end].isdigit():
            continue
        if start and text[start - 1].isdigit() and text[max(0, start - 2) : start] != "86":
            continue
        return True
    return False


def normalise_key(key: str) -> str:
    # chained replace: several times faster than str.translate with a deletion table
    key = key.casefold()
    return key.replace("_", "").replace("-", "").replace(".", "").replace(" ", "").replace("\t", "")


def mask_loose(kind: str, value: Any) -> str:
    """Masked form of a value known to be a phone or an email, however malformed: a phone
    keeps its first three and last four digits (``139****5678``), an email its first letter
    and domain; anything too short to keep a part of is all stars."""
    text = str(value).strip()
    if kind == "email":
        return mask_email(text) if "@" in text else "***"
    digits = "".join(_DIGITS.findall(text))
    if len(digits) == 11 and digits[0] == "1":
        return mask_phone("+86" + digits)
    if len(digits) == 13 and digits.startswith("861"):
        return mask_phone("+" + digits)
    if len(digits) < 7:
        return "*" * max(len(digits), 3)
    return f"{digits[:3]}****{digits[-4:]}"


def _mask_mobile(match: re.Match[str]) -> str:
    return mask_loose("phone", match.group(0))


def _mask_email(match: re.Match[str]) -> str:
    return mask_email(match.group(0))


def mask_text(text: str) -> str:
    """``text`` with every mobile number and email address in it masked."""
    if "@" in text:
        text = _EMAIL_IN_TEXT.sub(_mask_email, text)
    return _MOBILE_IN_TEXT.sub(_mask_mobile, text)


class PiiDetector:
    """Detects and masks phones and emails in JSON-like values (dicts, lists, scalars)."""

    def __init__(self, aliases: Mapping[str, Iterable[str]] | None = None) -> None:
        table = DEFAULT_KEY_ALIASES if aliases is None else aliases
        # The identifier types' own names always count: a configured list cannot un-protect them.
        self.aliases: dict[str, str] = {"phone": "phone", "email": "email"}
        for kind, names in table.items():
            if kind not in ("phone", "email"):
                raise ValueError(f"PII key aliases: unknown kind {kind!r} (phone or email)")
            for name in names:
                self.aliases[normalise_key(str(name))] = kind
        self._alias_set = frozenset(self.aliases)

    def kind_of_key(self, key: Any) -> str | None:
        """``phone`` or ``email`` when ``key`` names one (any case, any alias), else None."""
        return self.aliases.get(normalise_key(key)) if isinstance(key, str) else None

    def may_hold_pii(self, payload: Any) -> bool:
        """The cheap pre-check (a superset: a false hit only costs the walk, which then finds
        nothing): an ``@``, eleven digits that could be a mobile number, or a key that
        normalises to an alias."""
        try:
            text = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
        except (TypeError, orjson.JSONEncodeError):
            return True  # too deep or not serialisable: walk it to be sure
        if "@" in text or _has_mobile(text):
            return True
        keys = _JSON_KEY.findall(text)
        # one normalisation of all keys joined, then split: cheaper than one call per key
        return bool(keys) and not self._alias_set.isdisjoint(normalise_key("\x00".join(keys)).split("\x00"))

    def scrub(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        """``payload`` with every phone and email masked (the same object when it holds none)."""
        if not payload or not self.may_hold_pii(payload):
            return payload
        return self._walk(payload, None, 0)  # type: ignore[no-any-return]

    def scrub_value(self, value: Any) -> Any:
        """Any JSON value (a trait, a list, a string) with its phones and emails masked."""
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, dict | list) and not self.may_hold_pii(value):
            return value
        return self._walk(value, None, 0)

    def _walk(self, value: Any, kind: str | None, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return TOO_DEEP
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                key = mask_text(k) if isinstance(k, str) else k
                out[key] = self._walk(v, self.kind_of_key(k) or kind, depth + 1)
            return out
        if isinstance(value, list | tuple):
            return [self._walk(v, kind, depth + 1) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if kind is not None:
            if isinstance(value, float) and not value.is_integer():
                return value  # a measurement, not a number anyone dials
            if isinstance(value, int | float) and not isinstance(value, bool):
                return mask_loose(kind, int(value)) if abs(value) >= 1_000_000 else value
            if isinstance(value, str) and value.strip():
                return mask_loose(kind, value)
            return value
        if isinstance(value, str):
            return mask_text(value) if "@" in value or _has_mobile(value) else value
        if isinstance(value, int) and 13_000_000_000 <= value < 20_000_000_000:
            return mask_loose("phone", value) if _MOBILE_IN_TEXT.fullmatch(str(value)) else value
        return value


def looks_like_pii(text: str) -> bool:
    """True when ``text`` is (or holds) a mobile number or an email address, or parses as a
    valid phone number of any country written with its ``+`` prefix."""
    if _EMAIL_IN_TEXT.search(text) or _MOBILE_IN_TEXT.search(text):
        return True
    candidate = text.strip()
    if candidate.startswith("+") and len(_DIGITS.findall(candidate)) >= 7:
        try:
            return phonenumbers.is_valid_number(phonenumbers.parse(candidate, None))
        except phonenumbers.NumberParseException:
            return False
    return False


def redact_reference(text: str) -> str:
    """A reference (a URL segment, a lookup query) safe to record: ``phone:+8613912340001`` →
    ``phone:139****0001``, ``a@b.cn`` → ``a***@b.cn``, ``+14155552671`` → ``+14****2671``;
    anything else unchanged."""
    kind, sep, rest = text.partition(":")
    if sep and kind in ("phone", "email"):
        return f"{kind}:{mask_loose(kind, rest)}"
    if not looks_like_pii(text):
        return text
    masked = mask_text(text)
    return masked if masked != text else mask_loose("phone", text)


DEFAULT = PiiDetector()

__all__ = [
    "DEFAULT",
    "DEFAULT_KEY_ALIASES",
    "PiiDetector",
    "looks_like_pii",
    "mask_loose",
    "mask_text",
    "redact_reference",
]
