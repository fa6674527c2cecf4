"""RFM scores: compute them in the warehouse, keep ``contact_rfm`` in step, report them.

Scores are quintiles computed in one DuckDB query with window functions (see
docs/stages-rfm.md for the exact formula and how ties are handled). The new scores are
compared with the stored rows and only the contacts whose row changed are written (set-based
deletes and executemany inserts) and logged with ``note_changed``, so a daily run over a
million customers rewrites only the customers whose orders or scores moved.

A stored row is "changed" when its frequency, monetary, scores, segment or last order time
differs. Time passing alone (recency_days growing while the last order stays put) is not a
change: ``recency_days`` is measured at the row's ``computed_at``, the as-of time of the run
that last changed it, so ``computed_at - recency_days`` is always the last order time.

Callers feed the warehouse before computing and commit (then feed again) after; services
never commit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Double, Integer, and_, case, cast, column, func, literal, select, table
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Select, Subquery

from siyu.audit import service as audit
from siyu.rfm.repository import RfmRepository
from siyu.rfm.schemas import (
    CONFIG_SETTING,
    DEFAULT_CONFIG,
    DEFAULT_RULES,
    RULES_SETTING,
    RfmConfig,
    RfmRules,
    parse_config,
    parse_rules,
)
from siyu.store.changes import note_changed
from siyu.store.models import utcnow
from siyu.store.settings import get_setting, put_setting
from siyu.warehouse.query import CONTACTS, EVENTS, AgeSeconds, JsonText, TryDouble, fetch_arrow
from siyu.warehouse.store import Warehouse

#: The stored rows, registered in DuckDB (an Arrow table) for the duration of a diff.
STORED = table(
    "rfm_stored",
    *(column(c) for c in ("contact_id", "computed_at", "recency_days", "frequency", "monetary")),
    *(column(c) for c in ("r", "f", "m", "segment")),
)
#: Monetary is rounded to this many decimals so that summation order never splits a tie.
MONETARY_DECIMALS = 6
#: Last order times closer than this (in days, ~1 ms) are the same order time.
RECENCY_TOLERANCE_DAYS = 1e-8
_SCORE_COLUMNS = ("recency_days", "frequency", "monetary", "r", "f", "m", "segment")


@dataclass
class RfmResult:
    as_of: str
    #: contacts with at least one order (scored)
    contacts: int
    #: segment → contacts, every rule's segment listed
    segments: dict[str, int]
    inserted: int
    updated: int
    deleted: int
    seconds: float
    changed: int = field(init=False)

    def __post_init__(self) -> None:
        self.changed = self.inserted + self.updated + self.deleted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _naive(at: datetime) -> datetime:
    """The warehouse stores naive UTC timestamps."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _quintile(order_by: Any, n: Any) -> Any:
    """``1 + floor(5 × (rank − 1) / N)``: ``rank()`` gives every row of a tie group the rank of
    its first row, so equal values always share a score."""
    rank = func.rank().over(order_by=order_by)
    return cast(1 + func.floor(5 * (rank - 1) / cast(n, Double)), Integer)


def _days(seconds: Any) -> Any:
    return seconds / literal(86_400.0, Double)


def scores_query(config: RfmConfig, rules: RfmRules, as_of: datetime) -> Select[Any]:
    """One row per live contact with at least one order as of ``as_of``: contact_id, last_at,
    recency_days, frequency, monetary, r, f, m, segment."""
    now = _naive(as_of)
    amount = TryDouble(JsonText(EVENTS.c.properties, config.amount_property))
    conds = [
        EVENTS.c.type == "track",
        EVENTS.c.event == config.event,
        EVENTS.c.timestamp <= now,
        CONTACTS.c.merged_into_id.is_(None),
    ]
    if config.window_days is not None:
        conds.append(EVENTS.c.timestamp >= now - timedelta(days=config.window_days))
    orders = (
        select(
            EVENTS.c.contact_id.label("contact_id"),
            func.max(EVENTS.c.timestamp).label("last_at"),
            func.count().label("frequency"),
            # non-numeric amounts are NULL (ignored by sum); a contact with none sums to 0
            func.round(func.coalesce(func.sum(amount), 0.0), MONETARY_DECIMALS).label("monetary"),
        )
        .select_from(EVENTS.join(CONTACTS, CONTACTS.c.id == EVENTS.c.contact_id))
        .where(*conds)
        .group_by(EVENTS.c.contact_id)
        .subquery("orders")
    )
    n = func.count().over()
    scored = select(
        orders.c.contact_id,
        orders.c.last_at,
        _days(AgeSeconds(orders.c.last_at, now)).label("recency_days"),
        orders.c.frequency,
        orders.c.monetary,
        # lower recency is better: the oldest last order ranks first, so 5 = most recent
        _quintile(orders.c.last_at.asc(), n).label("r"),
        _quintile(orders.c.frequency.asc(), n).label("f"),
        _quintile(orders.c.monetary.asc(), n).label("m"),
    ).subquery("scored")
    segment = case(
        *(
            (and_(scored.c.r.between(*rule.r), scored.c.f.between(*rule.f)), literal(rule.name))
            for rule in rules.rules
        ),
        else_=None,  # unreachable: the rules cover every cell
    )
    return select(*scored.c, segment.label("segment"))


