"""Segment sizes over time, rebuilt from segment.entered / segment.exited events."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import orjson

from siyu.segments.history import SegmentSize, size_history


def _events(rows: list[tuple[str, int, str]]) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("CREATE TABLE events (event VARCHAR, properties JSON, timestamp TIMESTAMP)")
    for event, seg, at in rows:
        props = orjson.dumps({"segment": f"s{seg}", "segment_id": seg}).decode()
        conn.execute("INSERT INTO events VALUES (?, ?, ?)", [event, props, at])
    return conn


def test_sizes_walk_back_from_the_current_size() -> None:
    conn = _events(
        [
            ("segment.entered", 1, "2026-03-01 09:00"),
            ("segment.entered", 1, "2026-03-01 09:00"),
            ("segment.entered", 1, "2026-03-01 09:00"),
            ("segment.entered", 1, "2026-03-03 10:00"),
            ("segment.exited", 1, "2026-03-04 10:00"),
            ("segment.exited", 1, "2026-03-04 11:00"),
            ("segment.entered", 2, "2026-03-04 10:00"),  # another segment
            ("Order Completed", 1, "2026-03-04 10:00"),  # not a membership change
        ]
    )
    seg = SegmentSize(1, 2, datetime(2026, 3, 1, 9))
    series = size_history(conn, [seg], days=5, today=date(2026, 3, 5))[1]
    assert series == [
        (date(2026, 3, 1), 3),
        (date(2026, 3, 2), 3),
        (date(2026, 3, 3), 4),
        (date(2026, 3, 4), 2),
        (date(2026, 3, 5), 2),
    ]
    # before the segment existed there is no size
    late = SegmentSize(2, 1, datetime(2026, 3, 4, 10))
    assert size_history(conn, [late], days=3, today=date(2026, 3, 5))[2] == [
        (date(2026, 3, 3), None),
        (date(2026, 3, 4), 1),
        (date(2026, 3, 5), 1),
    ]
    assert size_history(conn, [], days=3) == {}
