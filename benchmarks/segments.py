"""Segment recompute speed on the demo brand.

    python benchmarks/segments.py [--contacts 1000000] [--events 50000000] [--data-dir DIR]

Builds (or reuses) a demo data directory, tags the contacts who joined a group ``vip`` (bulk
tag through the tags service), then measures a segment with three behavioural conditions and a
tag condition, nested AND/OR:

    ordered in the last 30 days
    AND (clicked "deals" content at least 3 times in the last 30 days
         OR claimed a coupon in the last 14 days)
    AND has tag vip

* ``full_s``: a full recompute (evaluate everyone, diff with the stored members), median of 5;
* ``incremental_s``: the incremental recompute after 10,000 new events (written to the system
  of record and fed to the warehouse first; the feed is reported separately as ``feed_s``);
* ``hand_sql_s``: a hand-written DuckDB query for the same members, median of 5;
* ``ratio_vs_hand_sql`` = full_s / hand_sql_s. The members of all three must agree.

Last line: one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

import siyu
from siyu.demo.generator import DemoConfig, generate
from siyu.segments.schemas import parse_definition
from siyu.segments.service import SegmentService
from siyu.store.bulk import bulk_insert
from siyu.store.models import Tag
from siyu.tags.service import TagService
from siyu.warehouse.store import Warehouse

SEGMENT = {
    "key": "bench-active-vip",
    "name": "Active VIP buyers",
    "definition": {
        "type": "and",
        "conditions": [
            {
                "type": "event",
                "event": "Order Completed",
                "count": {"op": "gte", "value": 1},
                "within": {"days": 30},
            },
            {
                "type": "or",
                "conditions": [
                    {
                        "type": "event",
                        "event": "Content Clicked",
                        "where": [{"property": "category", "op": "eq", "value": "deals"}],
                        "count": {"op": "gte", "value": 3},
                        "within": {"days": 30},
                    },
                    {"type": "event", "event": "Coupon Claimed", "within": {"days": 14}},
                ],
            },
            {"type": "tags", "match": "any", "tags": ["vip"]},
        ],
    },
}

HAND_SQL = """
SELECT c.id FROM contacts c
JOIN (
    SELECT contact_id,
           count(*) FILTER (WHERE event = 'Order Completed' AND timestamp >= $t30) AS orders,
           count(*) FILTER (WHERE event = 'Content Clicked' AND properties->>'category' = 'deals'
                            AND timestamp >= $t30) AS deals,
           count(*) FILTER (WHERE event = 'Coupon Claimed' AND timestamp >= $t14) AS coupons
    FROM events
    WHERE event IN ('Order Completed', 'Content Clicked', 'Coupon Claimed')
      AND timestamp >= $t30 AND timestamp <= $now
    GROUP BY contact_id
) b ON b.contact_id = c.id
WHERE c.merged_into_id IS NULL
  AND b.orders >= 1 AND (b.deals >= 3 OR b.coupons >= 1)
  AND c.id IN (SELECT contact_id FROM contact_tags WHERE tag_id = $vip)
