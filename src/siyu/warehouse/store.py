"""The DuckDB warehouse: an analytics copy of events, fed from the system of record.

DuckDB allows one writing process, so only one place writes: the feeder inside ``siyu serve``
(or a CLI command when no server holds the file). The feeder ships events in id order in
micro-batches and replays contact merges so events follow survivors. Because concurrent
PostgreSQL transactions can commit ids out of order, each feed re-reads a look-back window of
ids below the cursor and inserts only rows the warehouse lacks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from siyu.store.engine import Database
from siyu.store.models import EVENT_COLUMNS, Contact, ContactMerge, WarehouseRemoval
from siyu.store.private import DIR_MODE, tighten_file
from siyu.warehouse.erasures import apply_erasures
from siyu.warehouse.state import MIRRORS, STATE_SCHEMA, feed_state

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id BIGINT PRIMARY KEY,
    message_id VARCHAR NOT NULL,
    contact_id BIGINT NOT NULL,
    source_id BIGINT,
    type VARCHAR NOT NULL,
    event VARCHAR,
    properties JSON,
    context JSON,
    timestamp TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
    id BIGINT PRIMARY KEY,
    merged_into_id BIGINT,
    first_channel_id BIGINT,
    first_entry_code_id BIGINT,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS feed_state (
    name VARCHAR PRIMARY KEY,
    value BIGINT NOT NULL
);
"""
#: Arrow schema of the warehouse events table (bulk loads are cast to it).
WAREHOUSE_EVENT_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("message_id", pa.string()),
        ("contact_id", pa.int64()),
        ("source_id", pa.int64()),
        ("type", pa.string()),
        ("event", pa.string()),
        ("properties", pa.string()),
        ("context", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("received_at", pa.timestamp("us")),
    ]
)
LOOKBACK_IDS = 10_000
#: Removals re-applied below the cursor on PostgreSQL (ids commit out of order; a removal
#: applied twice removes nothing more).
LOOKBACK_REMOVALS = 1_000
_FEED_SQL = {
    "sqlite": "SELECT id, message_id, contact_id, source_id, type, event, properties, context, "
    "timestamp, received_at FROM events WHERE id > :low ORDER BY id LIMIT :n",
    "postgresql": "SELECT id, message_id, contact_id, source_id, type, event, properties::text, "
    "context::text, timestamp AT TIME ZONE 'UTC', received_at AT TIME ZONE 'UTC' "
    "FROM events WHERE id > :low ORDER BY id LIMIT :n",
}


#: One feed at a time per warehouse file in this process. Every ``duckdb.connect`` of a path in
#: one process shares one database, so two requests of the API feeding at once (a console page
#: and its chart, say) ran two transactions deleting the same mirror rows, and DuckDB failed
#: one with "Conflict on tuple deletion" (a 500 on the page).
_FEED_LOCKS: dict[str, threading.Lock] = {}
_FEED_LOCKS_GUARD = threading.Lock()


def _feed_lock(path: Path) -> threading.Lock:
    with _FEED_LOCKS_GUARD:
        return _FEED_LOCKS.setdefault(str(path.resolve()), threading.Lock())


class WarehouseBusy(RuntimeError):
    """Another process (usually ``siyu serve``) holds the warehouse file."""


@dataclass
class FeedResult:
    events: int = 0
    merges: int = 0
    contacts: int = 0
    #: contacts whose profile state (tags, attributes, consent, …) was re-shipped
    profiles: int = 0
    #: PIPL erasures applied (see warehouse.erasures)
    erasures: int = 0
    #: entries of the removal log applied (retention, deleted contacts)
    removals: int = 0


