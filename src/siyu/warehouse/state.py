"""Profile state in the warehouse: tags, attributes, consent, touches, journey stage, RFM,
segment memberships, model scores (churn risk), customer-group memberships and pyramid roles,
re-shipped per contact whenever the system of record logs a change for it (``contact_changes``).
Segments join these tables with events in one DuckDB query.

Each mirror table is replaced per changed contact (delete, then insert what the system of
record holds now), so shipping the same change twice is harmless and an absorbed contact's rows
disappear with the change the merge logged for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.orm import Session

STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS contact_changes (id BIGINT, contact_id BIGINT);
CREATE TABLE IF NOT EXISTS contact_attributes (contact_id BIGINT, name VARCHAR, value JSON);
CREATE TABLE IF NOT EXISTS contact_tags (contact_id BIGINT, tag_id BIGINT, weight DOUBLE,
    weighted_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS consent_records (contact_id BIGINT, id BIGINT, purpose VARCHAR,
    channel VARCHAR, granted BOOLEAN, occurred_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS touches (contact_id BIGINT, channel_id BIGINT, entry_code_id BIGINT,
    occurred_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS contact_stages (contact_id BIGINT, stage VARCHAR, since TIMESTAMP);
CREATE TABLE IF NOT EXISTS contact_rfm (contact_id BIGINT, recency_days DOUBLE, frequency BIGINT,
    monetary DOUBLE, r INTEGER, f INTEGER, m INTEGER, segment VARCHAR);
CREATE TABLE IF NOT EXISTS segment_members (segment_id BIGINT, contact_id BIGINT);
CREATE TABLE IF NOT EXISTS contact_scores (contact_id BIGINT, churn_risk DOUBLE, computed_at TIMESTAMP,
    model VARCHAR);
CREATE TABLE IF NOT EXISTS group_members (contact_id BIGINT, group_id BIGINT, joined_at TIMESTAMP,
    left_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS community_roles (contact_id BIGINT, group_id BIGINT, role VARCHAR);
CREATE TABLE IF NOT EXISTS loyalty_members (contact_id BIGINT, status VARCHAR, tier VARCHAR,
    tier_rank INTEGER);
CREATE TABLE IF NOT EXISTS points_lots (contact_id BIGINT, status VARCHAR, available_at TIMESTAMP,
    expires_at TIMESTAMP, points BIGINT);
CREATE TABLE IF NOT EXISTS coupon_holdings (contact_id BIGINT, template VARCHAR, status VARCHAR,
    expires_at TIMESTAMP, n BIGINT);
"""
#: Changed contacts, for the ``source`` of a mirror that aggregates or joins.
CHANGED = "(SELECT contact_id FROM contact_changes WHERE id > :low AND id <= :high)"


@dataclass(frozen=True)
class Mirror:
    """A warehouse table holding, per contact, what the system of record holds now."""

    table: str
    #: (column, kind) with kind "" (plain), "ts" (UTC timestamp), "json", "bool"
    columns: tuple[tuple[str, str], ...]
    #: a SELECT giving the columns (restricted to ``{changed}`` contacts) when they are not
    #: the system-of-record table's own columns
    source: str | None = None

    def select(self, dialect: str) -> str:
        exprs = []
        for name, kind in self.columns:
            if dialect == "postgresql" and kind == "ts":
                exprs.append(f"{name} AT TIME ZONE 'UTC'")
            elif dialect == "postgresql" and kind == "json":
                exprs.append(f"{name}::text")
            elif kind == "json" and dialect == "sqlite":
                # SQLite gives JSON columns NUMERIC affinity: 42 comes back as an integer and a
                # float as a REAL, whose text would keep only 15 digits.
                real = f"printf('%!.17g', {name})"  # "!": up to 26 digits, not 16
                exprs.append(f"CASE typeof({name}) WHEN 'real' THEN {real} ELSE CAST({name} AS TEXT) END")
            elif kind == "json":
                exprs.append(f"CAST({name} AS TEXT)")
            elif dialect == "sqlite" and kind == "bool":
                exprs.append(f"{name} <> 0")
            else:
                exprs.append(name)
        if self.source is not None:
            return f"SELECT {', '.join(exprs)} FROM ({self.source.format(changed=CHANGED)}) src"
        return f"SELECT {', '.join(exprs)} FROM {self.table} WHERE contact_id IN {CHANGED}"

    def insert(self) -> str:
        casts = []
        for name, kind in self.columns:
            if kind == "ts":
                casts.append(f"CAST({name} AS TIMESTAMP)")
            elif kind == "json":
                casts.append(f"CAST({name} AS JSON)")
            else:
                casts.append(name)
        cols = ", ".join(n for n, _ in self.columns)
        return f"INSERT INTO {self.table} ({cols}) SELECT {', '.join(casts)} FROM incoming_state"


