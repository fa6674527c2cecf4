"""The journey worker (``siyu worker``, and one inside ``siyu serve``): follows events into
journeys, runs broadcasts and date triggers, runs due steps in batches, then dispatches the
outbox. Each phase is its own transaction; run as many workers as you like on PostgreSQL.

Delivery receipts are polled by a :class:`~siyu.channels.receipts.ReceiptPoller` on a thread of
its own: asking WeCom about thousands of tasks must never delay a due message."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from siyu.brand import DEFAULT_TIMEZONE, brand_timezone, env_timezone
from siyu.channels.dispatcher import Dispatcher
from siyu.channels.receipts import PollStats, ReceiptPoller
from siyu.config import Settings
from siyu.journeys.engine import Engine, EngineConfig
from siyu.journeys.schemas import Cap, QuietHours
from siyu.journeys.send_checks import SendTimeCheck
from siyu.journeys.triggers import TriggerFollower, run_schedules
from siyu.profiles.pii import Keyring
from siyu.store.engine import Database

log = logging.getLogger("siyu.worker")


def engine_config(settings: Settings) -> EngineConfig:
    raw = settings.quiet_hours.strip()
    start, _, end = raw.partition("-")
    quiet = QuietHours(start=start.strip(), end=end.strip()) if raw else QuietHours(enabled=False)
    return EngineConfig(
        public_url=settings.public_url,
        default_timezone=env_timezone(settings) or DEFAULT_TIMEZONE,
        caps=[Cap.model_validate(c) for c in settings.frequency_caps],
        quiet_hours=quiet,
        marketing_consent_default=settings.marketing_consent_default,
        max_sends_per_enrolment=settings.journey_max_sends_per_enrolment,
        max_sends_per_contact=settings.journey_max_sends_per_contact,
    )


@dataclass
class TickStats:
    enrolled: int = 0
    steps: int = 0
    queued: int = 0
    sent: int = 0
    failed: int = 0
    lags: list[float] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.enrolled or self.steps or self.sent or self.failed)


class Worker:
    def __init__(
        self,
        db: Database,
        keyring: Keyring,
        settings: Settings,
        dispatch: bool = True,
        schedule_interval_s: float = 30.0,
    ) -> None:
        self.db = db
        self.keyring = keyring
        self.settings = settings
        self.config = engine_config(settings)
        self.batch_size = settings.worker_batch_size
        self.dispatcher = (
            Dispatcher(
                db,
                keyring,
                lease_s=settings.outbox_lease_s,
                retry_base_s=settings.outbox_retry_s,
                check=SendTimeCheck(self.config, keyring),  # consent and quiet hours again at send time
            )
            if dispatch
            else None
        )
        self.receipts = (
            ReceiptPoller(
                db,
                keyring,
                calls_per_pass=settings.receipt_calls_per_pass,
                interval_s=settings.receipt_interval_s,
            )
            if dispatch
            else None
        )
        self.schedule_interval_s = schedule_interval_s
        self._last_schedule = float("-inf")

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
        if self.receipts is not None:
            self.receipts.close()

    def poll_receipts(self) -> PollStats:
        """One bounded pass of the receipt poller (``siyu worker --once``); :meth:`run` keeps
        polling on a thread of its own instead."""
        return self.receipts.run_pass() if self.receipts is not None else PollStats()

    def tick(self, max_batches: int = 100) -> TickStats:
        stats = TickStats()
        with self.db.sessionmaker() as s:
            stats.enrolled += TriggerFollower(s).run().enrolled
            s.commit()
        if time.monotonic() - self._last_schedule >= self.schedule_interval_s:
            self._last_schedule = time.monotonic()
            with self.db.sessionmaker() as s:
                # the brand zone may have been changed in the console since the last pass
                zone = brand_timezone(s, self.settings)
                self.config = replace(self.config, default_timezone=zone)
                stats.enrolled += run_schedules(s, default_timezone=zone)
                s.commit()
        for _ in range(max_batches):
            with self.db.sessionmaker() as s:
                run = Engine(s, self.keyring, self.config).run_due(self.batch_size)
                s.commit()
            stats.steps += run.steps
            stats.queued += run.queued
            stats.lags.extend(run.lags)
            if run.claimed < self.batch_size:
                break
        if self.dispatcher is not None:
            for _ in range(max_batches):
                d = self.dispatcher.run_once()
                stats.sent += d.sent + d.found
                stats.failed += d.failed
                if d.claimed < self.dispatcher.batch_size:
                    break
        return stats

    def run(self, stop: threading.Event | None = None, max_ticks: int | None = None) -> None:
        stop = stop or threading.Event()
        polling = threading.Event()  # ends the receipt thread with the loop, whatever stopped it
        poller = None
        if self.receipts is not None:
            poller = threading.Thread(target=self.receipts.run, args=(polling,), name="receipts", daemon=True)
            poller.start()
        try:
            self._loop(stop, max_ticks)
        finally:
            polling.set()
            if poller is not None:
                poller.join(timeout=30)

    def _loop(self, stop: Any, max_ticks: int | None) -> None:
        ticks = 0
        while not stop.is_set():
            try:
                stats = self.tick()
            except Exception:  # a failing round is logged and retried; state is transactional
                log.exception("worker tick failed")
                stats = TickStats()
            ticks += 1
            if max_ticks is not None and ticks >= max_ticks:
                break
            if not stats.busy:
                stop.wait(self.settings.worker_idle_s)


def run_worker(settings: Settings, stop: Any = None) -> None:
    """Entry point for ``siyu worker`` and the process ``siyu serve`` starts."""
    from siyu.context import AppContext

    ctx = AppContext.from_settings(settings)
    worker = Worker(ctx.db, ctx.keyring, settings)
    try:
        worker.run(stop)
    finally:
        worker.close()
        ctx.close()


class WorkerProcess:
    """The journey worker as a child process of ``siyu serve`` (spawned: its own interpreter,
    so steps and sends do not compete with HTTP for the interpreter lock)."""

    def __init__(self, settings: Settings) -> None:
        import multiprocessing

        self._mp = multiprocessing.get_context("spawn")
        self.stop_event = self._mp.Event()
        self.settings = settings
        self.process: Any = None

    def start(self) -> None:
        self.process = self._mp.Process(
            target=_child, args=(self.settings.model_dump(mode="json"), self.stop_event), daemon=True
        )
        self.process.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self.stop_event.set()
        if self.process is not None:
            self.process.join(timeout_s)
            if self.process.is_alive():
                self.process.terminate()


def _child(settings: dict[str, Any], stop: Any) -> None:
    run_worker(Settings(**settings), stop)
