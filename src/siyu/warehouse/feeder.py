"""The background process of ``siyu serve``: a separate process, so feeding DuckDB uses the
second core instead of taking the API's interpreter lock (measured: the HTTP ingest path ran
about 40% slower with the feeder as a thread of the server process).

Only one process can hold the DuckDB file. The feeder opens it for each cycle (feed, then the
optional ``after_feed`` work such as recomputing segments) and closes it, so API requests that
need the warehouse (segment previews) take it in between; they wait for it up to
``SIYU_WAREHOUSE_WAIT_S``. Several server workers each start a feeder; they take turns, and a
feed is idempotent, so nothing is shipped twice.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from siyu.store.engine import Database
from siyu.warehouse.store import Warehouse, WarehouseBusy

log = logging.getLogger("siyu.warehouse")

#: Work to do with the fed warehouse each cycle; a picklable top-level callable (the process is
#: spawned), given by the interface that starts the process.
AfterFeed = Callable[[Warehouse, Database], None]


def run_feeder(
    database_url: str,
    warehouse_path: str,
    batch_size: int,
    interval_s: float,
    stop: EventType,
    after_feed: AfterFeed | None = None,
) -> None:
    """Feed until ``stop`` is set (the body of the feeder process)."""
    db = Database(database_url)
    path = Path(warehouse_path)
    try:
        while not stop.is_set():
            _cycle(db, path, batch_size, after_feed, wait_s=max(interval_s, 1.0) * 5)
            stop.wait(interval_s)
        _cycle(db, path, batch_size, None, wait_s=30)  # ship what arrived before the stop
    finally:
        db.dispose()


def _cycle(db: Database, path: Path, batch_size: int, after_feed: AfterFeed | None, wait_s: float) -> None:
    try:
        with Warehouse(path, wait_s=wait_s) as wh:
            wh.feed(db, batch_size)
            if after_feed is not None:
                after_feed(wh, db)
    except WarehouseBusy:
        log.info("another process holds the warehouse; next cycle")
    except Exception:  # keep feeding after a transient error; it is logged
        log.exception("warehouse feed failed")


class FeederProcess:
    """Starts and stops :func:`run_feeder` in a child process."""

    def __init__(
        self,
        database_url: str,
        warehouse_path: Path,
        batch_size: int,
        interval_s: float,
        after_feed: AfterFeed | None = None,
    ) -> None:
        # "spawn": the child must not inherit the server's threads or open connections.
        ctx = multiprocessing.get_context("spawn")
        self.stop_event = ctx.Event()
        self.process = ctx.Process(
            target=run_feeder,
            args=(database_url, str(warehouse_path), batch_size, interval_s, self.stop_event, after_feed),
            name="siyu-warehouse-feeder",
            daemon=True,
        )

    def start(self) -> None:
        self.process.start()

    def stop(self, timeout: float = 60) -> None:
        self.stop_event.set()
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
