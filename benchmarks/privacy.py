"""Erasure cost on the demo brand: how long one PIPL deletion takes, split into the system of
record (every table with a ``contact_id``, the do-not-contact entries, the receipt) and the
warehouse (delete from every table, then rewrite the file so no freed block keeps the bytes),
and how long the consent-at-send decision takes with the do-not-contact check for a batch.

    python benchmarks/privacy.py [--contacts 20000] [--days 90] [--deletions 5] [--data-dir DIR]

* ``sor_s``: median time of one erasure in the system of record (commit and WAL truncation
  included), over ``--deletions`` people with events;
* ``warehouse_s``: median time to apply one erasure to the warehouse, file rewrite included;
* ``warehouse_mb``: the warehouse file size (the rewrite is proportional to it);
* ``consent_1000_s``: median time of ``consent_decisions`` for 1,000 contacts (marketing/sms)
  with the list holding the erased people's identifiers.

Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from pathlib import Path

import siyu
from siyu.demo.generator import DemoConfig, generate
from siyu.journeys.facts import consent_decisions
from siyu.privacy.service import PrivacyService, settle_storage
from siyu.store.models import Contact
from siyu.warehouse.store import Warehouse


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--deletions", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path("bench-privacy-data"))
    args = parser.parse_args()
    os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(b"bench-privacy-key-32-bytes-long!").decode())
    fresh = not (args.data_dir / "siyu.db").exists()
    client = siyu.open(args.data_dir)
    if fresh:
        t0 = time.perf_counter()
        info = generate(client.ctx, DemoConfig(contacts=args.contacts, days=args.days))
        print(
            f"demo: {info['contacts']} contacts, {info['events']} events in {time.perf_counter() - t0:.0f}s"
        )
    client.feed_warehouse()
    ctx = client.ctx
    with ctx.db.session() as s:
        people = list(
            s.scalars(
                Contact.__table__.select()
                .with_only_columns(Contact.id)
                .where(Contact.merged_into_id.is_(None))
                .order_by(Contact.id.desc())
                .limit(args.deletions)
            )
        )
    sor, wh_times, rows = [], [], 0
    for cid in people:
        t0 = time.perf_counter()
        with ctx.db.session() as s:
            receipt = PrivacyService(s, ctx.profiles(s), ctx.parser).delete(
                cid, "bench", ctx.settings.dead_letter_dir
            )
        settle_storage(ctx.db)
        sor.append(time.perf_counter() - t0)
        rows += receipt.total
        t0 = time.perf_counter()
        with Warehouse(ctx.settings.resolved_warehouse_path) as wh:
            wh.erase(ctx.db)
        wh_times.append(time.perf_counter() - t0)
    with ctx.db.session() as s:
        batch = list(s.scalars(Contact.__table__.select().with_only_columns(Contact.id).limit(1000)))
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            consent_decisions(s, batch, "marketing", "sms", True, ctx.keyring)
            times.append(time.perf_counter() - t0)
    size = ctx.settings.resolved_warehouse_path.stat().st_size / 1e6
    client.close()
    print(
        json.dumps(
            {
                "deletions": len(people),
                "rows_removed": rows,
                "sor_s": round(statistics.median(sor), 4),
                "warehouse_s": round(statistics.median(wh_times), 4),
                "warehouse_mb": round(size, 1),
                "consent_1000_s": round(statistics.median(times), 4),
            }
        )
    )


if __name__ == "__main__":
    main()
