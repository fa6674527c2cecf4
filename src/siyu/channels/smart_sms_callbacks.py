"""Callbacks from a 5G message platform (CSP interface spec V1.0.4): delivery notifications
become receipts, user messages and tapped suggestions become inbound messages; the callback
signature check of the spec's 身份鉴权 procedure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import orjson

from siyu.channels.base import Inbound, Receipt

RESPONSE_TYPE = "application/vnd.gsma.botsuggestion.response.v1.0+json"
RECEIPT_STATUS = dict(
    delivered="delivered", deliveredToNetwork="delivered", displayed="read", failed="failed"
)


def verify_notification(token: str, signature: str, timestamp: str | int, nonce: str) -> bool:
    """Whether a callback's ``signature`` header matches sha256 of token, timestamp and nonce
    sorted lexicographically and concatenated (the spec's 身份鉴权 procedure)."""
    joined = "".join(sorted([token, str(timestamp), nonce]))
    return hmac.compare_digest(hashlib.sha256(joined.encode()).hexdigest(), (signature or "").lower())


def _load(body: bytes | str | dict[str, Any]) -> dict[str, Any]:
    data = body if isinstance(body, dict) else orjson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("callback body must be a JSON object")
    return data


def parse_time(value: Any) -> datetime:
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def parse_delivery_notification(body: bytes | str | dict[str, Any]) -> list[Receipt]:
    """Receipts from a ``deliveryNotification`` callback. ``sent`` (reached the platform) and
    revoke results are not receipts; ``deliveredToNetwork`` (delivered as SMS) counts as
    delivered."""
    receipts = []
    for info in _load(body).get("deliveryInfoList") or []:
        status = RECEIPT_STATUS.get(str(info.get("status")))
        if status is None:
            continue
        error = None
        if status == "failed":
            error = f"{info.get('errorCode', '')}: {info.get('errorMessage', '')}".strip(": ")
        at = parse_time(info.get("dateTime"))
        receipts.append(Receipt(None, info.get("messageId"), status, at, error))  # type: ignore[arg-type]
    return receipts


def _part_content(part: dict[str, Any]) -> Any:
    text = part.get("contentText")
    if part.get("contentEncoding") == "base64" and isinstance(text, str):
        text = base64.b64decode(text).decode()
    if isinstance(text, str) and part.get("contentType") != "text/plain" and text.startswith(("{", "[")):
        return orjson.loads(text)
    return text


def parse_message_notification(body: bytes | str | dict[str, Any]) -> list[Inbound]:
    """Inbound messages from a ``messageNotification`` callback: typed text as is, a tapped
    suggestion as its postback data (the reply keyword). Files and shared data are skipped."""
    data = _load(body)
    sender = str(data.get("senderAddress") or "")
    phone = sender.removeprefix("tel:") or None
    at = parse_time(data.get("dateTime") or data.get("dataTime"))
    inbound = []
    for part in data.get("messageList") or []:
        content, kind = _part_content(part), part.get("contentType")
        text: str | None = None
        if kind == "text/plain" and isinstance(content, str):
            text = content
        elif kind == RESPONSE_TYPE and isinstance(content, dict):
            response = content.get("response") or {}
            chosen = response.get("reply") or response.get("action") or {}
            text = (chosen.get("postback") or {}).get("data") or chosen.get("displayText")
        if text:
            inbound.append(Inbound("smart_sms", phone, text, at, provider_message_id=data.get("messageId")))
    return inbound


#: The names :data:`siyu.channels.inbound.CALLBACK_PARSERS` looks up.
parse_delivery_notifications, parse_inbound_messages = parse_delivery_notification, parse_message_notification
