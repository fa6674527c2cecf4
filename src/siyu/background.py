"""Periodic work of ``siyu serve``, run by the warehouse background process after a feed:
tagging rules on new events, the loyalty jobs (points released, announced, expired; tiers
reviewed), loyalty tasks on new events, journey stages, RFM scores, coupon expiry, birthday
gifts (at most hourly), the commission settlement job (distribution), then the incremental recompute of
every dynamic segment (each its own unit of work, followed by a feed so the next step sees its
changes); and, every ``SIYU_RETENTION_INTERVAL_S``, the retention policies (followed by a feed,
which removes from the warehouse what retention removed from the system of record).

Every ``callback_sweep_s`` it also processes WeCom callbacks left pending: the API process
handles each right after storing it, so what is left here is what a crash (or a restart between
answering WeCom and processing) left behind, and retries that fell due."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from siyu.coupons.service import CouponService
from siyu.distribution.ledger import settle as settle_commissions
from siyu.events.service import EventCatalogue
from siyu.loyalty.birthday import run_birthdays_if_due
from siyu.loyalty.jobs import run_jobs as run_loyalty_jobs
from siyu.loyalty.tasks import run_until_caught_up as run_loyalty_tasks
from siyu.referrals.jobs import run_jobs as run_referral_jobs
from siyu.retention.runner import is_due, run_retention
from siyu.rfm.service import RfmService
from siyu.segments.service import SegmentService
from siyu.stages.service import StageService
from siyu.store.engine import Database
from siyu.store.models import utcnow
from siyu.tags.rules import run_until_caught_up
from siyu.warehouse.store import Warehouse

log = logging.getLogger("siyu.background")


@dataclass
class LayerTasks:
    """Picklable (the background process is spawned); keeps its own clock in the child."""

    interval_s: float
    batch_size: int = 50_000
    retention_interval_s: float = 3600.0
    #: ``siyu serve``'s settings: with them the round also runs the community's work (live-code
    #: swaps each round; pyramid and group-health alert once a Beijing day) and sweeps the WeCom
    #: callback inbox; both call WeCom and so need the keyring (an AppContext built in the child).
    settings: Any = None
    callback_sweep_s: float = 30.0
    _last: float = field(default=float("-inf"), repr=False)
    _retention_checked: float = field(default=float("-inf"), repr=False)
    _community_day: str = field(default="", repr=False)
    _swept: float = field(default=float("-inf"), repr=False)
    _ctx: Any = field(default=None, repr=False)

    def __call__(self, wh: Warehouse, db: Database) -> None:
        self._sweep_callbacks()
        self._retention(wh, db)
        if time.monotonic() - self._last < self.interval_s:
            return
        self._last = time.monotonic()
        self._community(wh, db)
        self._subscriptions(db)
        run_layers(wh, db, self.batch_size)

    def _subscriptions(self, db: Database) -> None:
        """周期购: book the due renewals and send the renewal reminders due (``siyu orders
        subscriptions renew`` does the same by hand)."""
        from siyu.brand import brand_timezone
        from siyu.commerce.subscriptions import SubscriptionService

        try:
            with db.session() as s:
                tz = brand_timezone(s, self.settings) if self.settings is not None else "Asia/Shanghai"
                counts = SubscriptionService(s, tz=tz).run()
            if any(counts.values()):
                log.info("subscriptions: %s", counts)
        except Exception:  # logged; retried next round
            log.exception("subscription renewals failed")

    def _community(self, wh: Warehouse, db: Database) -> None:
        if self.settings is None:
            return
        from siyu.community.service import community_round

        day = datetime.now(timezone(timedelta(hours=8))).date().isoformat()
        try:
            community_round(self._context(), daily=day != self._community_day)
            self._community_day = day
            wh.feed(db, self.batch_size)
        except Exception:  # logged; retried next round
            log.exception("community round failed")

    def _context(self) -> Any:
        """One AppContext for the round's WeCom work, built on first use in this process."""
        if self._ctx is None:
            from siyu.context import AppContext

            self._ctx = AppContext(self.settings)
        return self._ctx

    def _sweep_callbacks(self) -> None:
        if self.settings is None or time.monotonic() - self._swept < self.callback_sweep_s:
            return
        self._swept = time.monotonic()
        try:
            from siyu.wecom.callbacks.inbox import process_due

            counts = process_due(self._context())
            if counts:
                log.info("wecom callbacks swept: %s", counts)
        except Exception:  # logged; the next round tries again
            log.exception("wecom callback sweep failed")

    def _retention(self, wh: Warehouse, db: Database) -> None:
        """Retention when its interval has passed since the last run (kept in the database, so
        a restart or a second server process does not run it again at once); the database is
        asked at most once a minute."""
        if time.monotonic() - self._retention_checked < min(60.0, self.retention_interval_s):
            return
        self._retention_checked = time.monotonic()
        try:
            if is_due(db, self.retention_interval_s):
                run = run_retention(db, actor="retention")
                wh.feed(db, self.batch_size)
                log.info("retention removed %s", run.removed)
                # cached referral posters show a nickname and avatar: those of participants who
                # are gone (erased, merged away, campaign deleted) go with the retention run
                if self.settings is not None:
                    from siyu.referrals.posters.service import PosterService

                    with db.session() as session:
                        pruned = PosterService(session, self.settings).prune()
                    if pruned:
                        log.info("retention removed %s cached posters", pruned)
        except Exception:  # logged; retried at the next interval
            log.exception("retention failed")


def run_layers(wh: Warehouse, db: Database, batch_size: int = 50_000) -> dict[str, int]:
    """One round: tag rules until caught up, journey stages, RFM, then every dynamic segment
    (after the stages and scores they may test; in creation order, which puts a segment after
    the segments it refers to). Each step is its own unit of work followed by a feed."""
    tagged = run_until_caught_up(db).matched
    wh.feed(db, batch_size)
    try:  # points released, announced and expired and tiers reviewed before segments read them
        run_loyalty_jobs(db)
        wh.feed(db, batch_size)
    except Exception:  # logged; the next round catches up (each batch committed on its own)
        log.exception("loyalty jobs failed")
    try:  # tasks completed on the events that arrived (rewards and badges before segments read them)
        run_loyalty_tasks(db)
        wh.feed(db, batch_size)
    except Exception:  # logged; the cursor only moves with committed batches
        log.exception("loyalty tasks failed")
    try:  # referrals qualified, voided, approved and paid (each batch committed on its own)
        run_referral_jobs(db)
        wh.feed(db, batch_size)
    except Exception:  # logged; the next round finds the referrals where they were
        log.exception("referral jobs failed")
    steps: list[tuple[str, Callable[[Session], object]]] = [
        ("stages", lambda s: StageService(s, wh).assign()),
        ("rfm", lambda s: RfmService(s, wh).compute()),
        ("event catalogue", lambda s: EventCatalogue(s).learn(wh.conn)),
        ("coupon expiry", lambda s: CouponService(s).expire()),
        ("birthday gifts", lambda s: run_birthdays_if_due(s)),
        ("commission settlement", lambda s: settle_commissions(s, utcnow())),
    ]
    with db.sessionmaker() as s:
        keys = SegmentService(s, wh).recompute_order()
    steps += [(f"segment {k}", lambda s, k=k: SegmentService(s, wh).recompute(k)) for k in keys]
    done = 0
    for name, work in steps:
        try:
            with db.sessionmaker() as s:
                work(s)
                s.commit()
            wh.feed(db, batch_size)
            done += 1
        except Exception:  # one failing step must not stop the others; logged, retried next round
            log.exception("%s failed", name)
    return {"tag_matches": tagged, "steps": done}
