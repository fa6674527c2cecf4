"""Identifier types, normalisation, blocked values and priorities (identity resolution input)."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import phonenumbers

from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.detect import PiiDetector

#: Highest first: when a merge or attach would break a rule, the lowest-priority incoming
#: identifier is dropped. customer_no is the brand's own key, phone is the strongest personal key
#: in China, device ids are the weakest.
IDENTIFIER_PRIORITY: dict[str, int] = {
    "customer_no": 100,
    "phone": 90,
    "email": 80,
    "wechat_unionid": 70,
    "wecom_external_userid": 60,
    "wechat_openid": 50,
    "douyin_openid": 40,
    "taobao_nick": 30,
    "app_device_id": 10,
}
IDENTIFIER_TYPES: tuple[str, ...] = tuple(IDENTIFIER_PRIORITY)
#: Types whose values are personal information: stored encrypted, looked up by blind index.
PII_TYPES: frozenset[str] = frozenset({"phone", "email"})
#: Types whose normalisation is trimming only (no scope, no format).
_PLAIN_TYPES = frozenset(IDENTIFIER_PRIORITY) - PII_TYPES - {"wechat_openid"}

DEFAULT_BLOCKED = (
    r"^\s*$",
    r"^[0\-]*$",
    r"^-1$",
    r"^(?i:null|none|nil|nan|undefined|anonymous|unknown|n/?a)$",
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_VALUE_LENGTH = 256
MAX_SCOPE_LENGTH = 64


class IdentifierError(ValueError):
    """An identifier value that cannot be used; ``field`` names it for error reports."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class BlockedIdentifier(IdentifierError):
    """A placeholder value (empty, 0, -1, null, anonymous, …): ignored, never matched."""


class Identifier(NamedTuple):
    """A normalised identifier. A named tuple: created for every call on the ingest hot path,
    where a frozen dataclass costs several times more."""

    type: str
    value: str
    scope: str = ""

    @property
    def priority(self) -> int:
        return IDENTIFIER_PRIORITY[self.type]

    @property
    def is_pii(self) -> bool:
        return self.type in PII_TYPES

    def __str__(self) -> str:
        return f"{self.type}:{self.scope + ':' if self.scope else ''}{self.value}"


class IdentifierParser:
    """Normalises raw identifier values: phone → E.164, email lower-cased, openid scoped."""

    def __init__(
        self, region: str = "CN", extra_blocked: list[str] | None = None, pii: PiiDetector | None = None
    ) -> None:
        self.region = region
        #: Finds phones and emails under any key alias, nested or as numbers (masking them).
        self.pii = pii or DEFAULT_DETECTOR
        self.extra_blocked = list(extra_blocked or [])
        # One alternation: a single regex call per value on the ingest hot path.
        self._blocked = re.compile("|".join(f"(?:{p})" for p in (*DEFAULT_BLOCKED, *(extra_blocked or []))))
        self._phone_cache: dict[str, str] = {}

    def is_blocked(self, value: str) -> bool:
        return self._blocked.search(value) is not None

    def parse(self, kind: str, raw: Any, scope: str | None = None) -> Identifier:
        """Return the normalised identifier or raise :class:`IdentifierError`."""
        if type(raw) is str and kind in _PLAIN_TYPES:  # the common case on the ingest hot path
            value = raw.strip()
            if self._blocked.search(value) is None and len(value) <= MAX_VALUE_LENGTH:
                return Identifier(kind, value)
        if kind not in IDENTIFIER_PRIORITY:
            raise IdentifierError(kind, f"unknown identifier type (known: {', '.join(IDENTIFIER_TYPES)})")
        if isinstance(raw, dict) and kind == "wechat_openid":
            app_id = raw.get("app_id", raw.get("appid"))
            scope = "" if app_id is None else str(app_id)
            raw = raw.get("value", raw.get("openid"))
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise IdentifierError(kind, f"must be a string, got {type(raw).__name__}")
        value = str(raw).strip()
        if kind == "wechat_openid" and scope is None and ":" in value:
            scope, value = value.split(":", 1)
            value = value.strip()
        if self.is_blocked(value):
            raise BlockedIdentifier(kind, f"blocked placeholder value {value!r}")
        if len(value) > MAX_VALUE_LENGTH:
            raise IdentifierError(kind, f"longer than {MAX_VALUE_LENGTH} characters")
        if scope and len(scope) > MAX_SCOPE_LENGTH:
            raise IdentifierError(kind, f"app id longer than {MAX_SCOPE_LENGTH} characters")
        if kind == "phone":
            return Identifier(kind, self.normalise_phone(value))
        if kind == "email":
            value = value.lower()
            if not _EMAIL.match(value):
                raise IdentifierError(kind, f"not an email address: {value!r}")
            return Identifier(kind, value)
        if kind == "wechat_openid":
            return Identifier(kind, value, scope or "")
        return Identifier(kind, value)

    def forget(self, values: set[str]) -> None:
        """Drop normalised values (and the raw spellings that led to them) from the in-memory
        phone cache: an erased person's number must not outlive the erasure in this process."""
        for raw, e164 in list(self._phone_cache.items()):
            if e164 in values or raw in values:
                self._phone_cache.pop(raw, None)

    def normalise_phone(self, value: str) -> str:
        cached = self._phone_cache.get(value)
        if cached is not None:
            return cached
        try:
            number = phonenumbers.parse(value, self.region)
        except phonenumbers.NumberParseException as exc:
            raise IdentifierError("phone", f"not a phone number: {exc}") from exc
        if not number.national_number or set(str(number.national_number)) <= {"0"}:
            raise BlockedIdentifier("phone", "all-zero phone number")
        # Valid, not merely possible: a junk number like "12345" must never link two people.
        if not phonenumbers.is_valid_number(number):
            raise IdentifierError("phone", f"not a valid phone number: {value!r}")
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if self.is_blocked(e164):
            raise BlockedIdentifier("phone", "blocked phone number")
        if len(self._phone_cache) < 100_000:
            self._phone_cache[value] = e164
        return e164
