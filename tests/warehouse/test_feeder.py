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


def test_requests_take_the_warehouse_between_cycles_and_the_background_keeps_layers_current(
    ctx: AppContext,
) -> None:
    """Inside `siyu serve` the background process holds the warehouse only while it works, so a
    preview waits for it instead of failing; the background also runs tagging rules and
    recomputes dynamic segments (here on every cycle)."""
    import time as _time

    from siyu.background import LayerTasks

    client = Siyu(ctx)
    client.batch(
        [{"type": "track", "event": "Viewed", "userId": f"u{i}", "messageId": f"v{i}"} for i in range(5)]
    )
    client.tags.create_rule("viewer", {"kind": "event", "event": "Bought", "tag": "buyer"}, actor="test")
    client.segments.create(
        {"key": "buyers", "name": "Buyers", "definition": {"type": "event", "event": "Bought"}}
    )
    s = ctx.settings
    feeder = FeederProcess(
        s.resolved_database_url, s.resolved_warehouse_path, 1000, 0.05, LayerTasks(0.0, 1000)
    )
    feeder.start()
    try:
        client.batch(
            [
                {
                    "type": "track",
                    "event": "Bought",
                    "userId": f"u{i}",
                    "messageId": f"b{i}",
                    "timestamp": "2024-01-01T00:00:00Z",
                }
                for i in range(3)
            ]
        )
        previews = [client.segments.preview({"type": "event", "event": "Bought"}) for _ in range(5)]
        deadline = _time.monotonic() + 60
        while _time.monotonic() < deadline:
            members = client.segments.get("buyers")["members"]
            tagged = {t["key"]: t["contacts"] for t in client.tags.list()}.get("buyer", 0)
            if members == 3 and tagged == 3:
                break
            _time.sleep(0.1)
    finally:
        feeder.stop()
    assert feeder.process.exitcode == 0
    assert previews[-1]["count"] == 3
    assert (members, tagged) == (3, 3)
