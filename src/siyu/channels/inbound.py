"""What comes back from providers: delivery receipts update the outbox (and become
``message.delivered`` / ``message.failed`` events); inbound messages become ``Message Received``
events of the contact (which keyword tagging rules read), and an SMS reply that is an
unsubscribe keyword (T, TD, 退订, STOP …) revokes marketing consent for SMS at once."""

from __future__ import annotations

import hashlib
import hmac
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from siyu.channels.base import Inbound, Receipt
from siyu.channels.email import verify_unsubscribe_token
from siyu.channels.providers import ProviderService
from siyu.channels.sms_common import is_unsubscribe
from siyu.consent.service import ConsentService
from siyu.privacy.service import put_on_do_not_contact
from siyu.profiles.detect import DEFAULT as DEFAULT_DETECTOR
from siyu.profiles.identifiers import IdentifierError, IdentifierParser
from siyu.profiles.pii import Keyring
from siyu.profiles.service import ProfileService
from siyu.store.changes import emit_events
from siyu.store.models import ChannelProvider, OutboxMessage, utcnow

#: (provider kind, callback kind) → parser of the provider's pushed body.
CALLBACK_PARSERS: dict[tuple[str, str], str] = {
    ("aliyun_sms", "receipts"): "siyu.channels.aliyun_sms:parse_aliyun_report",
    ("aliyun_sms", "inbound"): "siyu.channels.aliyun_sms:parse_aliyun_uplink",
    ("tencent_sms", "receipts"): "siyu.channels.tencent_sms:parse_tencent_report",
    ("tencent_sms", "inbound"): "siyu.channels.tencent_sms:parse_tencent_reply",
    ("smart_sms", "receipts"): "siyu.channels.smart_sms_callbacks:parse_delivery_notifications",
    ("smart_sms", "inbound"): "siyu.channels.smart_sms_callbacks:parse_inbound_messages",
}
INBOUND_EVENT = "Message Received"


def callback_parser(provider_kind: str, kind: str) -> Callable[[bytes], Sequence[Receipt | Inbound]] | None:
    target = CALLBACK_PARSERS.get((provider_kind, kind))
    if target is None:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name, None)  # type: ignore[no-any-return]


@dataclass
class CallbackResult:
    received: int = 0
    matched: int = 0
    unknown: int = 0
    unsubscribed: int = 0


def record_receipts(session: Session, receipts: Sequence[Receipt]) -> CallbackResult:
    """Match receipts to outbox rows by our key or the provider's message id."""
    result = CallbackResult(received=len(receipts))
    events: dict[str, list[tuple[str, int, dict[str, Any]]]] = {"message.delivered": [], "message.failed": []}
    t = OutboxMessage
    for r in receipts:
        conds = []
        if r.key:
            conds.append(t.key == r.key)
        if r.provider_message_id:
            conds.append(t.provider_message_id == r.provider_message_id)
        if not conds:
            result.unknown += 1
            continue
        row = session.execute(
            select(t.id, t.key, t.contact_id, t.channel).where(or_(*conds)).limit(1)
        ).first()
        if row is None:
            result.unknown += 1
            continue
        result.matched += 1
        if r.status in ("delivered", "read"):
            changed = session.execute(
                update(t)
                .where(t.id == row.id, t.status.in_(("sent", "sending", "pending")))
                .values(status="delivered", delivered_at=r.at)
                .execution_options(synchronize_session=False)
            ).rowcount
            name = "message.delivered"
        else:
            changed = session.execute(
                update(t)
                .where(t.id == row.id, t.status != "delivered")
                .values(status="failed", error=(r.error or "failed")[:1000])
                .execution_options(synchronize_session=False)
            ).rowcount
            name = "message.failed"
        if not changed:  # e.g. a failure receipt for a message already delivered
            continue
        events[name].append(
            (f"{name}:{row.key}", row.contact_id, {"channel": row.channel, "message": row.key})
        )
    for name, rows in events.items():
        emit_events(session, name, rows, utcnow())
    return result