#: Loyalty state for the segment leaves tier / points / points_expiring / coupons. Points are
#: kept per (status, release date, expiry date), not as "active" / "expiring soon" flags: the
#: balance at a moment follows the ledger's rule (released and unexpired is active, even before
#: the jobs catch up), and stored dates answer it for any day without a re-ship.
LOYALTY_MIRRORS = (
    Mirror(
        "loyalty_members",
        (("contact_id", ""), ("status", ""), ("tier", ""), ("tier_rank", "")),
        "SELECT m.contact_id, m.status, t.key AS tier, t.rank AS tier_rank FROM loyalty_members m "
        "LEFT JOIN loyalty_tiers t ON t.id = m.tier_id WHERE m.contact_id IN {changed}",
    ),
    Mirror(
        "points_lots",
        (("contact_id", ""), ("status", ""), ("available_at", "ts"), ("expires_at", "ts"), ("points", "")),
        "SELECT contact_id, status, COALESCE(available_at, created_at) AS available_at, expires_at, "
        "SUM(remaining) AS points FROM points_entries "
        "WHERE kind = 'award' AND status IN ('active', 'pending') AND remaining <> 0 "
        "AND contact_id IN {changed} "
        "GROUP BY contact_id, status, COALESCE(available_at, created_at), expires_at",
    ),
    Mirror(
        "coupon_holdings",
        (("contact_id", ""), ("template", ""), ("status", ""), ("expires_at", "ts"), ("n", "")),
        "SELECT c.contact_id, t.key AS template, c.status, c.expires_at, COUNT(*) AS n FROM coupons c "
        "JOIN coupon_templates t ON t.id = c.template_id WHERE c.contact_id IN {changed} "
        "GROUP BY c.contact_id, t.key, c.status, c.expires_at",
    ),
)
MIRRORS: tuple[Mirror, ...] = (
    Mirror("contact_attributes", (("contact_id", ""), ("name", ""), ("value", "json"))),
    Mirror("contact_tags", (("contact_id", ""), ("tag_id", ""), ("weight", ""), ("weighted_at", "ts"))),
    Mirror(
        "consent_records",
        (
            ("contact_id", ""),
            ("id", ""),
            ("purpose", ""),
            ("channel", ""),
            ("granted", "bool"),
            ("occurred_at", "ts"),
        ),
    ),
    Mirror("touches", (("contact_id", ""), ("channel_id", ""), ("entry_code_id", ""), ("occurred_at", "ts"))),
    Mirror("contact_stages", (("contact_id", ""), ("stage", ""), ("since", "ts"))),
    Mirror(
        "contact_rfm",
        (
            ("contact_id", ""),
            ("recency_days", ""),
            ("frequency", ""),
            ("monetary", ""),
            ("r", ""),
            ("f", ""),
            ("m", ""),
            ("segment", ""),
        ),
    ),
    Mirror("segment_members", (("segment_id", ""), ("contact_id", ""))),
    Mirror("contact_scores", (("contact_id", ""), ("churn_risk", ""), ("computed_at", "ts"), ("model", ""))),
    # customer-group memberships (members without a contact are staff: not mirrored) and the
    # pyramid roles (group 0 = brand-wide), for the segment conditions group / community_role
    Mirror("group_members", (("contact_id", ""), ("group_id", ""), ("joined_at", "ts"), ("left_at", "ts"))),
    Mirror("community_roles", (("contact_id", ""), ("group_id", ""), ("role", ""))),
    *LOYALTY_MIRRORS,
)
#: Changes re-read below the cursor on PostgreSQL, where ids can commit out of order.
LOOKBACK_CHANGES = 10_000


def feed_state(
    conn: duckdb.DuckDBPyConnection, session: Session, cursor: int, batch_size: int
) -> tuple[int, int]:
    """Re-ship the state of contacts changed after ``cursor``; returns (new cursor, contacts)."""
    dialect = session.get_bind().dialect.name
    low = max(cursor - (LOOKBACK_CHANGES if dialect == "postgresql" else 0), 0)
    shipped = 0
    while True:
        ids = session.execute(
            text("SELECT id, contact_id FROM contact_changes WHERE id > :low ORDER BY id LIMIT :n"),
            {"low": low, "n": batch_size},
        ).all()
        if not ids:
            break
        high = ids[-1][0]
        changes = pa.table({"id": [r[0] for r in ids], "contact_id": [r[1] for r in ids]})
        conn.register("incoming_changes", changes)
        conn.execute("BEGIN")
        try:
            conn.execute(
                "INSERT INTO contact_changes SELECT id, contact_id FROM incoming_changes i "
                "WHERE NOT EXISTS (SELECT 1 FROM contact_changes c WHERE c.id = i.id)"
            )
            for mirror in MIRRORS:
                conn.execute(
                    f"DELETE FROM {mirror.table} WHERE contact_id IN "
                    "(SELECT contact_id FROM incoming_changes)"
                )
                rows = session.execute(text(mirror.select(dialect)), {"low": low, "high": high}).all()
                if rows:
                    names = [n for n, _ in mirror.columns]
                    table = pa.Table.from_arrays(
                        [pa.array(col) for col in zip(*rows, strict=True)], names=names
                    )
                    conn.register("incoming_state", table)
                    conn.execute(mirror.insert())
                    conn.unregister("incoming_state")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        finally:
            conn.unregister("incoming_changes")
        shipped += len({r[1] for r in ids})
        low = high
        cursor = max(cursor, high)
    session.rollback()
    return cursor, shipped
