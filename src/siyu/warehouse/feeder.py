"""The warehouse feeder of ``siyu serve``: a separate process, so feeding DuckDB uses the second
core instead of taking the API's interpreter lock (measured: the HTTP ingest path ran about 40%
slower with the feeder as a thread of the server process).

Only one process can hold the DuckDB file for writing. When several server workers each start
a feeder, the first takes the file and the others wait, retrying now and then: if the holder
goes away (or a reader held the file for a moment), another takes over.
"""

from __future__ import annotations

import logging
import multiprocessing
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from siyu.store.engine import Database
from siyu.warehouse.store import Warehouse, WarehouseBusy

log = logging.getLogger("siyu.warehouse")


def run_feeder(
    database_url: str, warehouse_path: str, batch_size: int, interval_s: float, stop: EventType
) -> None:
    """Feed until ``stop`` is set (the body of the feeder process)."""
    wh = None
    while wh is None:
        try:
            wh = Warehouse(Path(warehouse_path))
        except WarehouseBusy:
            log.info("another process holds the warehouse; retrying")
            if stop.wait(max(interval_s, 1.0) * 5):
                return
    db = Database(database_url)
    try:
        while not stop.is_set():
            try:
                wh.feed(db, batch_size)
            except Exception:  # keep feeding after a transient error; it is logged
                log.exception("warehouse feed failed")
            stop.wait(interval_s)
        wh.feed(db, batch_size)  # ship what arrived before the stop
    finally:
        wh.close()
        db.dispose()


class FeederProcess:
    """Starts and stops :func:`run_feeder` in a child process."""

    def __init__(self, database_url: str, warehouse_path: Path, batch_size: int, interval_s: float) -> None:
        # "spawn": the child must not inherit the server's threads or open connections.
        ctx = multiprocessing.get_context("spawn")
        self.stop_event = ctx.Event()
        self.process = ctx.Process(
            target=run_feeder,
            args=(database_url, str(warehouse_path), batch_size, interval_s, self.stop_event),
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
