"""What bucketing by the brand's time zone costs: activity (DAU/WAU/MAU, 90 days) and weekly
first-time retention in UTC, in Asia/Shanghai (a constant offset: ``ts + INTERVAL``) and in
Europe/Berlin (daylight saving: the engine's time-zone database per row), on synthetic events
in an in-memory DuckDB warehouse.

    python benchmarks/analytics_zone.py [--events 5000000] [--contacts 200000] [--repeat 3]

Last line: one JSON object with the median seconds per (analysis, zone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import duckdb

from siyu.analytics.base import DuckDBSource, run_analysis
from siyu.warehouse.state import STATE_SCHEMA
from siyu.warehouse.store import SCHEMA

ZONES = ("UTC", "Asia/Shanghai", "Europe/Berlin")


def build(events: int, contacts: int) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(SCHEMA)
    conn.execute(STATE_SCHEMA)
    conn.execute(
        f"""INSERT INTO events (id, message_id, contact_id, type, event, properties, context,
               timestamp, received_at)
        SELECT i, 'm' || i, 1 + (hash(i) % {contacts}), 'track',
               CASE WHEN i % 10 = 0 THEN 'Order Completed' ELSE 'Page Viewed' END, '{{}}', '{{}}',
               TIMESTAMP '2026-01-01' + to_seconds(CAST(hash(i * 7) % (120 * 86400) AS BIGINT)),
               TIMESTAMP '2026-01-01'
        FROM range(1, {events} + 1) t(i)"""
    )
    conn.execute(
        "INSERT INTO contacts (id, created_at) "
        f"SELECT i, TIMESTAMP '2026-01-01' FROM range(1, {contacts} + 1) t(i)"
    )
    return conn


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--contacts", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    source = DuckDBSource(build(args.events, args.contacts))
    analyses = {
        "activity": {"from": "2026-02-01", "to": "2026-04-30"},
        "retention": {
            "start_event": "Page Viewed",
            "return_event": "Order Completed",
            "period": "week",
            "from": "2026-01-05",
            "to": "2026-03-29",
        },
    }
    out: dict[str, float] = {}
    for kind, params in analyses.items():
        for zone in ZONES:
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                run_analysis(kind, {**params, "timezone": zone}, source, use_cache=False)
                times.append(time.perf_counter() - t0)
            out[f"{kind}_{zone}_s"] = round(statistics.median(times), 3)
            print(f"{kind:10s} {zone:14s} {out[f'{kind}_{zone}_s']:.3f} s", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