def record_inbound(
    session: Session, profiles: ProfileService, parser: IdentifierParser, items: Sequence[Inbound]
) -> CallbackResult:
    """Record each message as an event of the contact it comes from (by phone or WeCom id);
    messages from unknown senders are counted, not stored (no contact to attach them to)."""
    result = CallbackResult(received=len(items))
    rows: list[tuple[str, int, dict[str, Any]]] = []
    consent = ConsentService(session)
    for m in items:
        cid = None
        try:
            if m.phone:
                cid = profiles.resolve(parser.parse("phone", m.phone))
            if cid is None and m.wecom_external_userid:
                cid = profiles.resolve(parser.parse("wecom_external_userid", m.wecom_external_userid))
        except IdentifierError:
            cid = None
        if cid is None:
            result.unknown += 1
            continue
        result.matched += 1
        digest = hashlib.sha256(
            f"{m.channel}|{m.provider_message_id}|{m.phone}|{m.at.isoformat()}|{m.text}".encode()
        )
        # a reply can quote a number or an address: stored masked, like every ingested payload
        props = DEFAULT_DETECTOR.scrub({"channel": m.channel, "text": m.text}) or {}
        rows.append((f"inbound:{digest.hexdigest()[:32]}", cid, props))
        if m.channel in ("sms", "smart_sms") and is_unsubscribe(m.text):
            consent.record(
                cid, "marketing", "sms", False, source="sms_reply", evidence={"text": m.text[:200]}
            )
            put_on_do_not_contact(session, profiles, cid, "sms", "unsubscribed")
            result.unsubscribed += 1
    emit_events(session, INBOUND_EVENT, rows, utcnow())
    return result


class CallbackRefused(ValueError):
    """A callback that is not accepted; ``status`` is the HTTP answer (403, 404, 422)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def receive_callback(
    session: Session,
    keyring: Keyring,
    profiles: ProfileService,
    parser: IdentifierParser,
    provider_key: str,
    kind: str,
    token: str,
    body: bytes,
) -> dict[str, int]:
    """A provider's push of receipts or inbound messages: check the URL's token, parse the body
    the way that provider sends it, record what it holds."""
    providers = ProviderService(session, keyring)
    row = providers.get(provider_key)
    if not hmac.compare_digest(token.encode(), providers.callback_token(provider_key).encode()):
        raise CallbackRefused(403, "bad callback token")
    parse = callback_parser(row.kind, kind)
    if parse is None:
        raise CallbackRefused(404, f"{row.kind} has no {kind} callback")
    try:
        items = list(parse(body))
    except ValueError as exc:
        raise CallbackRefused(422, f"unreadable {kind} body: {exc}") from exc
    r1 = record_receipts(session, [i for i in items if isinstance(i, Receipt)])
    r2 = record_inbound(session, profiles, parser, [i for i in items if isinstance(i, Inbound)])
    return {
        "received": r1.received + r2.received,
        "matched": r1.matched + r2.matched,
        "unknown": r1.unknown + r2.unknown,
        "unsubscribed": r2.unsubscribed,
    }


def unsubscribe_email(session: Session, keyring: Keyring, profiles: ProfileService, token: str) -> int | None:
    """One-click email unsubscribe: revoke marketing consent for email of the contact a token
    names (followed to the survivor of any merge since the email went out). The token is an
    HMAC made with one of the SMTP providers' unsubscribe secrets; None when none made it."""
    providers = ProviderService(session, keyring)
    for row in session.scalars(select(ChannelProvider).where(ChannelProvider.kind == "smtp")):
        secret = providers.secrets(row).get("unsubscribe_secret")
        cid = verify_unsubscribe_token(token, str(secret).encode()) if secret else None
        if cid is None:
            continue
        survivor = profiles.repo.survivor_of(cid)
        if survivor is None:
            return None
        ConsentService(session).record(survivor, "marketing", "email", False, source="email_unsubscribe")
        put_on_do_not_contact(session, profiles, survivor, "email", "unsubscribed")
        return survivor
    return None
