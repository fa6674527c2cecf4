"""Loyalty speed: orders booked with points earned, and the expiry job.

    python benchmarks/loyalty.py [--members 10000] [--orders 50000] [--batch 1000] [--expiring 100000]
                                 [--database-url postgresql+psycopg://…]

On a fresh database (SQLite in a temporary directory unless ``--database-url`` names an empty
PostgreSQL database or schema):

* ``orders_per_s``: ``--orders`` orders of ``--members`` members booked through
  ``OrderService.book`` in batches of ``--batch`` (one transaction each), three tiers active
  (multipliers, immediate upgrades), every member earning pending points;
  ``on_orders_per_s`` is the loyalty part alone (``LoyaltyService.on_orders``: points, events,
  tier upgrades);
* ``expiry_members_per_s``: ``--expiring`` members each with an award past its expiry, run
  through the notice and expiry jobs (``run_jobs(only=["notify", "expire"])``), one
  ``expire`` entry, draw and ``Points Expired`` event each.

Last line: one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import siyu
from siyu.commerce.schemas import OrderIn
from siyu.commerce.service import OrderService
from siyu.loyalty.jobs import run_jobs
from siyu.loyalty.programme import update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier
from siyu.loyalty.verify import verify
from siyu.store.bulk import bulk_insert, max_id, sync_sequence
from siyu.store.dialect import storage_time
from siyu.store.models import utcnow


def contacts_and_members(engine, first: int, n: int, now) -> list[int]:  # type: ignore[no-untyped-def]
    stamp = storage_time(engine.dialect.name)
    ids = list(range(first, first + n))
    rows = ((i, stamp(now), stamp(now)) for i in ids)
    bulk_insert(engine, "contacts", ("id", "created_at", "updated_at"), rows)
    bulk_insert(
        engine,
        "loyalty_members",
        ("contact_id", "member_no", "status", "enrolled_at", "updated_at", "checkin_streak"),
        ((i, f"B{i:08d}", "active", stamp(now), stamp(now), 0) for i in ids),
    )
    sync_sequence(engine, "contacts")
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--expiring", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    figures: dict[str, object] = {k: v for k, v in vars(args).items() if k != "database_url"}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(b"b" * 32).decode())
        if args.database_url:
            os.environ["SIYU_DATABASE_URL"] = args.database_url
        client = siyu.open(data_dir=tmp)
        db = client.ctx.db
        figures["database"] = db.dialect
        now = utcnow()
        with db.session() as s:
            update_programme(s, {"pending_days": 7})
            add_tier(s, "base", {"name": "普通", "threshold": 0})
            add_tier(s, "silver", {"name": "银卡", "threshold": 500, "multiplier": "1.2"})
            add_tier(s, "gold", {"name": "金卡", "threshold": 2000, "multiplier": 2})
        members = contacts_and_members(db.engine, max_id(db.engine, "contacts") + 1, args.members, now)

        # the loyalty part of booking (points, events, tiers), timed apart from the orders' own
        spent = [0.0]
        on_orders = LoyaltyService.on_orders

        def timed(self, orders):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            on_orders(self, orders)
            spent[0] += time.perf_counter() - t0

        LoyaltyService.on_orders = timed  # type: ignore[method-assign]
        started = time.perf_counter()
        for start in range(0, args.orders, args.batch):
            batch = [
                OrderIn("mini_program", f"B{i}", members[i % len(members)], Decimal(99 + i % 400), now)
                for i in range(start, min(args.orders, start + args.batch))
            ]
            with db.session() as s:
                OrderService(s, now=now).book(batch)
        took = time.perf_counter() - started
        figures["orders_s"] = round(took, 2)
        figures["orders_per_s"] = round(args.orders / took)
        figures["on_orders_s"] = round(spent[0], 2)
        figures["on_orders_per_s"] = round(args.orders / spent[0])
        LoyaltyService.on_orders = on_orders  # type: ignore[method-assign]

        expiring = contacts_and_members(db.engine, max_id(db.engine, "contacts") + 1, args.expiring, now)
        stamp = storage_time(db.dialect)
        past, first = now - timedelta(days=400), now - timedelta(days=1)
        bulk_insert(
            db.engine,
            "points_entries",
            (
                "contact_id",
                "kind",
                "points",
                "remaining",
                "status",
                "source",
                "reason",
                "available_at",
                "expires_at",
                "actor",
                "created_at",
                "shortfall",
            ),
            (
                (
                    cid,
                    "award",
                    100,
                    100,
                    "active",
                    "manual",
                    "bench",
                    stamp(past),
                    stamp(first),
                    "bench",
                    stamp(past),
                    0,
                )
                for cid in expiring
            ),
        )
        sync_sequence(db.engine, "points_entries")
        started = time.perf_counter()
        done = run_jobs(db, now, only=["notify", "expire"])
        took = time.perf_counter() - started
        figures["expired_members"] = done["expire"]
        figures["expiry_s"] = round(took, 2)
        figures["expiry_members_per_s"] = round(args.expiring / took)
        with db.session() as s:
            figures["verify_ok"] = verify(s)["ok"]
        client.close()
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
