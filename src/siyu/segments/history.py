"""How segments grew and shrank: daily sizes over the last N days, for trend lines.

No size snapshots are stored; every recompute already writes one ``segment.entered`` /
``segment.exited`` event per member that moved (docs/segments.md), so the size at the end of a
past day is the current size minus the net entries after that day. The events are counted on
the warehouse (one scan of the two event names, grouped by segment and day), not in the system
of record, whose events table has no index on the event name.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb


@dataclass(frozen=True)
class SegmentSize:
    """What the history needs of a segment: its id, current size and when it was created."""

    id: int
    members: int
    created_at: datetime


def daily_changes(
    conn: duckdb.DuckDBPyConnection, segment_ids: list[int], since: date
) -> dict[int, dict[date, int]]:
    """Net entries (entered − exited) per segment and UTC day from ``since`` on."""
    if not segment_ids:
        return {}
    rows = conn.execute(
        "SELECT CAST(json_extract(properties, '$.segment_id') AS BIGINT) AS seg, "
        "CAST(timestamp AS DATE) AS day, "
        "sum(CASE WHEN event = 'segment.entered' THEN 1 ELSE -1 END) AS net "
        "FROM events WHERE event IN ('segment.entered', 'segment.exited') AND timestamp >= ? "
        "GROUP BY 1, 2",
        [datetime.combine(since, datetime.min.time())],
    ).fetchall()
    wanted = set(segment_ids)
    out: dict[int, dict[date, int]] = defaultdict(dict)
    for seg, day, net in rows:
        if seg is not None and int(seg) in wanted:
            out[int(seg)][day] = int(net)
    return dict(out)


def size_history(
    conn: duckdb.DuckDBPyConnection, segments: list[SegmentSize], days: int = 30, today: date | None = None
) -> dict[int, list[tuple[date, int | None]]]:
    """Per segment id, ``days`` (day, size at the end of that day) pairs ending today (UTC);
    the size is None before the segment existed. Sizes never go below zero (events of a
    segment deleted and re-created under the same id cannot occur: ids are not reused)."""
    today = today or datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    changes = daily_changes(conn, [s.id for s in segments], first + timedelta(days=1))
    out: dict[int, list[tuple[date, int | None]]] = {}
    for seg in segments:
        net = changes.get(seg.id, {})
        created = _utc_date(seg.created_at)
        size = seg.members
        series: list[tuple[date, int | None]] = []
        for offset in range(days):
            day = today - timedelta(days=offset)
            series.append((day, max(size, 0) if day >= created else None))
            size -= net.get(day, 0)  # the size at the end of the day before
        out[seg.id] = list(reversed(series))
    return out


def _utc_date(value: Any) -> date:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).date()
    return value  # type: ignore[no-any-return]
