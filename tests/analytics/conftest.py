"""Warehouse fixtures for analytics tests: the same hand-made events loaded into DuckDB and,
when ``SIYU_TEST_DATABASE_URL`` is set, into a PostgreSQL schema, so every definition is
checked on both engines with the same runner code."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest
from sqlalchemy import Engine, create_engine, text
from tests.conftest import PG_URL

from siyu.analytics.base import DuckDBSource, PostgresSource, Source
from siyu.warehouse.state import STATE_SCHEMA
from siyu.warehouse.store import SCHEMA

ENGINES = ["duckdb", "postgresql"] if PG_URL else ["duckdb"]
SNAPSHOTS = Path(__file__).parent / "snapshots"
T0 = datetime(2026, 1, 5)  # a Monday


def day(n: float, hour: float = 0) -> datetime:
    """``T0`` plus ``n`` days and ``hour`` hours (fixtures read as "day 3 at 10:00")."""
    return T0 + timedelta(days=n, hours=hour)


# PostgreSQL versions of the warehouse tables (what the DuckDB schema declares, in PG types).
PG_SCHEMA = """
CREATE TABLE events (id BIGINT PRIMARY KEY, message_id TEXT NOT NULL, contact_id BIGINT NOT NULL,
    source_id BIGINT, type TEXT NOT NULL, event TEXT, properties JSONB, context JSONB,
    timestamp TIMESTAMP NOT NULL, received_at TIMESTAMP NOT NULL);
CREATE TABLE contacts (id BIGINT PRIMARY KEY, merged_into_id BIGINT, first_channel_id BIGINT,
    first_entry_code_id BIGINT, created_at TIMESTAMP NOT NULL);
CREATE TABLE contact_changes (id BIGINT, contact_id BIGINT);
CREATE TABLE contact_attributes (contact_id BIGINT, name TEXT, value JSONB);
CREATE TABLE contact_tags (contact_id BIGINT, tag_id BIGINT, weight DOUBLE PRECISION, weighted_at TIMESTAMP);
CREATE TABLE consent_records (contact_id BIGINT, id BIGINT, purpose TEXT, channel TEXT, granted BOOLEAN,
    occurred_at TIMESTAMP);
CREATE TABLE touches (contact_id BIGINT, channel_id BIGINT, entry_code_id BIGINT, occurred_at TIMESTAMP);
CREATE TABLE contact_stages (contact_id BIGINT, stage TEXT, since TIMESTAMP);
CREATE TABLE contact_rfm (contact_id BIGINT, recency_days DOUBLE PRECISION, frequency BIGINT,
    monetary DOUBLE PRECISION, r INTEGER, f INTEGER, m INTEGER, segment TEXT);
