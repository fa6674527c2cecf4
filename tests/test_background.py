"""The background round of ``siyu serve`` runs the retention policies once per interval and
feeds the warehouse after, so what retention removed leaves the warehouse in the same round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from siyu.background import LayerTasks
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Event
from siyu.warehouse.store import Warehouse


def test_the_round_runs_retention_once_per_interval_and_the_warehouse_follows(ctx: AppContext) -> None:
    client = Siyu(ctx)
    old = (datetime.now(UTC) - timedelta(days=100)).isoformat()
    client.track("Page Viewed", {"customer_no": "C1"}, timestamp=old, message_id="old")
    client.track("Page Viewed", {"customer_no": "C1"}, message_id="new")
    client.retention.set(events=[{"event": "Page Viewed", "days": 30}])
    tasks = LayerTasks(interval_s=3600, batch_size=1000, retention_interval_s=3600)
    with Warehouse(ctx.settings.resolved_warehouse_path) as wh:
        wh.feed(ctx.db)
        tasks(wh, ctx.db)
        shipped = [
            m
            for (m,) in wh.conn.execute(
                "SELECT message_id FROM events WHERE event = 'Page Viewed'"
            ).fetchall()
        ]
    with ctx.db.session() as s:
        kept = list(s.scalars(select(Event.message_id).where(Event.event == "Page Viewed")))
    assert kept == shipped == ["new"]
    last = client.retention.show()["last_run"]
    assert last is not None and last["removed"]["events"] == {"Page Viewed": 1}
    # Within the interval (even from a new process's task) it does not run again.
    client.track("Page Viewed", {"customer_no": "C1"}, timestamp=old, message_id="old-2")
    with Warehouse(ctx.settings.resolved_warehouse_path) as wh:
        LayerTasks(interval_s=3600, batch_size=1000, retention_interval_s=3600)(wh, ctx.db)
    with ctx.db.session() as s:
        assert "old-2" in s.scalars(select(Event.message_id)).all()
    assert client.retention.show()["last_run"] == last


def test_the_retention_round_removes_cached_posters_of_participants_who_are_gone(ctx: AppContext) -> None:
    gone = ctx.settings.data_dir / "posters" / "1" / "999-abc.png"  # no campaign 1, no participant 999
    gone.parent.mkdir(parents=True)
    gone.write_bytes(b"\x89PNG")
    tasks = LayerTasks(interval_s=3600, batch_size=1000, retention_interval_s=3600, settings=ctx.settings)
    with Warehouse(ctx.settings.resolved_warehouse_path) as wh:
        tasks._retention(wh, ctx.db)
    assert not gone.exists()
