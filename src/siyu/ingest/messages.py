"""Validation of Segment-spec calls (identify, track, page, screen, group, alias).

Field names follow the Segment spec so the official Segment and RudderStack libraries work
unchanged. siyu's identifiers ride in an ``identifiers`` object; ``userId`` is the brand's
customer_no, ``anonymousId`` an app_device_id, and identify traits named after identifier types
are identifiers too.

This is the hot path of ingest (hundreds of thousands of calls a second), so it is plain Python
over dicts rather than a pydantic model: every check still names the field it failed on.
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from typing import Any, NamedTuple

import orjson

from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.identifiers import (
    IDENTIFIER_PRIORITY,
    BlockedIdentifier,
    Identifier,
    IdentifierError,
    IdentifierParser,
)

TYPES = frozenset({"identify", "track", "page", "screen", "group", "alias"})
MAX_EVENT_NAME = 200
MAX_MESSAGE_ID = 128
_TOP_LEVEL_IDS = frozenset({"userId", "anonymousId", "previousId"})


class MessageError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Message(NamedTuple):
    """A validated call, ready for resolution and storage. A named tuple: cheap to build and
    to pickle (large imports validate in a worker process and send these back)."""

    type: str
    message_id: str
    timestamp: datetime
    identifiers: list[Identifier]
    event: str | None = None
    properties: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    blocked: tuple[str, ...] = ()

    @property
    def state(self) -> str | None:
        """Entry code state carried in ``context.state`` (活码 / 获客链接)."""
        if self.context:
            state = self.context.get("state")
            if isinstance(state, str) and state:
                return state
        return None

    @property
    def campaign_source(self) -> str | None:
        """``context.campaign.source`` (utm_source): a channel key when it names one."""
        campaign = (self.context or {}).get("campaign")
        if isinstance(campaign, dict):
            src = campaign.get("source")
            if isinstance(src, str) and src:
                return src
        return None


def _parse_time(value: Any, name: str) -> datetime:
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError as exc:
            raise MessageError(name, f"not an ISO 8601 time: {value!r}") from exc
    elif isinstance(value, int | float) and not isinstance(value, bool):
        # Epoch seconds, or milliseconds when clearly too large to be seconds.
        ts = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
    else:
        raise MessageError(name, f"must be an ISO 8601 string, got {type(value).__name__}")
    if ts.tzinfo is UTC:
        return ts
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _dict(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MessageError(name, f"must be an object, got {type(value).__name__}")
    return value


def scrub(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    """Mask phones and emails (any key case or alias, nested, in lists, as numbers) so plaintext
    never reaches stored JSON; the validator uses its parser's configured detector."""
    return DEFAULT_DETECTOR.scrub(payload)


