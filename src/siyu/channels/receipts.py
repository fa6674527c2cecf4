"""Delivery receipts by polling, in a loop of their own — never in the send path.

Some providers only tell what happened to a message when asked: WeCom's bulk-message results
(a staff member confirms a task in the client, maybe hours later) and Tencent's pulled
statuses. Asking used to happen inside the worker's round before it dispatched the outbox;
with 2,000 WeCom tasks on record that was 4,000+ calls a minute and due messages waited three
minutes behind them. The :class:`ReceiptPoller` runs beside the dispatcher instead (a thread of
the worker process, or one pass of ``siyu worker --once``), and each pass is bounded:

* **Incremental.** WeCom is asked only about *our* tasks that still have a customer without a
  receipt (outbox rows ``sent``, not yet ``delivered``/``failed``), sent within
  ``window`` (WeCom's results are kept for that long in practice; older rows stay ``sent``).
  A task whose customers all have their receipt drops out by itself. Each task is asked at
  most once per ``interval_s``; the staff list of a task never changes, so it is fetched once
  and cached (one ``get_groupmsg_send_result`` per staff member afterwards).
* **Bounded.** At most ``calls_per_pass`` tasks per pass, taken round-robin through the outbox
  by id (a cursor per provider), so 10,000 open tasks are all visited, a slice per pass.
* **Backpressure.** The poller builds its own adapter per provider with its own rate limit
  (provider config ``receipt_rate_per_s``, default 50/s = 3,000 calls/min, under a third of
  WeCom's 10,000/min per API), so polling never takes the send path's budget; a 45009/45033
  (WeCom: too many calls) ends the pass for that provider and pauses it for the time WeCom asks.

Providers without per-task polling (``receipts(since)``, e.g. Tencent's pulled statuses) are
asked once per ``interval_s``. Recording is idempotent (:func:`record_receipts`), so two
workers polling the same tasks do no harm, only double the calls.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.base import ChannelAdapter, Receipt
from siyu.channels.http import ProviderError
from siyu.channels.inbound import record_receipts
from siyu.channels.providers import ProviderService
from siyu.profiles.pii import Keyring
from siyu.store.engine import Database
from siyu.store.models import ChannelProvider, OutboxMessage, utcnow

log = logging.getLogger("siyu.receipts")

#: Channels whose messages are WeCom tasks with per-customer results.
TASK_CHANNELS = ("wecom_private", "wecom_group")
#: Outbox rows read per query while collecting the tasks of one pass.
SCAN_ROWS = 2000
DEFAULT_RECEIPT_RATE = 50.0


@dataclass
class PollStats:
    tasks: int = 0  # tasks asked about
    receipts: int = 0  # receipts received
    matched: int = 0  # receipts that matched an outbox row
    throttled: int = 0  # providers paused after a rate-limit answer
    errors: int = 0  # providers whose pass failed otherwise


class ReceiptPoller:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        calls_per_pass: int = 300,
        interval_s: float = 60.0,
        window: timedelta = timedelta(days=3),
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.calls_per_pass = calls_per_pass
        self.interval_s = interval_s
        self.window = window
        self._adapters: dict[str, ChannelAdapter] = {}
        self._cursor: dict[str, int] = {}  # provider → last outbox id visited
        self._asked: dict[tuple[str, str], float] = {}  # (provider, msgid) → monotonic time asked
        self._paused_until: dict[str, float] = {}
        self._last_pull: dict[str, float] = {}
        self._stopping = threading.Event()

    def close(self) -> None:
        for adapter in self._adapters.values():
            adapter.close()
        self._adapters.clear()

    # --- one pass ----------------------------------------------------------------------------

    def run_pass(self, now: datetime | None = None) -> PollStats:
        """Ask each polling provider for what is due; record what comes back."""
        stats = PollStats()
        now = now or utcnow()
        with self.db.sessionmaker() as s:
            rows = list(s.scalars(select(ChannelProvider).order_by(ChannelProvider.key)))
            service = ProviderService(s, self.keyring)
            for row in rows:
                if row.key not in self._adapters:
                    rate = float(row.config.get("receipt_rate_per_s") or DEFAULT_RECEIPT_RATE)
                    self._adapters[row.key] = service.adapter(row, rate_per_s=rate)
        for row in rows:
            if time.monotonic() < self._paused_until.get(row.key, 0.0):
                continue
            adapter = self._adapters[row.key]
            try:
                if hasattr(adapter, "task_receipts"):
                    self._poll_tasks(row.key, adapter, now, stats)
                else:
                    self._pull(row.key, adapter, now, stats)
            except ProviderError as exc:
                # A rate limit (WeCom 45009/45033) or an outage: leave this provider alone for
                # the time it asks (or one interval) and go on with the others.
                pause = exc.retry_after_s or self.interval_s
                self._paused_until[row.key] = time.monotonic() + pause
                stats.throttled += 1
                log.warning("receipts from %s paused for %.0f s: %s", row.key, pause, exc)
            except Exception:  # one provider's bug must not stop the others
                stats.errors += 1
                log.warning("receipts from %s failed", row.key, exc_info=True)
        return stats

    def _poll_tasks(self, key: str, adapter: Any, now: datetime, stats: PollStats) -> None:
        with self.db.sessionmaker() as s:
            msgids = self._due_tasks(s, key, now)
        for msgid in msgids:
            if self._stopping.is_set():
                return  # a pass of slow answers must not hold up the worker's shutdown
            receipts: list[Receipt] = adapter.task_receipts(msgid)
            self._asked[(key, msgid)] = time.monotonic()
            stats.tasks += 1
            self._record(receipts, stats)

    def _due_tasks(self, s: Session, key: str, now: datetime) -> list[str]:
        """Up to ``calls_per_pass`` task ids with an open row, not asked within ``interval_s``,
        continuing after where the last pass stopped and going round once at the end."""
        t = OutboxMessage
        due: list[str] = []
        seen: set[str] = set()
        fresh = time.monotonic() - self.interval_s
        cursor = self._cursor.get(key, 0)
        ends = 0 if cursor else 1  # a pass that starts at the beginning needs no second round
        while len(due) < self.calls_per_pass:
            page = s.execute(
                select(t.id, t.provider_message_id)
                .where(
                    t.provider == key,
                    t.status == "sent",
                    t.channel.in_(TASK_CHANNELS),
                    t.provider_message_id.is_not(None),
                    t.sent_at >= now - self.window,
                    t.id > cursor,
                )
                .order_by(t.id)
                .limit(SCAN_ROWS)
            ).all()
            for row_id, provider_message_id in page:
                cursor = row_id
                msgid = str(provider_message_id).split(":", 1)[0]
                if msgid in seen or self._asked.get((key, msgid), float("-inf")) > fresh:
                    continue
                seen.add(msgid)
                due.append(msgid)
                if len(due) >= self.calls_per_pass:
                    break
            if len(due) < self.calls_per_pass and len(page) < SCAN_ROWS:
                cursor, ends = 0, ends + 1  # the end of the open rows: round to the start
                if ends == 2:
                    break
        self._cursor[key] = cursor
        self._forget(fresh)
        return due

    def _forget(self, fresh: float) -> None:
        """Drop ask-times too old to matter, so the map stays the size of one interval's work."""
        if len(self._asked) > 4 * self.calls_per_pass:
            self._asked = {k: v for k, v in self._asked.items() if v > fresh}

    def _pull(self, key: str, adapter: ChannelAdapter, now: datetime, stats: PollStats) -> None:
        if time.monotonic() - self._last_pull.get(key, float("-inf")) < self.interval_s:
            return
        self._last_pull[key] = time.monotonic()
        self._record(adapter.receipts(now - self.window), stats)

    def _record(self, receipts: list[Receipt], stats: PollStats) -> None:
        stats.receipts += len(receipts)
        if not receipts:
            return
        with self.db.sessionmaker() as s:
            stats.matched += record_receipts(s, receipts).matched
            s.commit()

    # --- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event, pause_s: float = 5.0) -> None:
        """Pass after pass until ``stop``; a pass that found nothing to ask waits ``pause_s``."""
        self._stopping = stop
        while not stop.is_set():
            try:
                stats = self.run_pass()
            except Exception:  # e.g. the database restarting: try again after a pause
                log.exception("receipt pass failed")
                stats = PollStats()
            if stats.tasks < self.calls_per_pass:
                stop.wait(pause_s)
