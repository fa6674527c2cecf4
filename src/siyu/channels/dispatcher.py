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

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import literal_column, select, update
from sqlalchemy.orm import Session

from siyu.channels.base import ChannelAdapter, OutboundMessage, Recipient, SendResult
from siyu.channels.calls import ProviderCalls
from siyu.channels.providers import ProviderError, ProviderService
from siyu.channels.sending import (
    DispatchStats,
    Hold,
    QueuedMessage,
    SendCheck,
    Skip,
    Verdict,
    backoff,
    concurrency_of,
    fallback_content,
    fenced_update,
    recipients_of,
)
from siyu.profiles.pii import Keyring
from siyu.store.changes import emit_events
from siyu.store.engine import Database
from siyu.store.models import ChannelProvider, OutboxMessage, utcnow

log = logging.getLogger("siyu.dispatcher")
MAX_ATTEMPTS = 6
#: The longest a claim waits for its provider calls (at least the lease): past the HTTP
#: timeout (10 s by default) an answer is not coming; the rows are looked up after the lease.
CALL_WAIT_S = 15.0


#: What became of one message: the provider's answer (``found``: by lookup), or a send-time
#: verdict applied after a lookup found nothing.
@dataclass(frozen=True)
class _Outcome:
    result: SendResult | None
    provider: str | None
    found: bool = False
    verdict: Verdict | None = None


#: A finished provider call: the slot it held (None: never started), its rows, and its
#: outcomes by row id (or what it raised).
Finished = tuple["asyncio.Semaphore | None", list[QueuedMessage], Any]


