"""The ingest hook for ``referral_code``: a property on any track call or a trait on any
identify call attributes the call's contact to that code's inviter, in the ingest transaction.

The device and IP of the call (``context.device.id``, ``context.ip``) are kept on the edge for
the fraud signals. Idempotent: a batch redone after a lost race finds the edge already there."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from siyu.ingest.messages import Message
from siyu.ingest.service import Accepted
from siyu.referrals.attribution import attribute_code

FIELD = "referral_code"


def _code(message: Message) -> str | None:
    for bag in (message.properties, message.traits):
        if isinstance(bag, dict):
            value = bag.get(FIELD)
            if isinstance(value, str) and value.strip():
                return value
    return None


def _device_ip(context: dict[str, Any] | None) -> tuple[str | None, str | None]:
    if not isinstance(context, dict):
        return None, None
    device = context.get("device")
    device_id = device.get("id") if isinstance(device, dict) else None
    ip = context.get("ip")
    return (str(device_id) if device_id else None), (str(ip) if ip else None)


class ReferralConsumer:
    """An ingest ``EventConsumer`` (registered in ``siyu.client`` after the order consumer)."""

    def wants(self, message: Message) -> bool:
        return _code(message) is not None

    def __call__(self, session: Session, accepted: list[Accepted]) -> None:
        for item in sorted(accepted, key=lambda a: a.message.timestamp):
            code = _code(item.message)
            if code is None:
                continue
            device, ip = _device_ip(item.message.context)
            attribute_code(session, code, item.contact_id, item.message.timestamp, device=device, ip=ip)
