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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import orjson

from siyu.config import Settings
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


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """What one call may carry. Checked before any other work on the call (hashing, identifier
    parsing, resolution), so a hostile call costs its own rejection and nothing else."""

    call_bytes: int = 32 * 1024
    identifiers: int = 50
    depth: int = 32
    future: timedelta = timedelta(hours=24)
    #: Zone of times written without an offset: None is UTC (the Segment spec, for HTTP calls);
    #: imported files use the brand's zone, which is what a time in a Chinese spreadsheet means.
    naive_zone: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestLimits:
        return cls(
            call_bytes=settings.max_call_bytes,
            identifiers=settings.max_call_identifiers,
            depth=settings.max_property_depth,
            future=timedelta(hours=settings.max_future_hours),
        )


class OutOfRangeNumber:
    """A number the body's JSON held that no double can (``1e400``, ``Infinity``): kept in place
    by the lenient parser so that validation rejects the one call holding it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text[:40]


def _path(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key == "":  # an empty key must still name a place
        return f'{path}[""]'
    if not key.isprintable():  # NUL, lone surrogates: the answer must stay valid JSON text
        key = key.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")
    return f"{path}.{key}" if path else key


def _short(path: str) -> str:
    return path if len(path) <= 80 else path[:77] + "…"


def _too_deep(value: Any, limit: int, path: str) -> str | None:
    """Path of the first object or list nested more than ``limit`` levels inside ``value``.
    Iterative: a call nested 1,000 levels must not cost a RecursionError."""
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        node, where, level = stack.pop()
        if level > limit:
            return where
        for key, child in node.items() if isinstance(node, dict) else enumerate(node):
            if isinstance(child, dict | list):
                stack.append((child, _path(where, key), level + 1))
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone UTF-16 surrogate, which is not valid Unicode"
    return None


def _bad_value(value: Any) -> tuple[str, str] | None:
    """(path, reason) of the first value that cannot be stored: a NUL character (PostgreSQL
    refuses it), a lone surrogate, a number beyond 64-bit integers or doubles."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            reason = _bad_text(node)
            if reason:
                return where or "(call)", reason
        elif isinstance(node, dict):
            for key, child in node.items():
                reason = _bad_text(key) if isinstance(key, str) else None
                if reason:
                    return _path(where, key), f"key {reason}"
                stack.append((child, _path(where, key)))
        elif isinstance(node, list):
            stack.extend((child, _path(where, i)) for i, child in enumerate(node))
        elif isinstance(node, OutOfRangeNumber):
            return where, f"number {node!r} is out of range"
        elif isinstance(node, int) and not isinstance(node, bool) and not -(2**63) <= node < 2**64:
            return where, f"number {str(node)[:40]} is out of range (64-bit integers at most)"
    return None


def check_shape(raw: dict[str, Any], limits: IngestLimits) -> None:
    """Size, nesting and unstorable values of one call, from one C-speed serialisation in the
    common case; the slower walks run only when the serialisation says they might find
    something."""
    try:
        blob = orjson.dumps(raw)
    except orjson.JSONEncodeError as exc:  # too deep for orjson (255 levels), or a bad value
        _check_depth(raw, limits.depth)
        bad = _bad_value(raw)
        if bad:
            raise MessageError(_short(bad[0]), bad[1]) from exc
        raise MessageError("(call)", f"not representable as JSON: {exc}") from exc
    if len(blob) > limits.call_bytes:
        raise MessageError("(call)", f"{len(blob)} bytes of JSON; at most {limits.call_bytes} bytes per call")
    if blob.count(b"{") + blob.count(b"[") > limits.depth:  # fewer containers cannot nest deeper
        _check_depth(raw, limits.depth)
    if b"\\u0000" in blob:  # orjson writes NUL as \u0000 (a literal "\\u0000" text matches too)
        bad = _bad_value(raw)
        if bad:
            raise MessageError(_short(bad[0]), bad[1])


def _check_depth(raw: dict[str, Any], limit: int) -> None:
    for key, value in raw.items():
        if isinstance(value, dict | list):
            field = _path("", key)
            where = _too_deep(value, limit, field)
            if where is not None:
                raise MessageError(field, f"nested deeper than {limit} levels (at {_short(where)})")


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