class Dispatcher:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        lease_s: float = 120.0,
        batch_size: int = 200,
        retry_base_s: float = 30.0,
        check: SendCheck | None = None,
        call_wait_s: float = CALL_WAIT_S,
    ) -> None:
        self.db = db
        self.call_wait_s = call_wait_s
        self.retry_base_s = retry_base_s
        self.keyring = keyring
        self.lease_s = lease_s
        self.batch_size = batch_size
        self.check = check
        self._adapters: dict[str, ChannelAdapter] = {}
        self._concurrency: dict[str, int] = {}
        self.calls = ProviderCalls()
        self._senders: dict[str, str | None] = {}  # provider → default WeCom sender

    def close(self) -> None:
        self.calls.close(list(self._adapters.values()))
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
            recipients = recipients_of(s, self.keyring, claimed)
            providers, problems = self._providers(s, claimed)
            s.commit()
        stats.claimed = len(claimed) + len(settled)
        if not claimed:
            return stats
        # No provider call starts once half the lease is spent: after the lease another worker
        # may claim the row, look it up at the provider, find nothing yet and send it, so a
        # call of ours still starting then would be a second send. What is left is released.
        started = time.monotonic()
        deadline = started + self.lease_s / 2
        if problems:
            self._problems(claimed, problems, stats)
        groups: dict[str, list[QueuedMessage]] = defaultdict(list)
        for c in claimed:
            if c.id not in problems:
                groups[providers[c.id]].append(c)
        calls: list[tuple[str, list[QueuedMessage]]] = []
        for key, rows in groups.items():
            # as many messages as go into one provider call (a per-message API: one each)
            per_call = getattr(self._adapters[key], "messages_per_call", None) or len(rows)
            calls.extend((key, rows[i : i + per_call]) for i in range(0, len(rows), per_call))
        give_up = started + max(self.lease_s, self.call_wait_s)
        self.calls.run(self._dispatch(calls, recipients, verdicts, deadline, give_up, stats))
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

    async def _dispatch(
        self,
        calls: list[tuple[str, list[QueuedMessage]]],
        recipients: dict[int, Recipient],
        verdicts: dict[int, Verdict],
        deadline: float,
        give_up: float,
        stats: DispatchStats,
    ) -> None:
        """Run the claim's provider calls, each provider's at most ``concurrency`` at a time,
        and record results as they come — every call finished by then in one small
        transaction. A call's slot is given back only once its result is recorded, so no more
        than ``concurrency`` results of a provider are ever unrecorded: the most a crash can
        leave in doubt (a lookup resolves it; a webhook receiver may see those once more).

        Every wait is bounded: a call not started by ``deadline`` (half the lease) is released
        untried, and at ``give_up`` the calls still running are abandoned and logged — their
        rows stay ``sending`` and the next claim after the lease looks them up first."""
        done: asyncio.Queue[Finished] = asyncio.Queue()
        slots = {key: asyncio.Semaphore(self._concurrency[key]) for key, _ in calls}

        async def call(key: str, rows: list[QueuedMessage]) -> None:
            sem = slots[key]
            slot: asyncio.Semaphore | None = sem
            try:
                if sem.locked():  # wait_for costs a task; a free slot is taken without one
                    await asyncio.wait_for(sem.acquire(), max(0.0, deadline - time.monotonic()))
                else:
                    await sem.acquire()
            except TimeoutError:
                done.put_nowait((None, rows, {}))  # never started: released
                return
            try:
                got: dict[int, _Outcome] | BaseException = await self._call(
                    key, rows, recipients, verdicts, deadline
                )
            except Exception as exc:  # a bug in the call wrapper must not lose the rows
                got = exc
            done.put_nowait((slot, rows, got))

        tasks = [asyncio.create_task(call(key, rows)) for key, rows in calls]
        waiting = len(tasks)
        try:
            while waiting:
                try:
                    first = await asyncio.wait_for(done.get(), max(0.0, give_up - time.monotonic()))
                except TimeoutError:
                    stuck = sorted({key for (key, _), t in zip(calls, tasks, strict=True) if not t.done()})
                    log.warning(
                        "dispatcher: %d provider calls (%s) still unanswered %.0f s after the claim; "
                        "their messages stay 'sending' and are looked up after the lease",
                        waiting,
                        ", ".join(stuck),
                        max(self.lease_s, self.call_wait_s),
                    )
                    return
                batch = [first]
                while not done.empty():
                    batch.append(done.get_nowait())
                waiting -= len(batch)
                stats.collected += len(batch)
                try:
                    # on the recorder thread: the loop keeps reading answers meanwhile, and
                    # they are recorded together next (one transaction per round, not per call)
                    await self.calls.record(self._record_calls, batch, stats)
                finally:
                    for slot, _, _ in batch:
                        if slot is not None:
                            slot.release()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _record_calls(self, batch: list[Finished], stats: DispatchStats) -> None:
        """Record finished calls in one transaction; rows a call did not try are released."""
        tried: list[QueuedMessage] = []
        results: dict[int, _Outcome] = {}
        released: list[QueuedMessage] = []
        for _, rows, got in batch:
            if isinstance(got, BaseException):
                log.error("provider call failed", exc_info=got)
                error = SendResult("retry", error=f"{type(got).__name__}: {got}")
                got = {c.id: _Outcome(error, None) for c in rows}
            for c in rows:
                if c.id in got:
                    tried.append(c)
                    results[c.id] = got[c.id]
                else:
                    released.append(c)
        with self.db.sessionmaker() as s:
            self._record(s, tried, results, utcnow(), stats)
            self._release(s, released)
            s.commit()

    async def _call(
        self,
        key: str,
        rows: list[QueuedMessage],
        recipients: dict[int, Recipient],
        verdicts: dict[int, Verdict],
        deadline: float,
    ) -> dict[int, _Outcome]:
        """One provider call: outcomes for the rows it tried (rows missing from the answer were
        not tried: the deadline passed first, and they are released)."""
        adapter, concurrency = self._adapters[key], self._concurrency[key]
        out: dict[int, _Outcome] = {}
        to_send: list[tuple[QueuedMessage, OutboundMessage]] = []
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
                    since = c.created_at - timedelta(minutes=5)
                    found = await self.calls.blocking(key, concurrency, adapter.lookup, msg, since)
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
            answers = await self.calls.send(key, concurrency, adapter, [m for _, m in to_send])
        except Exception as exc:  # an adapter bug must not lose the batch
            log.exception("provider %s failed", key)
            answers = [SendResult("retry", error=f"{type(exc).__name__}: {exc}")] * len(to_send)
        for (c, _), res in zip(to_send, answers, strict=True):
            out[c.id] = _Outcome(res, key)
        return out

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
                self._concurrency[row.key] = concurrency_of(self._adapters[row.key], row.config)
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
