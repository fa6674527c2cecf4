"""Paths: the most common transitions between events, after or before an event, within sessions.

Definitions (docs/analytics/funnels.md, "Paths"; they follow the leading open-source
product-analytics tool):

* Events: the contact's activity events in [from, to] (track/page/screen calls, without siyu's
  own system events unless ``exclude_system`` is false), in time order (ties by event id).
* Sessions: a gap of more than ``session_minutes`` between consecutive events starts a new
  session (exactly ``session_minutes`` does not). Paths never cross sessions.
* Consecutive repeats of one event within a session count once (A A B is the path A → B).
* Without an anchor, every session gives one path: its first ``steps`` transitions (``after``) or
  its last ``steps`` transitions (``before``). With an anchor event, every occurrence of it starts
  a path of up to ``steps`` transitions (``after``) or ends one (``before``).
* ``level`` numbers the transitions of a path from the anchor: after, level 1 leaves the anchor
  (or the session's first event); before, level 1 arrives at it (or the session's last event).
* Transitions are counted, not contacts: a contact with two sessions counts twice. The ``limit``
  most frequent (level, source, target) transitions are reported.

One statement: two window passes (session numbers, then positions in the session) and a join of
anchors to the transitions of their session; the aggregated transitions come back and node
totals (flows in and out, drop-off) are summed here from all of them, not only the top ones.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
from pydantic import Field, ValidationInfo, field_validator
from sqlalchemy import and_

from siyu.analytics.activity.base import ANY_EVENT, RangeParams, WhereField, event_conditions
from siyu.analytics.base import QueryRunner, register
from siyu.analytics.funnels.sqltext import SqlText
from siyu.analytics.result import AnalysisResult
from siyu.analytics.zone import zone_name
from siyu.segments.schemas import PropertyFilter
from siyu.warehouse.query import EVENTS

if TYPE_CHECKING:
    import plotly.graph_objects as go


class PathsParams(RangeParams):
    """Top transitions between events after (or before) an anchor event, within sessions."""

    event: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Anchor event: paths start (after) or end (before) at each of its occurrences. "
        "Default: none, paths start at the session's first event (after) or end at its last (before).",
    )
    where: list[PropertyFilter] = WhereField
    direction: Literal["after", "before"] = Field(
        default="after", description="after: what contacts do next; before: what they did before."
    )
    steps: int = Field(default=5, ge=1, le=20, description="Transitions per path.")
    session_minutes: int = Field(
        default=30, ge=1, le=1440, description="Inactivity (minutes) after which a new session starts."
    )
    limit: int = Field(default=50, ge=1, le=1000, description="Most frequent transitions reported.")
    exclude_system: bool = Field(
        default=True, description="Leave out siyu's own system events (tag.added, segment.entered, …)."
    )
    exclude_events: list[str] = Field(
        default_factory=list, max_length=100, description="Events left out of the paths entirely."
    )

    @field_validator("event")
    @classmethod
    def _concrete(cls, v: str | None) -> str | None:
        if v == ANY_EVENT:
            raise ValueError('the anchor is one event; "*" would anchor every event')
        if v is not None and any(ord(ch) < 32 for ch in v):
            raise ValueError("no control characters")
        return v

    @field_validator("where")
    @classmethod
    def _where_needs_event(cls, v: list[PropertyFilter], info: ValidationInfo) -> list[PropertyFilter]:
        if v and info.data.get("event") is None:
            raise ValueError("where filters apply to the anchor event; give event")
        return v

    @field_validator("exclude_events")
    @classmethod
    def _not_the_anchor(cls, v: list[str], info: ValidationInfo) -> list[str]:
        if info.data.get("event") in v:
            raise ValueError("the anchor event cannot be excluded")
        return v


class PathsResult(AnalysisResult):
    kind = "paths"

    def __init__(self, params: PathsParams, edges: list[dict[str, Any]], total_edges: int) -> None:
        super().__init__()
        self.params = params
        #: every distinct (level, source, target) with its count, most frequent first
        self.all_edges = edges
        self.total_edges = total_edges

    @property
    def edges(self) -> list[dict[str, Any]]:
        return self.all_edges[: self.params.limit]

    def nodes(self) -> list[dict[str, Any]]:
        """Per (level, event): transitions into and out of it (over all transitions, not only
        the top ones) and drop-off: after, paths ending there (in − out); before, paths
        starting there (out − in). Unknown at the last level (paths are cut there)."""
        after = self.params.direction == "after"
        inflow: dict[tuple[int, str], int] = defaultdict(int)
        outflow: dict[tuple[int, str], int] = defaultdict(int)
        for e in self.all_edges:
            lvl = e["level"]
            # after: an edge of level L goes from node L-1 to node L; before: from L to L-1.
            src, dst = (
                ((lvl - 1, e["source"]), (lvl, e["target"]))
                if after
                else ((lvl, e["source"]), (lvl - 1, e["target"]))
            )
            outflow[src] += e["count"]
            inflow[dst] += e["count"]
        out = []
        for key in sorted(set(inflow) | set(outflow), key=lambda k: (k[0], -(inflow[k] + outflow[k]), k[1])):
            lvl, event = key
            i, o = inflow.get(key, 0), outflow.get(key, 0)
            drop = None
            if 0 < lvl < self.params.steps:
                drop = i - o if after else o - i
            out.append({"level": lvl, "event": event, "inflow": i, "outflow": o, "drop_off": drop})
        return out

    def frame(self) -> pa.Table:
        edges = self.edges
        return pa.table(
            {
                "level": pa.array([e["level"] for e in edges], pa.int64()),
                "source": pa.array([e["source"] for e in edges], pa.string()),
                "target": pa.array([e["target"] for e in edges], pa.string()),
                "count": pa.array([e["count"] for e in edges], pa.int64()),
            }
        )

    def payload(self) -> dict[str, Any]:
        p = self.params
        return {
            "event": p.event,
            "direction": p.direction,
            "steps": p.steps,
            "session_minutes": p.session_minutes,
            "from": p.from_.isoformat(),
            "to": p.to.isoformat(),
            "timezone": zone_name(p),
            "limit": p.limit,
            "total_edges": self.total_edges,
            "edges": self.edges,
            "nodes": self.nodes(),
        }

    def figure(self) -> go.Figure:
        """A Sankey diagram of the top transitions; nodes are (level, event), time flows right."""
        import plotly.graph_objects as go

        after = self.params.direction == "after"
        index: dict[tuple[int, str], int] = {}
        labels: list[str] = []

        def node(depth: int, event: str) -> int:
            if (depth, event) not in index:
                index[(depth, event)] = len(labels)
                labels.append(event)
            return index[(depth, event)]

        src, dst, val = [], [], []
        for e in self.edges:
            lvl = e["level"]
            a, b = (lvl - 1, lvl) if after else (-lvl, -lvl + 1)
            src.append(node(a, e["source"]))
            dst.append(node(b, e["target"]))
            val.append(e["count"])
        fig = go.Figure(
            go.Sankey(node={"label": labels, "pad": 12}, link={"source": src, "target": dst, "value": val})
        )
        anchor = self.params.event or ("session start" if after else "session end")
        fig.update_layout(title=f"Paths 路径 ({self.params.direction} {anchor})")
        return fig


def _bounds(p: PathsParams) -> tuple[datetime, datetime]:
    """The range's local days as UTC instants."""
    zone = p.zone()
    return zone.utc(p.from_), zone.utc(datetime.combine(p.to, time()) + timedelta(days=1))