def parse_time(value: Any, name: str, naive_zone: str | None = None) -> datetime:
    """An aware UTC datetime from ISO 8601 text, epoch seconds or milliseconds. Values that
    exist in their own offset but not in UTC (``9999-12-31T23:59:59-05:00``) or overflow the
    platform's time_t (an epoch of ``1e20``) are the call's error, never the server's."""
    try:
        if isinstance(value, datetime):
            ts = value
        elif isinstance(value, str):
            try:
                ts = datetime.fromisoformat(value)
            except ValueError as exc:
                raise MessageError(name, f"not an ISO 8601 time: {value[:64]!r}") from exc
        elif isinstance(value, int | float) and not isinstance(value, bool):
            # Epoch seconds, or milliseconds when clearly too large to be seconds.
            ts = datetime.fromtimestamp(value / 1000 if value > 1e11 else value, UTC)
        else:
            raise MessageError(name, f"must be an ISO 8601 string, got {type(value).__name__}")
        if ts.tzinfo is UTC:
            return ts
        if ts.tzinfo is None:
            return (
                ts.replace(tzinfo=ZoneInfo(naive_zone)).astimezone(UTC)
                if naive_zone
                else ts.replace(tzinfo=UTC)
            )
        return ts.astimezone(UTC)
    except (OverflowError, OSError, ValueError) as exc:
        if isinstance(exc, MessageError):
            raise
        raise MessageError(name, f"{str(value)[:64]!r} is outside the range of dates siyu can store") from exc


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
    def __init__(self, parser: IdentifierParser, limits: IngestLimits | None = None) -> None:
        self.parser = parser
        self.limits = limits or IngestLimits()

    @classmethod
    def from_settings(cls, parser: IdentifierParser, settings: Settings) -> MessageValidator:
        return cls(parser, IngestLimits.from_settings(settings))

    def validate(
        self, raw: Any, now: datetime | None = None, received: bool = False, sent_at: Any = None
    ) -> Message:
        """``received``: the call arrived live at ``now`` (HTTP), so its time is corrected for
        the client's clock with ``sentAt`` (the call's own, else the batch's ``sent_at``).
        Files are history: their times are taken as written."""
        if not isinstance(raw, dict):
            raise MessageError("(record)", f"must be a JSON object, got {type(raw).__name__}")
        check_shape(raw, self.limits)
        kind = raw.get("type")
        if type(kind) is not str or kind not in TYPES:
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

        timestamp = self._time(raw, now or datetime.now(UTC), received, sent_at)

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

    def _time(self, raw: dict[str, Any], now: datetime, received: bool, sent_at: Any) -> datetime:
        """The event's time in UTC. Live calls are corrected for the client's clock the way
        Segment does: timestamp = receivedAt − (sentAt − timestamp). Then no event may lie more
        than ``limits.future`` ahead of the server's clock."""
        name = "timestamp" if raw.get("timestamp") else "originalTimestamp"
        stamp = raw.get(name)
        if not stamp and stamp != 0:
            return now
        ts = parse_time(stamp, name, self.limits.naive_zone)
        sent = raw.get("sentAt") or sent_at
        if received and sent:
            try:
                ts = now - (parse_time(sent, "sentAt") - ts)
            except OverflowError as exc:
                raise MessageError(
                    name, f"{str(stamp)[:64]!r} is out of range once corrected with sentAt {str(sent)[:64]!r}"
                ) from exc
        if ts - now > self.limits.future:
            hours = self.limits.future.total_seconds() / 3600
            raise MessageError(
                name,
                f"{ts.isoformat()} is more than {hours:g} h ahead of the server's clock"
                + (" (after correcting the client's clock with sentAt)" if received and sent else ""),
            )
        return ts

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
        values = value if type(value) is list else (value,)
        if len(out) + len(values) > self.limits.identifiers - len(blocked):
            raise MessageError(
                where if where in _TOP_LEVEL_IDS else f"{where}.{kind}",
                f"more than {self.limits.identifiers} identifiers in one call",
            )
        for v in values:
            try:
                out.append(self.parser.parse(kind, v))
            except IdentifierError as exc:
                field = where if where in _TOP_LEVEL_IDS else f"{where}.{kind}"
                if not isinstance(exc, BlockedIdentifier):
                    raise MessageError(field, exc.reason) from exc
                blocked.append(field)