def content_message_id(raw: dict[str, Any]) -> str:
    """Deterministic id for a call that has none, so re-importing the same line is a no-op."""
    digest = hashlib.sha256(orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"sha256:{digest[:40]}"


class MessageValidator:
    def __init__(self, parser: IdentifierParser) -> None:
        self.parser = parser

    def validate(self, raw: Any, now: datetime | None = None) -> Message:
        if not isinstance(raw, dict):
            raise MessageError("(record)", f"must be a JSON object, got {type(raw).__name__}")
        kind = raw.get("type")
        if kind not in TYPES:
            raise MessageError("type", f"must be one of {', '.join(sorted(TYPES))}, got {kind!r}")
        message_id = raw.get("messageId")
        if message_id is None:
            message_id = raw.get("message_id")
        if type(message_id) is not str:
            if message_id is None:
                message_id = content_message_id(raw)
            elif not isinstance(message_id, int) or isinstance(message_id, bool):
                raise MessageError("messageId", "must be a string")
            message_id = str(message_id)
        if not message_id or len(message_id) > MAX_MESSAGE_ID:
            raise MessageError("messageId", f"must be 1-{MAX_MESSAGE_ID} characters")

        stamp = raw.get("timestamp") or raw.get("originalTimestamp")
        timestamp = _parse_time(stamp, "timestamp") if stamp is not None else (now or datetime.now(UTC))

        properties = _dict(raw, "properties")
        traits = _dict(raw, "traits")
        context = _dict(raw, "context")
        if kind == "identify" and context and isinstance(context.get("traits"), dict):
            # RudderStack's JavaScript SDK sends identify traits in context.traits.
            traits = {**context["traits"], **(traits or {})}
        event: str | None = None
        if kind == "track":
            event = raw.get("event")
            if not isinstance(event, str) or not event.strip():
                raise MessageError("event", "a track call needs a non-empty event name")
            if len(event) > MAX_EVENT_NAME:
                raise MessageError("event", f"longer than {MAX_EVENT_NAME} characters")
        elif kind in ("page", "screen"):
            name = raw.get("name")
            if name is not None and not isinstance(name, str):
                raise MessageError("name", "must be a string")
            event = (name or kind)[:MAX_EVENT_NAME]
        elif kind == "group":
            group_id = raw.get("groupId")
            if not isinstance(group_id, str | int) or group_id == "":
                raise MessageError("groupId", "a group call needs a groupId")
            properties = {"groupId": str(group_id), **(traits or {})}
            traits = None
        elif kind == "alias":
            event = "alias"

        identifiers, blocked = self._identifiers(raw, kind, traits)
        if not identifiers:
            why = f" (ignored placeholder values: {', '.join(blocked)})" if blocked else ""
            raise MessageError(
                "identifiers",
                "no usable identifier: give userId, anonymousId or an identifiers object" + why,
            )
        pii = self.parser.pii
        plain_traits = pii.scrub({k: v for k, v in (traits or {}).items() if k not in IDENTIFIER_PRIORITY})
        return Message(
            type=kind,
            message_id=message_id,
            timestamp=timestamp,
            identifiers=identifiers,
            event=event,
            properties=pii.scrub(properties),
            traits=plain_traits or {},
            context=pii.scrub(context),
            blocked=tuple(blocked),
        )

    def _identifiers(
        self, raw: dict[str, Any], kind: str, traits: dict[str, Any] | None
    ) -> tuple[list[Identifier], list[str]]:
        out: list[Identifier] = []
        blocked: list[str] = []
        value = raw.get("userId")
        if value is not None:
            self._add(out, blocked, "customer_no", value, "userId")
        value = raw.get("anonymousId")
        if value is not None:
            self._add(out, blocked, "app_device_id", value, "anonymousId")
        if kind == "alias" and raw.get("previousId") is not None:
            self._add(out, blocked, "app_device_id", raw["previousId"], "previousId")
        extra = raw.get("identifiers")
        if extra is not None:
            if type(extra) is not dict:
                raise MessageError("identifiers", "must be an object of {type: value}")
            for name, value in extra.items():
                self._add(out, blocked, name, value, "identifiers")
        if kind == "identify" and traits:
            for name, value in traits.items():
                if value and name in IDENTIFIER_PRIORITY:
                    self._add(out, blocked, name, value, "traits")
                elif value and (alias := self.parser.pii.kind_of_key(name)):
                    # ``Phone``, ``mobile``, ``手机号``…: an identifier (stored encrypted) when
                    # valid; otherwise it stays a trait, masked, and the call is not refused.
                    for v in value if type(value) is list else (value,):
                        with contextlib.suppress(IdentifierError):
                            out.append(self.parser.parse(alias, v))
        return (out if len(out) < 2 else list(dict.fromkeys(out))), blocked

    def _add(self, out: list[Identifier], blocked: list[str], kind: str, value: Any, where: str) -> None:
        """Parse one identifier (or a list of them) into ``out``; ``where`` names its field."""
        for v in value if type(value) is list else (value,):
            try:
                out.append(self.parser.parse(kind, v))
            except IdentifierError as exc:
                field = where if where in _TOP_LEVEL_IDS else f"{where}.{kind}"
                if not isinstance(exc, BlockedIdentifier):
                    raise MessageError(field, exc.reason) from exc
                blocked.append(field)
