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
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from siyu.channels.base import ChannelAdapter, OutboundMessage, Recipient, SendResult
from siyu.channels.providers import ProviderError, ProviderService
from siyu.channels.sending import (
    DispatchStats,
    Finished,
    Hold,
    Lane,
    QueuedMessage,
    SendCheck,
    Skip,
    Verdict,
    backoff,
    concurrency_of,
    fallback_content,
    fenced_update,
)
from siyu.profiles.pii import Keyring
from siyu.store.changes import emit_events
from siyu.store.dialect import chunked
from siyu.store.engine import Database
from siyu.store.models import ChannelProvider, ContactAttribute, Identity, OutboxMessage, utcnow

log = logging.getLogger("siyu.dispatcher")
MAX_ATTEMPTS = 6


#: What became of one message: the provider's answer (``found``: by lookup), or a send-time
#: verdict applied after a lookup found nothing.
@dataclass(frozen=True)
class _Outcome:
    result: SendResult | None
    provider: str | None
    found: bool = False
    verdict: Verdict | None = None


class Dispatcher:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        lease_s: float = 120.0,
        batch_size: int = 200,
        retry_base_s: float = 30.0,
        check: SendCheck | None = None,
    ) -> None:
        self.db = db
        self.retry_base_s = retry_base_s
        self.keyring = keyring
        self.lease_s = lease_s
        self.batch_size = batch_size
        self.check = check
        self._adapters: dict[str, ChannelAdapter] = {}
        self._lanes: dict[str, Lane] = {}
        self._senders: dict[str, str | None] = {}  # provider → default WeCom sender

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.close()
        self._lanes.clear()
        for a in self._adapters.values():
            a.close()
        self._adapters.clear()

    def run_once(self, now: datetime | None = None) -> DispatchStats:
        stats = DispatchStats()
        now = now or utcnow()
        with self.db.sessionmaker() as s:
            claimed = self._claim(s, now)
            verdicts = self.check(s, claimed, now) if self.check and claimed else {}
            # A message never tried is settled at once; one tried before may already be at the
            # provider, so it is looked up first (below) and the verdict applies if not found.
            settled = [c for c in claimed if c.id in verdicts and not c.tried_before]
            self._settle(s, settled, verdicts, now, stats)
            claimed = [c for c in claimed if not (c.id in verdicts and not c.tried_before)]
            recipients = self._recipients(s, claimed)
            providers, problems = self._providers(s, claimed)
            s.commit()
        stats.claimed = len(claimed) + len(settled)
        if not claimed:
            return stats
        # No provider call starts once half the lease is spent: after the lease another worker
        # may claim the row, look it up at the provider, find nothing yet and send it, so a
        # call of ours still starting then would be a second send. What is left is released.
        deadline = time.monotonic() + self.lease_s / 2
        if problems:
            self._problems(claimed, problems, stats)
        finished: SimpleQueue[Finished] = SimpleQueue()
        calls = 0
        groups: dict[str, list[QueuedMessage]] = defaultdict(list)
        for c in claimed:
            if c.id not in problems:
                groups[providers[c.id]].append(c)
        abandon = threading.Event()
        for key, rows in groups.items():
            adapter, lane = self._adapters[key], self._lanes[key]
            # as many messages as go into one provider call (a per-message API: one each)
            per_call = getattr(adapter, "messages_per_call", None) or len(rows)
            for i in range(0, len(rows), per_call):
                part = rows[i : i + per_call]
                job = self._call_job(key, part, recipients, verdicts, deadline, abandon)
                lane.submit(job, part, finished)
                calls += 1
        try:
            self._collect(calls, finished, stats)
        except BaseException:
            # Recording failed (the database went away): start no more calls, and hand every
            # slot back as the calls in flight finish. Their rows stay `sending`; after the
            # lease the next claim looks them up before sending.
            abandon.set()
            for _ in range(calls - stats.collected):
                finished.get()[0].recorded()
            raise
        return stats

    def _problems(self, claimed: list[QueuedMessage], problems: dict[int, str], stats: DispatchStats) -> None:
        """Rows no configured provider can carry: looked at again in five minutes."""
        rows = [c for c in claimed if c.id in problems]
        retry = {
            c.id: _Outcome(SendResult("retry", error=problems[c.id], retry_after_s=300), None) for c in rows
        }
        with self.db.sessionmaker() as s:
            self._record(s, rows, retry, utcnow(), stats)
            s.commit()

    def _collect(self, calls: int, finished: SimpleQueue[Finished], stats: DispatchStats) -> None:
        """Record results as calls finish — every call finished by then in one small
        transaction — and only then give their slots back, so no more than a lane's
        ``concurrency`` results are ever unrecorded. Rows whose call never started (the
        deadline) are released."""
        while calls:
            done = [finished.get()]
            while True:
                try:
                    done.append(finished.get_nowait())
                except Empty:
                    break
            calls -= len(done)
            stats.collected += len(done)
            tried: list[QueuedMessage] = []
            results: dict[int, _Outcome] = {}
            released: list[QueuedMessage] = []
            for _, rows, got in done:
                if isinstance(got, BaseException):  # a bug in the call wrapper must not lose the rows
                    log.error("provider call failed", exc_info=got)
                    error = SendResult("retry", error=f"{type(got).__name__}: {got}")
                    got = {c.id: _Outcome(error, None) for c in rows}
                for c in rows:
                    if c.id in got:
                        tried.append(c)
                        results[c.id] = got[c.id]
                    else:
                        released.append(c)
            try:
                with self.db.sessionmaker() as s:
                    self._record(s, tried, results, utcnow(), stats)
                    self._release(s, released)
                    s.commit()
            finally:
                for lane, _, _ in done:
                    lane.recorded()

    def _call_job(
        self,
        key: str,
        rows: list[QueuedMessage],
        recipients: dict[int, Recipient],
        verdicts: dict[int, Verdict],
        deadline: float,
        abandon: threading.Event,
    ) -> Any:
        """One provider call, run on the provider's lane: outcomes for the rows it tried; none
        when the deadline passed before it could start (the rows are released untried)."""
        adapter = self._adapters[key]

        def job() -> dict[int, _Outcome]:
            if time.monotonic() >= deadline or abandon.is_set():
                return {}
            out: dict[int, _Outcome] = {}
            to_send: list[tuple[QueuedMessage, OutboundMessage]] = []
            for c in rows:
                rec = recipients[c.id]
                if rec.wecom_staff_userid is None and self._senders.get(key):
                    # no `wecom_owner` trait: the provider's default staff member sends
                    rec = replace(rec, wecom_staff_userid=self._senders[key])
                msg = OutboundMessage(c.key, c.channel, rec, c.content)
                if c.tried_before:
                    if time.monotonic() >= deadline:  # a lookup is a provider call too: released
                        continue
                    try:
                        found = adapter.lookup(msg, c.created_at - timedelta(minutes=5))
                    except Exception as exc:  # the provider could not answer: try again later
                        out[c.id] = _Outcome(SendResult("retry", error=f"lookup: {exc}"), key)
                        continue
                    if found is not None and found.status == "sent":
                        out[c.id] = _Outcome(found, key, found=True)
                        continue
                    if c.id in verdicts:  # not at the provider, and may no longer go out
                        out[c.id] = _Outcome(None, key, verdict=verdicts[c.id])
                        continue
                to_send.append((c, msg))
            if not to_send or time.monotonic() >= deadline:  # lookups took the time: released
                return out
            try:
                answers = adapter.send([m for _, m in to_send])
            except Exception as exc:  # an adapter bug must not lose the batch
                log.exception("provider %s failed", key)
                answers = [SendResult("retry", error=f"{type(exc).__name__}: {exc}")] * len(to_send)
            for (c, _), res in zip(to_send, answers, strict=True):
                out[c.id] = _Outcome(res, key)
            return out

        return job

    def _release(self, s: Session, rows: list[QueuedMessage]) -> None:
        """Give back claimed rows that were not tried: due now, the attempt not counted."""
        now = utcnow()
        fenced_update(
            s, [(c, {"status": "pending", "attempts": c.attempts - 1, "next_attempt_at": now}) for c in rows]
        )

    def _settle(
        self,
        s: Session,
        rows: list[QueuedMessage],
        verdicts: dict[int, Verdict],
        now: datetime,
        stats: DispatchStats,
    ) -> None:
        """Apply send-time verdicts: ``skipped`` with the reason (and a ``message.skipped``
        event), or back to the queue until the hold ends, the attempt not counted."""
        updates: list[tuple[QueuedMessage, dict[str, Any]]] = []
        skipped: list[tuple[str, int, dict[str, Any]]] = []
        for c in rows:
            v = verdicts[c.id]
            if isinstance(v, Skip):
                values: dict[str, Any] = {"status": "skipped", "error": v.reason[:1000]}
                stats.skipped += 1
                skipped.append(
                    (
                        f"message.skipped:{c.key}",
                        c.contact_id,
                        {"channel": c.channel, "message": c.key, "reason": v.reason},
                    )
                )
            else:
                assert isinstance(v, Hold)
                values = {
                    "status": "pending",
                    "attempts": c.attempts - 1,
                    "next_attempt_at": v.until,
                    "error": v.reason[:1000],
                }
                stats.held += 1
            updates.append((c, values))
        fenced_update(s, updates)
        if skipped:
            emit_events(s, "message.skipped", skipped, now)

    # --- claim ------------------------------------------------------------------------------
    def _claim(self, s: Session, now: datetime) -> list[QueuedMessage]:
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
                t.journey_id,
                t.step,
                t.transactional,
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
            QueuedMessage(
                r.id,
                r.key,
                r.contact_id,
                r.channel,
                r.provider,
                r.content,
                r.attempts + 1,
                r.attempts > 0,  # tried before: the provider may have it already
                r.created_at,
                r.journey_id,
                r.step,
                bool(r.transactional),
            )
            for r in rows
        ]

    def _recipients(self, s: Session, claimed: list[QueuedMessage]) -> dict[int, Recipient]:
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

    def _providers(self, s: Session, claimed: list[QueuedMessage]) -> tuple[dict[int, str], dict[int, str]]:
        """Provider key per row, and the error for rows no configured provider can carry."""
        service = ProviderService(s, self.keyring)
        keys: dict[int, str] = {}
        problems: dict[int, str] = {}
        chosen: dict[tuple[str, str | None], ChannelProvider | str] = {}  # one lookup per claim
        for c in claimed:
            if (c.channel, c.provider) not in chosen:
                try:
                    chosen[(c.channel, c.provider)] = service.for_channel(c.channel, c.provider)
                except ProviderError as exc:
                    chosen[(c.channel, c.provider)] = str(exc)
            row = chosen[(c.channel, c.provider)]
            if isinstance(row, str):
                problems[c.id] = row
                continue
            keys[c.id] = row.key
            if row.key not in self._adapters:
                self._adapters[row.key] = service.adapter(row)
                self._senders[row.key] = row.config.get("default_sender")
            if row.key not in self._lanes:
                concurrency = concurrency_of(self._adapters[row.key], row.config)
                self._lanes[row.key] = Lane(row.key, concurrency)
        return keys, problems

    # --- record -----------------------------------------------------------------------------
    def _record(
        self,
        s: Session,
        claimed: list[QueuedMessage],
        results: dict[int, _Outcome],
        now: datetime,
        stats: DispatchStats,
    ) -> None:
        events: dict[str, list[tuple[str, int, dict[str, Any]]]] = defaultdict(list)
        verdicts = {c.id: v for c in claimed if (v := results[c.id].verdict) is not None}
        self._settle(s, [c for c in claimed if c.id in verdicts], verdicts, now, stats)
        updates: list[tuple[QueuedMessage, dict[str, Any]]] = []
        for c in claimed:
            outcome = results[c.id]
            res, provider = outcome.result, outcome.provider
            if res is None:
                continue
            stats.found += outcome.found
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
                    "content": fallback_content(c.content),
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
            updates.append((c, values))
        fenced_update(s, updates)
        for name, rows in events.items():
            emit_events(s, name, rows, now)
