"""Periodic layering work of ``siyu serve``, run by the warehouse background process after a
feed: tagging rules on new events, then the incremental recompute of every dynamic segment
(each its own unit of work, followed by a feed so the next one sees its changes)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from siyu.segments.service import SegmentService
from siyu.store.engine import Database
from siyu.tags.rules import TagRuleService
from siyu.warehouse.store import Warehouse

log = logging.getLogger("siyu.background")


@dataclass
class LayerTasks:
    """Picklable (the background process is spawned); keeps its own clock in the child."""

    interval_s: float
    batch_size: int = 50_000
    _last: float = field(default=float("-inf"), repr=False)

    def __call__(self, wh: Warehouse, db: Database) -> None:
        if time.monotonic() - self._last < self.interval_s:
            return
        self._last = time.monotonic()
        run_layers(wh, db, self.batch_size)


def run_layers(wh: Warehouse, db: Database, batch_size: int = 50_000) -> dict[str, int]:
    """One round: apply tag rules until caught up, then recompute dynamic segments."""
    tagged = 0
    while True:
        with db.sessionmaker() as s:
            run = TagRuleService(s).run()
            s.commit()
        tagged += run.matched
        if run.events == 0:
            break
    wh.feed(db, batch_size)
    recomputed = 0
    with db.sessionmaker() as s:
        keys = [seg.key for seg in SegmentService(s, wh).list() if seg.kind == "dynamic"]
    for key in keys:
        try:
            with db.sessionmaker() as s:
                SegmentService(s, wh).recompute(key)
                s.commit()
            wh.feed(db, batch_size)
            recomputed += 1
        except Exception:  # one broken segment must not stop the others; it is logged
            log.exception("recomputing segment %s failed", key)
    return {"tag_matches": tagged, "segments": recomputed}