def paths_sql(q: SqlText, p: PathsParams) -> str:
    lo, hi = _bounds(p)
    if p.exclude_system:
        events = q.expr(and_(*event_conditions(ANY_EVENT)))
    else:
        events = q.expr(EVENTS.c.event.is_not(None))
    where = [f"timestamp >= {q.bind(lo)}", f"timestamp < {q.bind(hi)}", f"({events})"]
    if p.exclude_events:
        where.append(q.expr(EVENTS.c.event.not_in(p.exclude_events)))
    anchor = "FALSE"
    if p.event is not None:
        anchor = q.expr(and_(*event_conditions(p.event, p.where)))
    gap = f"INTERVAL '{int(p.session_minutes) * 60} seconds'"
    steps = int(p.steps)
    ctes = [
        (
            "ev",
            f"SELECT contact_id AS cid, timestamp AS ts, id, event, COALESCE({anchor}, FALSE) AS anc\n"
            f"FROM events WHERE " + "\n  AND ".join(where),
        ),
        # brk = 1 where a session starts: the first event, or more than the gap after the last.
        (
            "s1",
            f"SELECT *, CASE WHEN pts IS NULL OR ts > pts + {gap} THEN 1 ELSE 0 END AS brk FROM "
            "(SELECT *, lag(ts) OVER w AS pts, lag(event) OVER w AS pev FROM ev "
            "WINDOW w AS (PARTITION BY cid ORDER BY ts, id)) z",
        ),
        # Session numbers; repeats of the previous event in the session are dropped.
        (
            "s2",
            "SELECT * FROM (SELECT cid, ts, id, event, anc, brk, pev, "
            "sum(brk) OVER (PARTITION BY cid ORDER BY ts, id ROWS UNBOUNDED PRECEDING) AS sid FROM s1) z "
            "WHERE brk = 1 OR event <> pev",
        ),
        (
            "s3",
            "SELECT cid, sid, event, anc, row_number() OVER w AS pos, lag(event) OVER w AS prv, "
            "lead(event) OVER w AS nxt, count(*) OVER (PARTITION BY cid, sid) AS len "
            "FROM s2 WINDOW w AS (PARTITION BY cid, sid ORDER BY ts, id)",
        ),
    ]
    after = p.direction == "after"
    if p.event is None and after:
        edges = (
            "SELECT pos AS level, event AS source, nxt AS target FROM s3 "
            f"WHERE nxt IS NOT NULL AND pos <= {steps}"
        )
    elif p.event is None:
        edges = (
            "SELECT len - pos + 1 AS level, prv AS source, event AS target FROM s3 "
            f"WHERE prv IS NOT NULL AND len - pos + 1 <= {steps}"
        )
    elif after:
        edges = (
            "SELECT t.pos - a.pos + 1 AS level, t.event AS source, t.nxt AS target\n"
            "FROM s3 a JOIN s3 t ON t.cid = a.cid AND t.sid = a.sid AND t.pos >= a.pos "
            f"AND t.pos < a.pos + {steps}\nWHERE a.anc AND t.nxt IS NOT NULL"
        )
    else:
        edges = (
            "SELECT a.pos - t.pos + 1 AS level, t.prv AS source, t.event AS target\n"
            "FROM s3 a JOIN s3 t ON t.cid = a.cid AND t.sid = a.sid AND t.pos <= a.pos "
            f"AND t.pos > a.pos - {steps}\nWHERE a.anc AND t.prv IS NOT NULL"
        )
    ctes.append(("tr", edges))
    body = ",\n".join(f"{name} AS (\n{sql}\n)" for name, sql in ctes)
    return f"WITH {body}\nSELECT level, source, target, count(*) AS n FROM tr GROUP BY level, source, target"


@register
class PathsRunner(QueryRunner[PathsParams, PathsResult]):
    kind = "paths"
    params_model = PathsParams

    def calculate(self) -> PathsResult:
        q = SqlText(self.engine)
        sql, values = q.render(paths_sql(q, self.params))
        rows = self.fetch(sql, values).to_pylist()
        edges = [
            {"level": int(r["level"]), "source": r["source"], "target": r["target"], "count": int(r["n"])}
            for r in rows
        ]
        # The engines may order equal counts' text differently; settle it here.
        edges.sort(key=lambda e: (-e["count"], e["level"], e["source"], e["target"]))
        return PathsResult(self.params, edges, len(edges))
