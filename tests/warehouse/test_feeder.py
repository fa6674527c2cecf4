"""The feeder process of `siyu serve`: ships events on its own and on stop; one writer only."""

from __future__ import annotations

import duckdb

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.warehouse.feeder import FeederProcess


def _feeder(ctx: AppContext, interval: float = 0.2) -> FeederProcess:
    s = ctx.settings
    return FeederProcess(s.resolved_database_url, s.resolved_warehouse_path, 1000, interval)


def _warehouse_ids(ctx: AppContext) -> set[str]:
    conn = duckdb.connect(str(ctx.settings.resolved_warehouse_path), read_only=True)
    try:
        return {r[0] for r in conn.execute("SELECT message_id FROM events").fetchall()}
    finally:
        conn.close()


def test_feeder_process_ships_everything_by_the_time_it_stops(ctx: AppContext) -> None:
    client = Siyu(ctx)
    first = [{"type": "track", "event": "A", "userId": f"u{i}", "messageId": f"a{i}"} for i in range(300)]
    client.batch(first)
    feeder = _feeder(ctx)
    feeder.start()
    try:
        late = [{"type": "track", "event": "B", "userId": f"u{i}", "messageId": f"b{i}"} for i in range(200)]
        client.batch(late)
    finally:
        feeder.stop()
    assert feeder.process.exitcode == 0
    assert _warehouse_ids(ctx) == {f"a{i}" for i in range(300)} | {f"b{i}" for i in range(200)}


def test_two_feeders_ship_each_event_once_and_both_stop(ctx: AppContext) -> None:
    """Several server workers each start a feeder: one holds the warehouse, the other waits."""
    client = Siyu(ctx)
    one, two = _feeder(ctx, 0.1), _feeder(ctx, 0.1)
    one.start()
    two.start()
    try:
        calls = [{"type": "track", "event": "C", "userId": f"u{i}", "messageId": f"c{i}"} for i in range(500)]
        for i in range(0, 500, 100):
            client.batch(calls[i : i + 100])
    finally:
        one.stop()
        two.stop()
    assert (one.process.exitcode, two.process.exitcode) == (0, 0)
    conn = duckdb.connect(str(ctx.settings.resolved_warehouse_path), read_only=True)
    try:
        rows = conn.execute("SELECT message_id, count(*) FROM events GROUP BY 1").fetchall()
    finally:
        conn.close()
    assert {m for m, _ in rows} == {f"c{i}" for i in range(500)}
    assert all(n == 1 for _, n in rows)
