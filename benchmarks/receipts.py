"""WeCom receipt polling: how many tasks a minute the receipt poller asks about, against the old
full scan measured in the same run.

    python benchmarks/receipts.py [--tasks 2000] [--latency-ms 30] [--seconds 60] [--rate 20]

``--tasks`` WeCom 1:1 tasks sent by siyu wait for their staff member's confirmation (outbox
``sent``) on a local WeCom emulator answering after ``--latency-ms``. Figures:

* ``poller_tasks_per_min``: tasks the :class:`~siyu.channels.receipts.ReceiptPoller` asked about
  per minute over ``--seconds`` of passes at its default budget (``receipt_rate_per_s``
  ``--rate``): the first visit of a task costs two calls (staff list, results), later ones one.
* ``poller_calls_per_task``: WeCom calls per task asked.
* ``full_scan_calls`` / ``full_scan_s``: the calls and time of one round of the old
  ``receipts(since)`` full scan over the same tasks (list + staff + results per task), which
  used to run inside the worker's round before every dispatch.
* ``worker_round_wecom_calls``: WeCom calls made by one worker round (now 0: polling is off the
  send path).

The emulator is the test suite's (``tests/emulators/wecom.py``), on 127.0.0.1. Last line: one
JSON object.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.emulators.wecom import EC, WeComEmulator  # noqa: E402
from tests.emulators.wecom_tasks import seed_open_tasks  # noqa: E402

from siyu.channels.providers import ProviderService  # noqa: E402
from siyu.channels.receipts import ReceiptPoller  # noqa: E402
from siyu.config import Settings  # noqa: E402
from siyu.context import AppContext  # noqa: E402
from siyu.journeys.worker import Worker  # noqa: E402
from siyu.store.models import ChannelProvider  # noqa: E402

STAFF = "zhangsan"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--latency-ms", type=float, default=30.0, help="WeCom's answer time")
    p.add_argument("--seconds", type=float, default=60.0, help="how long the poller runs")
    p.add_argument("--rate", type=float, default=50.0, help="receipt_rate_per_s (the default is 50)")
    args = p.parse_args()
    out: dict[str, float | int] = {
        "tasks": args.tasks,
        "latency_ms": args.latency_ms,
        "rate_per_s": args.rate,
    }
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=f"sqlite:///{tmp}/siyu.db",
            secret_key=base64.b64encode(b"b" * 32).decode(),
        )
        ctx = AppContext.from_settings(settings)
        ctx.db.upgrade()
        emu = WeComEmulator()
        with emu.running():
            seed_open_tasks(ctx, emu, args.tasks, receipt_rate_per_s=args.rate)
            for path in ("get_groupmsg_list_v2", "get_groupmsg_task", "get_groupmsg_send_result"):
                emu.latency_s[f"{EC}/{path}"] = args.latency_ms / 1000

            worker = Worker(ctx.db, ctx.keyring, settings)
            before = len(emu.requests)
            worker.tick()
            out["worker_round_wecom_calls"] = len(emu.requests) - before
            worker.close()

            poller = ReceiptPoller(ctx.db, ctx.keyring, interval_s=settings.receipt_interval_s)
            before, asked, t0 = len(emu.requests), 0, time.monotonic()
            while time.monotonic() - t0 < args.seconds:
                asked += poller.run_pass().tasks
            elapsed = time.monotonic() - t0
            calls = len(emu.requests) - before
            poller.close()
            out["poller_tasks_per_min"] = round(asked * 60 / elapsed, 1)
            out["poller_calls_per_task"] = round(calls / max(asked, 1), 2)

            with ctx.db.session() as session:  # the old full scan, at the same call rate
                row = session.scalars(select(ChannelProvider)).one()
                scan = ProviderService(session, ctx.keyring).adapter(row, rate_per_s=args.rate)
            before, t0 = len(emu.requests), time.monotonic()
            scan.receipts(datetime.now(UTC) - timedelta(days=3))
            out["full_scan_s"] = round(time.monotonic() - t0, 1)
            out["full_scan_calls"] = len(emu.requests) - before
            scan.close()
        ctx.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