CREATE TABLE segment_members (segment_id BIGINT, contact_id BIGINT);
"""
_COLUMNS = {
    "events": (
        "id",
        "message_id",
        "contact_id",
        "source_id",
        "type",
        "event",
        "properties",
        "context",
        "timestamp",
        "received_at",
    ),
    "contacts": ("id", "merged_into_id", "first_channel_id", "first_entry_code_id", "created_at"),
    "contact_attributes": ("contact_id", "name", "value"),
    "touches": ("contact_id", "channel_id", "entry_code_id", "occurred_at"),
    "contact_tags": ("contact_id", "tag_id", "weight", "weighted_at"),
}
_JSON = {"properties", "context", "value"}


class Warehouse:
    """Hand-made warehouse contents, loaded into one engine.

    ``events`` rows are ``(contact_id, event, timestamp)`` or ``(contact_id, event, timestamp,
    properties)``; contacts missing from ``contacts`` are created at their first event's time.
    """

    def __init__(self, engine: str, tmp: Path) -> None:
        self.engine = engine
        self.tmp = tmp
        self._pg: Engine | None = None
        self._schema = ""
        self._duck: duckdb.DuckDBPyConnection | None = None

    def load(
        self,
        events: list[tuple[Any, ...]],
        contacts: list[dict[str, Any]] | None = None,
        attributes: list[tuple[int, str, Any]] | None = None,
        touches: list[tuple[int, int, datetime]] | None = None,
    ) -> Source:
        rows: dict[str, list[dict[str, Any]]] = {k: [] for k in _COLUMNS}
        first_seen: dict[int, datetime] = {}
        for i, ev in enumerate(events, start=1):
            cid, name, ts = ev[0], ev[1], ev[2]
            props = ev[3] if len(ev) > 3 else {}
            first_seen[cid] = min(first_seen.get(cid, ts), ts)
            rows["events"].append(
                {
                    "id": i,
                    "message_id": f"m{i}",
                    "contact_id": cid,
                    "source_id": None,
                    "type": "track",
                    "event": name,
                    "properties": props,
                    "context": {},
                    "timestamp": ts,
                    "received_at": ts,
                }
            )
        given = {c["id"]: c for c in contacts or []}
        for cid, ts in first_seen.items():
            given.setdefault(cid, {"id": cid, "created_at": ts})
        for c in given.values():
            rows["contacts"].append(
                {"merged_into_id": None, "first_channel_id": None, "first_entry_code_id": None, **c}
            )
        for cid, name, value in attributes or []:
            rows["contact_attributes"].append({"contact_id": cid, "name": name, "value": value})
        for cid, channel, ts in touches or []:
            rows["touches"].append(
                {"contact_id": cid, "channel_id": channel, "entry_code_id": None, "occurred_at": ts}
            )
        return self._duckdb(rows) if self.engine == "duckdb" else self._postgres(rows)

    def _duckdb(self, rows: dict[str, list[dict[str, Any]]]) -> Source:
        conn = duckdb.connect()
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(SCHEMA)
        conn.execute(STATE_SCHEMA)
        for name, cols in _COLUMNS.items():
            if not rows[name]:
                continue
            data = [
                {c: (orjson.dumps(r.get(c)).decode() if c in _JSON else r.get(c)) for c in cols}
                for r in rows[name]
            ]
            conn.register("incoming", pa.Table.from_pylist(data))
            conn.execute(f"INSERT INTO {name} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM incoming")
            conn.unregister("incoming")
        self._duck = conn
        return DuckDBSource(conn)

    def _postgres(self, rows: dict[str, list[dict[str, Any]]]) -> Source:
        assert PG_URL is not None
        self._schema = f"a_{uuid.uuid4().hex[:12]}"
        self._pg = create_engine(PG_URL)
        with self._pg.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self._schema}"'))
            conn.execute(text(f'SET LOCAL search_path TO "{self._schema}"'))
            for stmt in PG_SCHEMA.split(";"):
                if stmt.strip():
                    conn.execute(text(stmt))
            for name, cols in _COLUMNS.items():
                if not rows[name]:
                    continue
                values = ", ".join(f"CAST(:{c} AS JSONB)" if c in _JSON else f":{c}" for c in cols)
                conn.execute(
                    text(f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({values})"),
                    [
                        {c: (orjson.dumps(r.get(c)).decode() if c in _JSON else r.get(c)) for c in cols}
                        for r in rows[name]
                    ],
                )
        return PostgresSource(self._pg, self._schema)

    def close(self) -> None:
        if self._duck is not None:
            self._duck.close()
        if self._pg is not None:
            with self._pg.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self._schema}" CASCADE'))
            self._pg.dispose()


@pytest.fixture(params=ENGINES)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Warehouse]:
    """Load events with ``warehouse.load(...)``; runs once per engine."""
    wh = Warehouse(request.param, tmp_path)
    yield wh
    wh.close()


@pytest.fixture
def snapshot(request: pytest.FixtureRequest) -> Any:
    """``snapshot(name, sql_list)`` compares generated SQL with ``snapshots/<name>.sql``;
    ``SIYU_UPDATE_SNAPSHOTS=1`` rewrites the file (review the diff in the commit)."""

    def check(name: str, statements: list[str]) -> None:
        path = SNAPSHOTS / f"{name}.sql"
        body = "\n;\n".join(s.strip() for s in statements) + "\n"
        if os.environ.get("SIYU_UPDATE_SNAPSHOTS") or not path.exists():
            if not os.environ.get("SIYU_UPDATE_SNAPSHOTS") and os.environ.get("CI"):
                raise AssertionError(f"missing SQL snapshot {path.name}")
            path.write_text(body)
            return
        assert body == path.read_text(), f"generated SQL changed; review and update {path.name}"

    return check
