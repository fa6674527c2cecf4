"""The outbox dispatcher: sends what the journey engine (or a one-off send) wrote to the
outbox, exactly once per idempotency key.

1. **Claim** (own transaction): due rows move to ``sending`` with a lease and ``attempts + 1``
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers never share a row).
2. **Call** the provider outside any transaction, passing the row's key. A row tried before
   (its worker died after the claim, or the provider's answer was lost or unclear) may or may
   not have been accepted, so the adapter's ``lookup`` asks the provider first and only sends
   when it finds nothing.
3. **Record** (own transaction) the result, fenced on ``attempts`` so a worker whose lease ran
   out cannot overwrite the row a newer claim owns. Temporary failures come back later with
   exponential backoff; a smart SMS the handset cannot render becomes its plain-SMS fallback
   under the same key.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from siyu.channels.base import ChannelAdapter, OutboundMessage, Recipient, SendResult
from siyu.channels.providers import ProviderError, ProviderService
from siyu.profiles.pii import Keyring
from siyu.store.changes import emit_events
from siyu.store.dialect import chunked
from siyu.store.engine import Database
from siyu.store.models import ContactAttribute, Identity, OutboxMessage, utcnow

log = logging.getLogger("siyu.dispatcher")
MAX_ATTEMPTS = 6
#: Messages sent and recorded together; a claim is worked through in chunks of this size.
CHUNK = 50


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    found: int = 0  # confirmed by lookup after a lost worker
    failed: int = 0
    retried: int = 0
    fallback: int = 0


@dataclass
class _Claimed:
    id: int
    key: str
    contact_id: int
    channel: str
    provider: str | None
    content: dict[str, Any]
    attempts: int
    tried_before: bool
    created_at: datetime


def backoff(attempt: int, base_s: float = 30.0) -> float:
    """Seconds before retry ``attempt`` + 1: base, 2×base, 4×base … at most an hour."""
    return min(base_s * 2 ** (attempt - 1), 3600.0)


class Dispatcher:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        lease_s: float = 120.0,
        batch_size: int = 200,
        retry_base_s: float = 30.0,
    ) -> None:
        self.db = db
        self.retry_base_s = retry_base_s
        self.keyring = keyring
        self.lease_s = lease_s
        self.batch_size = batch_size
        self._adapters: dict[str, ChannelAdapter] = {}
        self._senders: dict[str, str | None] = {}  # provider → default WeCom sender

    def close(self) -> None:
        for a in self._adapters.values():
            a.close()
        self._adapters.clear()

    def run_once(self, now: datetime | None = None) -> DispatchStats:
        stats = DispatchStats()
        now = now or utcnow()
        with self.db.sessionmaker() as s:
            claimed = self._claim(s, now)
            recipients = self._recipients(s, claimed)
            providers, problems = self._providers(s, claimed)
            s.commit()
        stats.claimed = len(claimed)
        if not claimed:
            return stats
        problem_results = {
            c.id: (SendResult("retry", error=problems[c.id], retry_after_s=300), None)  # look again later
            for c in claimed
            if c.id in problems
        }
        groups: dict[str, list[_Claimed]] = defaultdict(list)
        for c in claimed:
            if c.id not in problems:
                groups[providers[c.id]].append(c)
        chunks = [
            (key, rows[i : i + CHUNK]) for key, rows in groups.items() for i in range(0, len(rows), CHUNK)
        ]
        # No provider call starts once half the lease is spent: after the lease another worker
        # may claim the row, look it up at the provider, find nothing yet and send it, so a
        # call of ours still starting then would be a second send. What is left is released.
        deadline = time.monotonic() + self.lease_s / 2
        released: list[_Claimed] = []
        for key, chunk in chunks:
            if time.monotonic() >= deadline:
                released.extend(chunk)
                continue
            results = self._send_chunk(key, chunk, recipients, stats, deadline)
            tried = [c for c in chunk if c.id in results]
            released.extend(c for c in chunk if c.id not in results)
            with self.db.sessionmaker() as s:
                self._record(s, tried, results, utcnow(), stats)
                s.commit()
        with self.db.sessionmaker() as s:
            self._record(s, [c for c in claimed if c.id in problems], problem_results, utcnow(), stats)
            self._release(s, released)
            s.commit()
        return stats

    def _send_chunk(
        self,
        key: str,
        rows: list[_Claimed],
        recipients: dict[int, Recipient],
        stats: DispatchStats,
        deadline: float,
    ) -> dict[int, tuple[SendResult, str | None]]:
        """Results for the rows tried; rows left out were not sent (the deadline passed before
        their provider call could start) and are to be released."""
        adapter = self._adapter(key)
        results: dict[int, tuple[SendResult, str | None]] = {}
        to_send: list[tuple[_Claimed, OutboundMessage]] = []
        for c in rows:
            rec = recipients[c.id]
            if rec.wecom_staff_userid is None and self._senders.get(key):
                # no `wecom_owner` trait: the provider's default staff member sends
                rec = replace(rec, wecom_staff_userid=self._senders[key])
            msg = OutboundMessage(c.key, c.channel, rec, c.content)
            if c.tried_before:
                if time.monotonic() >= deadline:
                    # A lookup is a provider call too: past half the lease the row goes back
                    # untried. Slow lookups that outlived the lease made every claim's work be
                    # fenced out by the next claim (a livelock seen with a 1 s lease under load).
                    continue
                try:
                    found = adapter.lookup(msg, c.created_at - timedelta(minutes=5))
                except Exception as exc:  # the provider could not answer: try again later
                    results[c.id] = (SendResult("retry", error=f"lookup: {exc}"), key)
                    continue
                if found is not None and found.status == "sent":
                    stats.found += 1
                    results[c.id] = (found, key)
                    continue
            to_send.append((c, msg))
        # Hand the adapter as many messages as go into one provider call, and check the
        # deadline before each call (a per-message provider would otherwise run one long loop).
        per_call = getattr(adapter, "messages_per_call", None) or len(to_send) or 1
        for i in range(0, len(to_send), per_call):
            if time.monotonic() >= deadline:
                break
            part = to_send[i : i + per_call]
            try:
                answers = adapter.send([m for _, m in part])
            except Exception as exc:  # an adapter bug must not lose the batch
                log.exception("provider %s failed", key)
                answers = [SendResult("retry", error=f"{type(exc).__name__}: {exc}")] * len(part)
            for (c, _), res in zip(part, answers, strict=True):
                results[c.id] = (res, key)
        return results

    def _release(self, s: Session, rows: list[_Claimed]) -> None:
        """Give back claimed rows that were not tried: due now, the attempt not counted."""
        t = OutboxMessage.__table__.c
        for c in rows:
            s.execute(
                update(OutboxMessage.__table__)
                .where(t.id == c.id, t.attempts == c.attempts)
                .values(status="pending", attempts=c.attempts - 1, next_attempt_at=utcnow())
            )

    # --- claim ------------------------------------------------------------------------------
    def _claim(self, s: Session, now: datetime) -> list[_Claimed]:
        t = OutboxMessage
        q = (
            select(
                t.id,
                t.key,
                t.contact_id,
                t.channel,
                t.provider,
                t.content,
                t.attempts,
                t.status,
                t.created_at,
            )
            .where(
                t.status.in_([literal_column("'pending'"), literal_column("'sending'")]),
                t.next_attempt_at <= now,
            )
            .order_by(t.next_attempt_at)
            .limit(self.batch_size)
        )
        if s.get_bind().dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = s.execute(q).all()
        if not rows:
            return []
        lease = now + timedelta(seconds=self.lease_s)
        s.execute(
            update(OutboxMessage.__table__)
            .where(OutboxMessage.__table__.c.id.in_([r.id for r in rows]))
            .values(status="sending", attempts=OutboxMessage.__table__.c.attempts + 1, next_attempt_at=lease)
        )
        return [
            _Claimed(
                r.id,
                r.key,
                r.contact_id,
                r.channel,
                r.provider,
                r.content,
                r.attempts + 1,
                r.attempts > 0,  # tried before: the provider may have it already
                r.created_at,
            )
            for r in rows
        ]

    def _recipients(self, s: Session, claimed: list[_Claimed]) -> dict[int, Recipient]:
        """Addresses decrypted in memory for this batch only."""
        ids = sorted({c.contact_id for c in claimed})
        found: dict[int, dict[str, str]] = defaultdict(dict)
        for ch in chunked(ids):
            for cid, typ, value, enc in s.execute(
                select(Identity.contact_id, Identity.type, Identity.value, Identity.value_enc).where(
                    Identity.contact_id.in_(ch),
                    Identity.type.in_(("phone", "email", "wecom_external_userid")),
                )
            ):
                if typ not in found[cid]:
                    found[cid][typ] = self.keyring.decrypt(enc, typ.encode()) if enc is not None else value
            for cid, name, value in s.execute(
                select(ContactAttribute.contact_id, ContactAttribute.name, ContactAttribute.value).where(
                    ContactAttribute.contact_id.in_(ch), ContactAttribute.name.in_(("wecom_owner", "name"))
                )
            ):
                found[cid][f"attr:{name}"] = str(value)
        out = {}
        for c in claimed:
            f = found.get(c.contact_id, {})
            out[c.id] = Recipient(
                contact_id=c.contact_id,
                phone=f.get("phone"),
                email=f.get("email"),
                wecom_external_userid=f.get("wecom_external_userid"),
                wecom_staff_userid=f.get("attr:wecom_owner"),
                name=f.get("attr:name"),
            )
        return out

    def _providers(self, s: Session, claimed: list[_Claimed]) -> tuple[dict[int, str], dict[int, str]]:
        """Provider key per row, and the error for rows no configured provider can carry."""
        service = ProviderService(s, self.keyring)
        keys: dict[int, str] = {}
        problems: dict[int, str] = {}
        for c in claimed:
            try:
                row = service.for_channel(c.channel, c.provider)
            except ProviderError as exc:
                problems[c.id] = str(exc)
                continue
            keys[c.id] = row.key
            if row.key not in self._adapters:
                self._adapters[row.key] = service.adapter(row)
                self._senders[row.key] = row.config.get("default_sender")
        return keys, problems

    def _adapter(self, key: str) -> ChannelAdapter:
        return self._adapters[key]

    # --- record -----------------------------------------------------------------------------
    def _record(
        self,
        s: Session,
        claimed: list[_Claimed],
        results: dict[int, tuple[SendResult, str | None]],
        now: datetime,
        stats: DispatchStats,
    ) -> None:
        t = OutboxMessage.__table__.c
        events: dict[str, list[tuple[str, int, dict[str, Any]]]] = defaultdict(list)
        for c in claimed:
            res, provider = results[c.id]
            values: dict[str, Any]
            if res.status == "sent":
                values = {
                    "status": "sent",
                    "sent_at": now,
                    "provider_message_id": res.provider_message_id,
                    "provider": provider,
                    "error": None,
                }
                stats.sent += 1
                events["message.sent"].append(
                    (f"message.sent:{c.key}", c.contact_id, {"channel": c.channel, "message": c.key})
                )
            elif res.status == "failed" and res.detail.get("fallback") and c.channel == "smart_sms":
                values = {
                    "status": "pending",
                    "channel": "sms",
                    "provider": None,
                    "next_attempt_at": now,
                    "content": _fallback(c.content),
                    "error": "smart_sms not_capable: sent as SMS",
                }
                stats.fallback += 1
            elif res.status == "failed" or c.attempts >= MAX_ATTEMPTS:
                values = {"status": "failed", "error": (res.error or "failed")[:1000], "provider": provider}
                stats.failed += 1
                events["message.failed"].append(
                    (
                        f"message.failed:{c.key}",
                        c.contact_id,
                        {"channel": c.channel, "message": c.key, "error": res.error},
                    )
                )
            else:
                delay = (
                    res.retry_after_s
                    if res.retry_after_s is not None
                    else backoff(c.attempts, self.retry_base_s)
                )
                values = {
                    "status": "pending",
                    "next_attempt_at": now + timedelta(seconds=delay),
                    "error": (res.error or "retry")[:1000],
                }
                stats.retried += 1
            s.execute(
                update(OutboxMessage.__table__).where(t.id == c.id, t.attempts == c.attempts).values(**values)
            )
        for name, rows in events.items():
            emit_events(s, name, rows, now)


def _fallback(content: dict[str, Any]) -> dict[str, Any]:
    fb = dict(content.get("fallback") or {})
    fb.setdefault("text", "")
    fb.setdefault("params", {})
    return fb
