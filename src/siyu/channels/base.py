"""What every channel adapter offers the outbox dispatcher.

Exactly-once delivery rests on two things an adapter provides:

* ``send`` passes the message's idempotency key to the provider in the field the provider
  documents for caller context (Aliyun ``OutId``, Tencent ``SessionContext``, the SMTP
  ``Message-ID``, the webhook ``Idempotency-Key`` header, …);
* ``lookup`` asks the provider whether a message with that key was already accepted. The
  dispatcher calls it before re-sending a message whose earlier attempt may have reached the
  provider (the worker died between the provider's answer and recording it), so a crash never
  sends twice where the provider can be asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

#: Message kinds a journey can send, and the provider kinds that can carry each.
MESSAGE_CHANNELS: dict[str, tuple[str, ...]] = {
    "wecom_private": ("wecom",),
    "wecom_group": ("wecom",),
    "wecom_moment": ("wecom",),
    "wecom_welcome": ("wecom",),
    "wecom_tag": ("wecom",),  # tag sync (mark_tag), not a message
    "sms": ("aliyun_sms", "tencent_sms"),
    "smart_sms": ("smart_sms",),
    "email": ("smtp",),
    "webhook": ("webhook",),
}

#: Provider kinds and the adapter class that implements each (``module:Class``), imported lazily
#: so that a deployment without, say, SMTP never imports its module.
PROVIDER_KINDS: dict[str, str] = {
    "wecom": "siyu.channels.wecom:WeComAdapter",
    "aliyun_sms": "siyu.channels.aliyun_sms:AliyunSmsAdapter",
    "tencent_sms": "siyu.channels.tencent_sms:TencentSmsAdapter",
    "smart_sms": "siyu.channels.smart_sms:SmartSmsAdapter",
    "smtp": "siyu.channels.email:SmtpAdapter",
    "webhook": "siyu.channels.webhook:WebhookAdapter",
}


@dataclass(frozen=True)
class Recipient:
    """Where a contact can be reached; the dispatcher fills what the channel needs (decrypted
    PII is only ever held in memory for the call)."""

    contact_id: int
    phone: str | None = None  # E.164, e.g. +8613800138000
    email: str | None = None
    wecom_external_userid: str | None = None
    wecom_staff_userid: str | None = None  # the staff member (员工) who owns the relationship
    name: str | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """One rendered message. ``key`` is the idempotency key
    ``"{journey}:{contact}:{enrolment}:{step}"`` (or any unique string for one-off sends)."""

    key: str
    channel: str  # one of MESSAGE_CHANNELS
    recipient: Recipient
    content: dict[str, Any]  # channel-specific, already rendered (see docs/channels.md)


SendStatus = Literal["sent", "failed", "retry"]


@dataclass
class SendResult:
    """``sent``: the provider accepted it (``provider_message_id`` if it gave one);
    ``failed``: permanent (bad number, template rejected, limit reached) — never retried;
    ``retry``: temporary (rate limit, 5xx, network) — retried with backoff, at least
    ``retry_after_s`` later when the provider said so."""

    status: SendStatus
    provider_message_id: str | None = None
    error: str | None = None
    retry_after_s: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedCall:
    """One message's provider request, ready to go out, for adapters of a per-message API that
    offer ``prepare``: the dispatcher makes the request on its event loop
    (``ProviderHttp.arequest``, never repeated blind) and ``finish`` reads the answer. ``send``
    of the same adapter does exactly this with the blocking client."""

    method: str
    url: str
    kwargs: dict[str, Any]
    finish: Callable[[Any], SendResult]  # the httpx.Response → the result


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt (回执) or read/failed report for a message sent earlier."""

    key: str | None  # our idempotency key, when the provider echoes it back
    provider_message_id: str | None
    status: Literal["delivered", "failed", "read"]
    at: datetime
    error: str | None = None


@dataclass(frozen=True)
class Inbound:
    """A message from a contact (SMS reply, smart SMS button reply, …) to be recorded as an
    event; ``text`` is what the contact wrote or the keyword of the button pressed."""

    channel: str
    phone: str | None
    text: str
    at: datetime
    wecom_external_userid: str | None = None
    provider_message_id: str | None = None


class ChannelAdapter(Protocol):
    """A provider client. Built from the provider's config (``base_url``, credentials, limits);
    must be safe to call from one thread at a time (the dispatcher builds one per worker)."""

    kind: str
    #: Optional: how many messages one provider call carries (1 for APIs that send one message
    #: per request). The dispatcher hands over that many at a time and starts no call once its
    #: lease is half spent; without it, the whole chunk goes to ``send`` at once.
    messages_per_call: int | None

    def send(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        """Send each message (batching provider calls where the API allows); one result per
        message, in order. Never raises for a provider error: it becomes a result."""
        ...

    def lookup(self, message: OutboundMessage, since: datetime) -> SendResult | None:
        """The provider's record of ``message`` if it accepted it since ``since``, else None."""
        ...

    def receipts(self, since: datetime) -> list[Receipt]:
        """Delivery receipts available since ``since`` (polling APIs); [] when the provider only
        pushes them (they arrive through the REST callback instead)."""
        ...

    def close(self) -> None: ...
