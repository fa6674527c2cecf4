"""Times in imported files: one without an offset is the brand's local time (what a Chinese
spreadsheet means by "2026-03-02 00:30"); one with an offset or Z keeps it. HTTP calls follow
the Segment spec instead: no offset is UTC."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
from sqlalchemy import select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Event


def stored(ctx: AppContext) -> dict[str, datetime]:
    with ctx.db.session() as s:
        rows = s.execute(select(Event.message_id, Event.timestamp)).all()
    return {m: ts.replace(tzinfo=None) for m, ts in rows}


def test_file_times_without_offset_are_brand_local(ctx: AppContext, tmp_path: Path) -> None:
    lines = [
        {
            "type": "track",
            "event": "下单",
            "userId": "u1",
            "messageId": "naive",
            "timestamp": "2026-03-02 00:30",
        },
        {
            "type": "track",
            "event": "下单",
            "userId": "u1",
            "messageId": "utc",
            "timestamp": "2026-03-02T00:30:00Z",
        },
        {
            "type": "track",
            "event": "下单",
            "userId": "u1",
            "messageId": "tokyo",
            "timestamp": "2026-03-02T00:30+09:00",
        },
    ]
    path = tmp_path / "orders.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines) + b"\n")
    client = Siyu(ctx)
    assert client.import_file(path, "events").accepted == 3
    assert stored(ctx) == {
        "naive": datetime(2026, 3, 1, 16, 30),  # 00:30 Beijing time
        "utc": datetime(2026, 3, 2, 0, 30),
        "tokyo": datetime(2026, 3, 1, 15, 30),
    }
    # the brand zone decides: stored in the console, read by the next import
    with ctx.db.session() as s:
        ctx.set_timezone(s, "Europe/London")
    path.write_bytes(orjson.dumps({**lines[0], "messageId": "london"}) + b"\n")
    assert client.import_file(path, "events").accepted == 1
    assert stored(ctx)["london"] == datetime(2026, 3, 2, 0, 30)


def test_http_times_without_offset_stay_utc(ctx: AppContext) -> None:
    call = {
        "type": "track",
        "event": "下单",
        "userId": "u1",
        "messageId": "http",
        "timestamp": "2026-03-02T00:30:00",
    }
    assert Siyu(ctx).batch([call]).rejected == []
    assert stored(ctx)["http"] == datetime(2026, 3, 2, 0, 30)