class Warehouse:
    def __init__(self, path: Path, read_only: bool = False, wait_s: float = 0.0) -> None:
        """Open the warehouse file; when another process holds it, retry for ``wait_s`` seconds
        (``siyu serve``'s background process holds it only while it feeds or recomputes)."""
        self.path = path
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)  # the data dir is made 0700
        deadline = time.monotonic() + wait_s
        pause = 0.01
        while True:
            try:
                self.conn = duckdb.connect(str(path), read_only=read_only)
                tighten_file(path)  # created 0600 under siyu's umask; narrowed if older
                break
            except (duckdb.IOException, duckdb.ConnectionException) as exc:
                if time.monotonic() + pause > deadline:
                    raise WarehouseBusy(
                        f"the warehouse {path} is in use by another process (a running `siyu serve`?); "
                        "it feeds the warehouse itself, or stop it and retry"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 0.2)
        # Timestamps are naive UTC; text with an offset is converted to UTC, text without one is UTC.
        self.conn.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self.conn.execute(SCHEMA)
            self.conn.execute(STATE_SCHEMA)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # --- state ------------------------------------------------------------------------------
    def _get(self, name: str) -> int:
        rows = self.conn.execute("SELECT value FROM feed_state WHERE name = ?", [name]).fetchall()
        return int(rows[0][0]) if rows else 0

    def _set(self, name: str, value: int) -> None:
        self.conn.execute(
            "INSERT INTO feed_state VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [name, value],
        )

    # --- feeding ----------------------------------------------------------------------------
    def feed(self, db: Database, batch_size: int = 50_000) -> FeedResult:
        """Ship new events, contacts and merges; returns what was shipped."""
        with _feed_lock(self.path):
            return self._feed(db, batch_size)

    def _feed(self, db: Database, batch_size: int) -> FeedResult:
        result = FeedResult()
        with db.sessionmaker() as session:
            result.events = self._feed_events(session, batch_size)
            result.contacts = self._feed_contacts(session, batch_size)
            result.merges = self._feed_merges(session)
            result.removals = self._feed_removals(session)
            cursor, result.profiles = feed_state(self.conn, session, self._get("changes"), batch_size)
            self._set("changes", cursor)
        # After shipping: rows of an erased person shipped by this very feed go too.
        result.erasures = self.erase(db)
        return result

    def erase(self, db: Database) -> int:
        """Apply queued PIPL erasures (see ``warehouse.erasures``), then rewrite the file:
        DuckDB leaves deleted rows' bytes in freed blocks, and an erased person must not stay
        readable in the file. Costs one copy of the warehouse per feed that erased someone."""
        applied = apply_erasures(self.conn, db)
        if applied:
            self.compact()
        return applied

    def compact(self) -> None:
        """Copy every table into a fresh file and put it in place of this one. Only for the
        process's one connection to the file (the feeder, a CLI command): DuckDB shares one
        database instance between a process's connections, and another one would keep
        writing to the replaced file."""
        fresh = self.path.with_name(self.path.name + ".compact")
        fresh.unlink(missing_ok=True)
        name = self.conn.execute("SELECT current_database()").fetchall()[0][0]
        self.conn.execute(f"ATTACH '{fresh}' AS siyu_compact")
        try:
            self.conn.execute(f'COPY FROM DATABASE "{name}" TO siyu_compact')
        finally:
            self.conn.execute("DETACH siyu_compact")
        self.conn.close()
        fresh.replace(self.path)
        self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
        self.conn = duckdb.connect(str(self.path))
        self.conn.execute("SET TimeZone = 'UTC'")

    def cursors(self) -> dict[str, int]:
        """Where the feed stands (segments remember these to recompute incrementally)."""
        return {"events": self._get("events"), "changes": self._get("changes")}

    def _feed_events(self, session: Session, batch_size: int) -> int:
        cursor = self._get("events")
        dialect = session.get_bind().dialect.name
        # SQLite has one writer at a time, so ids commit in order and no look-back is needed.
        low = max(cursor - (LOOKBACK_IDS if dialect == "postgresql" else 0), 0)
        shipped = 0
        sql = text(_FEED_SQL[dialect])
        while True:
            # Raw driver values (no ORM type processing): timestamps arrive as UTC text or naive
            # datetimes and JSON as text; DuckDB casts them in the INSERT.
            rows = session.execute(sql, {"low": low, "n": batch_size}).all()
            if not rows:
                break
            table = pa.Table.from_arrays(
                [pa.array(col) for col in zip(*rows, strict=True)], names=list(EVENT_COLUMNS)
            )
            self.conn.register("incoming_events", table)
            before = self._count("events")
            # Ids already shipped are looked up only in the id range of this batch: events are
            # appended in id order, so DuckDB's zone maps skip all but the last row groups
            # (an anti-join against every id cost seconds per batch at 50M events).
            self.conn.execute(
                "INSERT INTO events SELECT id, message_id, contact_id, source_id, type, event, "
                "properties, context, CAST(timestamp AS TIMESTAMP), CAST(received_at AS TIMESTAMP) "
                "FROM incoming_events i WHERE i.id NOT IN "
                "(SELECT id FROM events WHERE id BETWEEN ? AND ?)",
                [rows[0][0], rows[-1][0]],
            )
            self.conn.unregister("incoming_events")
            shipped += self._count("events") - before
            low = rows[-1][0]
            cursor = max(cursor, low)
        self._set("events", cursor)
        session.rollback()
        return shipped

    def _feed_contacts(self, session: Session, batch_size: int) -> int:
        """Contacts changed since the last feed (by updated_at), upserted."""
        since = self._get("contacts_updated_us")
        stmt = select(
            Contact.id,
            Contact.merged_into_id,
            Contact.first_channel_id,
            Contact.first_entry_code_id,
            Contact.created_at,
            Contact.updated_at,
        ).order_by(Contact.updated_at, Contact.id)
        if since:
            # Re-read a minute before the cursor: a transaction that began earlier may commit
            # after a later one. Upserts make the overlap harmless.
            lookback = datetime.fromtimestamp(since / 1e6, UTC) - timedelta(seconds=60)
            stmt = stmt.where(Contact.updated_at >= lookback)
        rows = session.execute(stmt).all()
        if not rows:
            return 0
        table = pa.table(
            {
                "id": [r[0] for r in rows],
                "merged_into_id": [r[1] for r in rows],
                "first_channel_id": [r[2] for r in rows],
                "first_entry_code_id": [r[3] for r in rows],
                "created_at": [r[4].replace(tzinfo=None) for r in rows],
            }
        )
        self.conn.register("incoming_contacts", table)
        self.conn.execute("INSERT OR REPLACE INTO contacts SELECT * FROM incoming_contacts")
        self.conn.unregister("incoming_contacts")
        self._set("contacts_updated_us", int(rows[-1][5].timestamp() * 1e6))
        session.rollback()
        return len(rows)

    def _feed_merges(self, session: Session) -> int:
        """Replay new merges as one set-based UPDATE (chains resolved to final survivors)."""
        cursor = self._get("merges")
        rows = session.execute(
            select(ContactMerge.id, ContactMerge.survivor_id, ContactMerge.absorbed_id)
            .where(ContactMerge.id > cursor)
            .order_by(ContactMerge.id)
        ).all()
        session.rollback()
        if not rows:
            return 0
        to: dict[int, int] = {}
        for _, survivor, absorbed in rows:
            to[absorbed] = survivor
        for absorbed in to:
            final = to[absorbed]
            while final in to:
                final = to[final]
            to[absorbed] = final
        moves = pa.table({"absorbed": list(to), "survivor": list(to.values())})
        self.conn.register("merge_moves", moves)
        self.conn.execute(
            "UPDATE events SET contact_id = m.survivor FROM merge_moves m "
            "WHERE events.contact_id = m.absorbed"
        )
        self.conn.unregister("merge_moves")
        self._set("merges", rows[-1][0])
        return len(rows)

    def _feed_removals(self, session: Session) -> int:
        """Remove what the system of record removed (``warehouse_removals``), after the events
        of this feed were shipped, so an event read just before its deletion goes too."""
        cursor = self._get("removals")
        dialect = session.get_bind().dialect.name
        low = max(cursor - (LOOKBACK_REMOVALS if dialect == "postgresql" else 0), 0)
        rows = session.execute(
            select(WarehouseRemoval.id, WarehouseRemoval.kind, WarehouseRemoval.criteria)
            .where(WarehouseRemoval.id > low)
            .order_by(WarehouseRemoval.id)
        ).all()
        session.rollback()
        for _, kind, criteria in rows:
            if kind == "events":  # contacts are erased through warehouse.erasures instead
                self._remove_events(criteria)
        if rows:
            self._set("removals", max(cursor, rows[-1][0]))
        return sum(1 for r in rows if r[0] > cursor)

    def _remove_events(self, c: dict[str, Any]) -> None:
        before = datetime.fromisoformat(c["before"]).astimezone(UTC).replace(tzinfo=None)
        sql = "DELETE FROM events WHERE id > ? AND id <= ? AND timestamp < ?"
        params: list[Any] = [c["after_id"], c["through_id"], before]
        if c.get("event") is not None:
            sql += " AND event = ?"
            params.append(c["event"])
        elif c.get("except"):
            sql += " AND (event IS NULL OR NOT list_contains(?, event))"
            params.append(list(c["except"]))
        self.conn.execute(sql, params)

    def rebuild(self, db: Database, batch_size: int = 200_000) -> FeedResult:
        """Drop and reload everything from the system of record."""
        state = "".join(f"DROP TABLE IF EXISTS {m.table}; " for m in MIRRORS)
        self.conn.execute(
            "DROP TABLE IF EXISTS events; DROP TABLE IF EXISTS contacts; DROP TABLE IF EXISTS feed_state; "
            f"DROP TABLE IF EXISTS contact_changes; {state}"
        )
        self.conn.execute(SCHEMA)
        self.conn.execute(STATE_SCHEMA)
        with db.sessionmaker() as session:  # the system of record no longer holds what they removed
            done = session.scalar(select(func.max(WarehouseRemoval.id)))
        self._set("removals", int(done or 0))
        result = self.feed(db, batch_size)
        # Merges already moved events in the system of record; replaying them is a no-op but
        # keeps the cursor where the next feed expects it.
        return result

    def load_arrow(self, events: pa.Table) -> None:
        """Bulk path for generated data: append events already resolved to contacts."""
        self.conn.register("bulk_events", events)
        self.conn.execute("INSERT INTO events SELECT * FROM bulk_events")
        self.conn.unregister("bulk_events")
        top = self.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchall()
        self._set("events", int(top[0][0]))

    # --- reading ----------------------------------------------------------------------------
    def _count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