def _diff_query(new: Subquery) -> Select[Any]:
    """New scores against the stored rows: every contact in either, with its status."""
    old = STORED
    same_time = (
        func.abs(_days(AgeSeconds(new.c.last_at, old.c.computed_at)) - old.c.recency_days)
        < RECENCY_TOLERANCE_DAYS
    )
    same = and_(
        *(new.c[c] == old.c[c] for c in ("frequency", "monetary", "r", "f", "m", "segment")), same_time
    )
    status = case(
        (old.c.contact_id.is_(None), literal("new")),
        (new.c.contact_id.is_(None), literal("deleted")),
        (same, literal("same")),
        else_=literal("updated"),
    )
    return select(
        func.coalesce(new.c.contact_id, old.c.contact_id).label("contact_id"),
        status.label("status"),
        *(new.c[c] for c in _SCORE_COLUMNS),
    ).select_from(new.join(old, new.c.contact_id == old.c.contact_id, full=True))


class RfmService:
    def __init__(self, session: Session, warehouse: Warehouse) -> None:
        self.session = session
        self.repo = RfmRepository(session)
        self.wh = warehouse

    # --- settings -----------------------------------------------------------------------------
    def config(self) -> RfmConfig:
        return parse_config(get_setting(self.session, CONFIG_SETTING) or DEFAULT_CONFIG)

    def set_config(self, raw: Any, actor: str = "system") -> RfmConfig:
        """What an order is (event name, amount property, optional window in days). Takes
        effect at the next :meth:`compute`."""
        cfg = parse_config(raw)
        value = cfg.model_dump()
        put_setting(self.session, CONFIG_SETTING, value)
        audit.record(self.session, actor, "rfm.config_set", "setting", CONFIG_SETTING, value)
        return cfg

    def _rules(self) -> RfmRules:
        return parse_rules(get_setting(self.session, RULES_SETTING) or DEFAULT_RULES)

    def rules(self) -> list[dict[str, Any]]:
        return self._rules().dump()

    def set_rules(self, raw: Any, actor: str = "system") -> list[dict[str, Any]]:
        """Replace the segment rules (validated: every R × F cell covered). Stored segments
        follow at the next :meth:`compute`."""
        rules = parse_rules(raw).dump()
        put_setting(self.session, RULES_SETTING, rules)
        audit.record(self.session, actor, "rfm.rules_set", "setting", RULES_SETTING, {"rules": rules})
        return rules

    # --- compute ------------------------------------------------------------------------------
    def query(self, as_of: datetime | None = None) -> Select[Any]:
        """The scoring query (for review, previews and analyses)."""
        return scores_query(self.config(), self._rules(), as_of or utcnow())

    def compute(self, as_of: datetime | None = None) -> RfmResult:
        """Score every customer as of ``as_of`` (default now) and write what changed."""
        started = time.perf_counter()
        at = _aware(as_of or utcnow())
        rules = self._rules()
        new = scores_query(self.config(), rules, at).subquery("new")
        conn = self.wh.conn
        conn.register(STORED.name, self.repo.stored())
        try:
            result = fetch_arrow(conn, _diff_query(new))
        finally:
            conn.unregister(STORED.name)
        status = result.column("status")
        writes = result.filter(pc.is_in(status, pa.array(["new", "updated"])))
        gone = result.filter(pc.equal(status, "deleted")).column("contact_id").to_pylist()
        columns = writes.select(["contact_id", *_SCORE_COLUMNS])
        rows = [{**row, "computed_at": at} for row in columns.to_pylist()]
        self.repo.replace(rows, gone)
        note_changed(self.session, [r["contact_id"] for r in rows] + gone)
        scored = result.filter(pc.not_equal(status, "deleted"))
        counts = {rule.name: 0 for rule in rules.rules}
        for item in pc.value_counts(scored.column("segment")).to_pylist():
            counts[item["values"]] = int(item["counts"])
        inserted = int(pc.sum(pc.equal(status, "new")).as_py() or 0)
        return RfmResult(
            as_of=at.isoformat(),
            contacts=scored.num_rows,
            segments=counts,
            inserted=inserted,
            updated=len(rows) - inserted,
            deleted=len(gone),
            seconds=round(time.perf_counter() - started, 4),
        )

    # --- reading ------------------------------------------------------------------------------
    def distribution(self) -> dict[str, Any]:
        """Contacts per segment (every rule's segment, plus any stored under older rules) and
        the R × F grid: ``grid[r - 1][f - 1]`` contacts have scores (r, f)."""
        stored = self.repo.segment_counts()
        segments = {rule.name: stored.pop(rule.name, 0) for rule in self._rules().rules}
        segments.update(stored)
        cells = self.repo.grid_counts()
        grid = [[cells.get((r, f), 0) for f in range(1, 6)] for r in range(1, 6)]
        return {"total": sum(segments.values()), "segments": segments, "grid": grid}

    def of(self, contact_id: int) -> dict[str, Any] | None:
        """One contact's scores, or None when the contact has no orders (or was merged away)."""
        row = self.repo.get(contact_id)
        if row is None:
            return None
        computed = _aware(row.computed_at)
        return {
            "contact_id": row.contact_id,
            "recency_days": row.recency_days,
            "frequency": row.frequency,
            "monetary": row.monetary,
            "r": row.r,
            "f": row.f,
            "m": row.m,
            "segment": row.segment,
            "computed_at": computed.isoformat(),
            "last_order_at": (computed - timedelta(days=row.recency_days)).isoformat(),
        }


__all__ = ["RfmResult", "RfmService", "scores_query"]