"""


def _median(fn, runs: int = 5) -> tuple[float, object]:
    fn()  # warm up
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def _prepare(data_dir: Path, contacts: int, events: int) -> siyu.Siyu:
    os.environ.setdefault("SIYU_SECRET_KEY", base64.b64encode(b"bench-segments-key-32-bytes-long").decode())
    fresh = not (data_dir / "siyu.db").exists()
    client = siyu.open(data_dir)
    if fresh:
        per_day = 1.8 * (events / contacts) / 50.2  # 1.8/day gives ~50.2 events per contact
        t0 = time.perf_counter()
        info = generate(client.ctx, DemoConfig(contacts=contacts, events_per_day=per_day))
        print(
            f"demo: {info['contacts']} contacts, {info['events']} events in {time.perf_counter() - t0:.0f}s"
        )
    with client.ctx.db.session() as s:
        if s.query(Tag).filter(Tag.key == "vip").count() == 0:
            t0 = time.perf_counter()
            with Warehouse(client.ctx.settings.resolved_warehouse_path) as wh:
                joiners = wh.conn.execute(
                    "SELECT DISTINCT contact_id FROM events WHERE event = 'Group Joined'"
                ).fetchall()
            result = TagService(s).apply("vip", [r[0] for r in joiners], create=True)
            s.commit()
            print(f"tagged {result.added} group joiners vip in {time.perf_counter() - t0:.1f}s")
    t0 = time.perf_counter()
    client.feed_warehouse()
    print(f"warehouse feed {time.perf_counter() - t0:.1f}s")
    return client


def _new_events(client: siyu.Siyu, wh: Warehouse, n: int, seed: int) -> None:
    """``n`` new events for existing contacts, written the way ingest stores them."""
    rng = np.random.default_rng(seed)
    ids = np.array(
        [r[0] for r in wh.conn.execute("SELECT id FROM contacts WHERE merged_into_id IS NULL").fetchall()]
    )
    names = ["Order Completed", "Content Clicked", "Coupon Claimed", "Page Viewed"]
    now = datetime.now(UTC)
    rows = []
    tag = f"{seed}-{time.time_ns()}"
    for i in range(n):
        event = names[int(rng.integers(0, 4))]
        props = {"category": "deals", "content_id": i} if event == "Content Clicked" else {"amount": 99.0}
        ts = (now - timedelta(minutes=int(rng.integers(1, 600)))).strftime("%Y-%m-%d %H:%M:%S.%f")
        if client.ctx.db.engine.dialect.name == "postgresql":
            ts += "+00"
        rows.append(
            (f"bench-{tag}-{i}", int(rng.choice(ids)), None, "track", event, json.dumps(props), None, ts, ts)
        )
    bulk_insert(
        client.ctx.db.engine,
        "events",
        (
            "message_id",
            "contact_id",
            "source_id",
            "type",
            "event",
            "properties",
            "context",
            "timestamp",
            "received_at",
        ),
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--contacts", type=int, default=1_000_000)
    ap.add_argument("--events", type=int, default=50_000_000)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()
    data_dir = args.data_dir or Path(f"/tmp/siyu-bench-segments-{args.contacts}-{args.events}")
    client = _prepare(data_dir, args.contacts, args.events)
    db = client.ctx.db
    with Warehouse(client.ctx.settings.resolved_warehouse_path) as wh:
        with db.session() as s:
            svc = SegmentService(s, wh)
            if svc.repo.get(SEGMENT["key"]) is None:
                t0 = time.perf_counter()
                created = svc.create(SEGMENT)
                s.commit()
                print(
                    f"created: {created.members} members in {time.perf_counter() - t0:.2f}s (writes included)"
                )
        wh.feed(db)
        as_of = datetime.now(UTC)
        with db.session() as s:
            vip = s.query(Tag.id).filter(Tag.key == "vip").scalar()
            svc = SegmentService(s, wh)
            compiled = svc.compile(parse_definition(SEGMENT["definition"]), as_of)
            eval_s, members = _median(lambda: svc._members(compiled))
            full_s, full = _median(lambda: svc.recompute(SEGMENT["key"], full=True, as_of=as_of))
            s.commit()
        params = {
            "t30": (as_of - timedelta(days=30)).replace(tzinfo=None),
            "t14": (as_of - timedelta(days=14)).replace(tzinfo=None),
            "now": as_of.replace(tzinfo=None),
            "vip": vip,
        }
        hand_s, hand = _median(lambda: wh.conn.execute(HAND_SQL, params).fetchall())
        hand_ids = np.sort(np.array([r[0] for r in hand], dtype=np.int64))
        assert np.array_equal(hand_ids, members), "hand-written SQL and the segment disagree"
        assert full.members == len(hand_ids), (full.members, len(hand_ids))  # type: ignore[attr-defined]

        _new_events(client, wh, 10_000, seed=7)
        t0 = time.perf_counter()
        fed = wh.feed(db)
        feed_s = time.perf_counter() - t0
        with db.session() as s:
            svc = SegmentService(s, wh)
            t0 = time.perf_counter()
            inc = svc.recompute(SEGMENT["key"])
            incremental_s = time.perf_counter() - t0
            s.commit()
        wh.feed(db)
        with db.session() as s:
            check = SegmentService(s, wh).preview(SEGMENT["definition"], sample=0, as_of=datetime.now(UTC))
        events = wh.conn.execute("SELECT count(*) FROM events").fetchall()[0][0]
        contacts = wh.conn.execute("SELECT count(*) FROM contacts WHERE merged_into_id IS NULL").fetchall()[
            0
        ][0]
    print(
        f"members {len(hand_ids)}; evaluate {eval_s:.3f}s; full recompute {full_s:.3f}s; "
        f"hand SQL {hand_s:.3f}s; "
        f"after {fed.events} new events: feed {feed_s:.3f}s, incremental {incremental_s:.3f}s "
        f"({inc.mode}, {inc.evaluated} contacts evaluated, +{len(inc.entered)} / -{len(inc.exited)}; "
        f"members now {inc.members}, full evaluation says {check.count})"
    )
    assert inc.members == check.count
    print(
        json.dumps(
            {
                "contacts": contacts,
                "events": events,
                "members": len(hand_ids),
                "evaluate_s": round(eval_s, 3),
                "feed_s": round(feed_s, 3),
                "full_s": round(full_s, 3),
                "incremental_s": round(incremental_s, 3),
                "hand_sql_s": round(hand_s, 3),
                "ratio_vs_hand_sql": round(full_s / hand_s, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
