"""Signed webhooks: ``POST`` a JSON event to the brand's own system.

The signing scheme is the one Stripe and GitHub use, so receivers can reuse what they know:

* ``X-Siyu-Timestamp: <unix seconds>`` — when we signed;
* ``X-Siyu-Signature: sha256=<hex>`` — ``HMAC-SHA256(secret, f"{timestamp}.{raw body}")``; a
  receiver accepts a comma-separated list (``sha256=a,sha256=b``) so a secret can be rotated
  without downtime;
* ``Idempotency-Key: <key>`` — our outbox key. Receivers must de-duplicate on it: a webhook has
  no query API we could ask after a crash, so :meth:`WebhookAdapter.lookup` returns None and the
  dispatcher may deliver the same key again — when its answer was lost, or the worker died
  between the answer and recording it (at most ``concurrency`` requests at a time, one by
  default); the key makes that harmless.

Binding the timestamp into the signed string and rejecting old timestamps (five minutes by
default) stops a captured request from being replayed later — the reason Stripe signs
``"{t}.{payload}"`` rather than the payload alone.

Status codes follow common webhook practice (Stripe, GitHub, Svix): 2xx delivered; 408, 429 and
5xx are temporary (``Retry-After`` honoured; repeated by the dispatcher's backoff, not at once
— only a refused connection or a 429 is repeated within the call); any other 4xx is a
permanent refusal.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import orjson

from siyu.channels.base import OutboundMessage, PreparedCall, Receipt, SendResult
from siyu.channels.http import ProviderHttp, call_blocking, retry_after_header

SIGNATURE_HEADER = "X-Siyu-Signature"
TIMESTAMP_HEADER = "X-Siyu-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
TEMPORARY_STATUS = {408, 429}


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The ``X-Siyu-Signature`` value for ``body`` sent at ``timestamp``."""
    signed = _as_bytes(str(timestamp)) + b"." + _as_bytes(body)
    return "sha256=" + hmac.new(_as_bytes(secret), signed, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: int | str | None,
    body: str | bytes,
    header: str | None,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """True when ``header`` holds a valid signature of ``body`` made at ``timestamp`` with
    ``secret``, and ``timestamp`` is within ``tolerance_s`` of ``now`` (either side: a clock
    ahead of ours is as suspicious as a stale request). Compares in constant time."""
    if not header or timestamp is None:
        return False
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    expected = sign(secret, ts, body)
    candidates = [part.strip() for part in header.split(",") if part.strip().startswith("sha256=")]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


class WebhookAdapter:
    """Delivers ``webhook`` messages. Content: ``{"event": str, "data": dict, "path"?: str}``;
    the body sent is ``{"event", "data", "contact_id", "idempotency_key", "sent_at"}``."""

    kind = "webhook"
    messages_per_call = 1
    #: Calls in flight at once (the provider's ``concurrency``). One by default: a crash then
    #: leaves at most one webhook unrecorded, so a receiver sees at most one repeat.
    default_concurrency = 1
    max_concurrency = 256
    CONFIG_FIELDS: ClassVar[dict[str, str]] = {
        "url": "required: the receiver's URL (content may replace its path with `path`)",
        "tolerance_s": "how old a signature the receiver accepts, for docs only (default 300)",
        "retries": "in-call repeats when the request did not arrive: refused connection, 429 (default 2)",
        "timeout_s": "request timeout in seconds (default 10)",
        "rate_per_s": "client-side limit: request starts in any one second (default 50)",
        "concurrency": "requests in flight at once (default 1, at most 256); a crash may repeat that many",
    }
    SECRET_FIELDS: ClassVar[dict[str, str]] = {"secret": "required: the shared HMAC-SHA256 signing secret"}

    def __init__(self, config: dict[str, Any], secrets: dict[str, Any]) -> None:
        url = config.get("url")
        if not url:
            raise ValueError("webhook config: url is required")
        if not secrets.get("secret"):
            raise ValueError("webhook secrets: secret is required")
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"webhook config: url must be http(s), got {url!r}")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.secret: str = str(secrets["secret"])
        self.http = ProviderHttp(
            self.origin,
            rate_per_s=float(config.get("rate_per_s", 50.0)),
            retries=int(config.get("retries", 2)),
            timeout_s=float(config.get("timeout_s", 10.0)),
        )
        #: Seconds since the epoch; replaceable so tests can sign with a skewed clock.
        self.clock: Callable[[], float] = time.time

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        return [call_blocking(self.http, self.prepare(m)) for m in messages]

    def prepare(self, message: OutboundMessage) -> PreparedCall | SendResult:
        """The signed request for ``message``, or the result when its content cannot go out.
        Repeated at once only when it certainly did not arrive (refused connection, 429):
        after a timeout or a 5xx the dispatcher retries later, so a lost answer costs the
        receiver at most one repeat per attempt, not one per in-call retry as well."""
        content = message.content
        event, data = content.get("event"), content.get("data", {})
        if not isinstance(event, str) or not event:
            return SendResult("failed", error="invalid content: event must be a non-empty string")
        if not isinstance(data, dict):
            return SendResult("failed", error="invalid content: data must be an object")
        path = content.get("path") or self.path
        if not isinstance(path, str) or not path.startswith("/"):
            return SendResult("failed", error="invalid content: path must start with '/'")
        timestamp = int(self.clock())
        body = orjson.dumps(
            {
                "event": event,
                "data": data,
                "contact_id": message.recipient.contact_id,
                "idempotency_key": message.key,
                "sent_at": timestamp,
            }
        )
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.secret, timestamp, body),
            IDEMPOTENCY_HEADER: message.key,
        }
        key = message.key
        return PreparedCall("POST", path, {"content": body, "headers": headers}, lambda r: _result(r, key))

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """Webhooks have no query API: receivers de-duplicate on ``Idempotency-Key`` instead."""
        return None

    def receipts(self, since: datetime) -> list[Receipt]:
        return []

    def close(self) -> None:
        self.http.close()


def _result(resp: httpx.Response, key: str) -> SendResult:
    status = resp.status_code
    detail = {"http_status": status}
    if 200 <= status < 300:
        return SendResult("sent", provider_message_id=resp.headers.get("X-Request-Id") or key, detail=detail)
    error = f"HTTP {status}: {resp.text[:200]}"
    if status in TEMPORARY_STATUS or status >= 500:
        return SendResult("retry", error=error, retry_after_s=retry_after_header(resp), detail=detail)
    return SendResult("failed", error=error, detail=detail)
