"""Fixtures of the segment tests.

``env``: a system of record (SQLite, and PostgreSQL when ``SIYU_TEST_DATABASE_URL`` is set) with
its DuckDB warehouse and helpers to write profile state the way capabilities do (rows plus
``note_changed``, commit, feed). ``world``: a varied, seeded data set built once per module and
backend, with an independent Python model of every condition (``world.expect``) that the
compiler's answers are compared with. The model follows the documented semantics; it never calls
the compiler.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, delete, select, text

from siyu.client import Siyu
from siyu.consent.service import ConsentService
from siyu.context import AppContext
from siyu.segments.service import SegmentService
from siyu.store.changes import note_changed
from siyu.store.models import ContactRfm, ContactStage, ContactTag, Event, Identity, Tag
from siyu.warehouse.state import MIRRORS
from siyu.warehouse.store import Warehouse

PG_URL = os.environ.get("SIYU_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
TEST_KEY = base64.b64encode(b"k" * 32).decode()
#: The fixed evaluation time of every test (a Thursday in a non-leap year).
AS_OF = datetime(2025, 2, 20, 12, 0, tzinfo=UTC)
WAREHOUSE_TABLES = ("events", "contacts", "feed_state", "contact_changes", *(m.table for m in MIRRORS))


def _load(name: str) -> Any:
    """A helper module next to this file (importlib mode puts no test directory on sys.path)."""
    spec = importlib.util.spec_from_file_location(
        f"siyu_tests_segments_{name}", Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


world_model = _load("world_model")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


class Env:
    """A system of record and its warehouse. Every write commits and then feeds the warehouse,
    as the capabilities' callers do."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.wh = Warehouse(ctx.settings.resolved_warehouse_path)
        self._mid = 0

    def close(self) -> None:
        self.wh.close()

    def feed(self) -> None:
        self.wh.feed(self.ctx.db)

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A unit of work: commit, then feed."""
        with self.ctx.db.session() as s:
            yield s
        self.feed()

    @contextmanager
    def service(self) -> Iterator[SegmentService]:
        with self.session() as s:
            yield SegmentService(s, self.wh)

    # --- reading ---------------------------------------------------------------------------
    def preview_ids(self, definition: Any, as_of: datetime | None = AS_OF) -> list[int]:
        """Every member (a sample as large as the contact table), checked against the count."""
        with self.ctx.db.session() as s:
            p = SegmentService(s, self.wh).preview(definition, sample=1_000_000, as_of=as_of)
        assert p.count == len(p.sample)
        assert p.sample == sorted(p.sample)
        return p.sample

    def counts(self) -> dict[str, int]:
        return {
            t: int(self.wh.conn.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0])
            for t in WAREHOUSE_TABLES
        }

    def contact_ids(self) -> dict[str, int]:
        """customer_no (the calls' ``userId``) → contact id."""
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Identity.value, Identity.contact_id).where(Identity.type == "customer_no")
            ).all()
        return {str(v): int(c) for v, c in rows}

    def live_contacts(self) -> list[int]:
        return [
            r[0]
            for r in self.wh.conn.execute(
                "SELECT id FROM contacts WHERE merged_into_id IS NULL ORDER BY id"
            ).fetchall()
        ]

    def system_events(self, after_id: int = 0) -> list[tuple[int, str, int, dict[str, Any]]]:
        """(id, event, contact, properties) of segment.entered / segment.exited after an id."""
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Event.id, Event.event, Event.contact_id, Event.properties)
                .where(Event.id > after_id, Event.event.in_(["segment.entered", "segment.exited"]))
                .order_by(Event.id)
            ).all()
        return [(int(i), str(e), int(c), dict(p or {})) for i, e, c, p in rows]

    def max_event_id(self) -> int:
        with self.ctx.db.session() as s:
            return int(s.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0)

    # --- writing ---------------------------------------------------------------------------
    def call(self, kind: str, uid: str, at: datetime, **fields: Any) -> dict[str, Any]:
        """One Segment-spec call of customer ``uid`` (its ``userId``: a customer_no)."""
        self._mid += 1
        return {"type": kind, "userId": uid, "messageId": f"t-{self._mid}", "timestamp": iso(at), **fields}

    def batch(self, calls: list[dict[str, Any]]) -> None:
        result = Siyu(self.ctx).batch(calls)
        assert result.rejected == [], result.rejected
        self.feed()

    def add_tags(
        self, rows: list[tuple[int, str, float, datetime]], half_lives: dict[str, float] | None = None
    ) -> None:
        """(contact, tag key, weight, weighted_at) rows; tags are created on first use."""
        with self.session() as s:
            known = dict(s.execute(select(Tag.key, Tag.id)).all())
            for key in sorted({r[1] for r in rows} - set(known)):
                tag = Tag(key=key, name=key.rsplit("/", 1)[-1], half_life_days=(half_lives or {}).get(key))
                s.add(tag)
                s.flush()
                known[key] = tag.id
            for cid, key, weight, at in rows:
                s.merge(
                    ContactTag(
                        contact_id=cid,
                        tag_id=known[key],
                        weight=weight,
                        source="manual",
                        applied_at=at - timedelta(days=30),
                        weighted_at=at,
                    )
                )
            note_changed(s, [r[0] for r in rows])

    def remove_tag(self, cid: int, key: str) -> None:
        with self.session() as s:
            tag_id = s.scalar(select(Tag.id).where(Tag.key == key))
            s.execute(delete(ContactTag).where(ContactTag.contact_id == cid, ContactTag.tag_id == tag_id))
            note_changed(s, [cid])

    def consent(self, records: list[tuple[int, str, str, bool, datetime]]) -> None:
        """(contact, purpose, channel, granted, occurred_at), recorded in this order."""
        with self.session() as s:
            svc = ConsentService(s)
            for cid, purpose, channel, granted, at in records:
                svc.record(cid, purpose, channel, granted, "test", at=at)
                s.flush()  # ids follow the order of the list

    def stages(self, rows: dict[int, str]) -> None:
        with self.session() as s:
            for cid, stage in rows.items():
                s.merge(ContactStage(contact_id=cid, stage=stage, since=AS_OF))
            note_changed(s, rows)

    def rfm(self, rows: dict[int, tuple[int, int, int, str]]) -> None:
        with self.session() as s:
            for cid, (r, f, m, segment) in rows.items():
                s.merge(
                    ContactRfm(
                        contact_id=cid,
                        recency_days=float(6 - r) * 10,
                        frequency=f,
                        monetary=float(m) * 100,
                        r=r,
                        f=f,
                        m=m,
                        segment=segment,
                        computed_at=AS_OF,
                    )
                )
            note_changed(s, rows)


# --- contexts --------------------------------------------------------------------------------
@contextmanager
def _context(backend: str, tmp: Path) -> Iterator[AppContext]:
    """Like the ``ctx`` fixture, for module-scoped data sets."""
    schema = None
    url = f"sqlite:///{tmp / 'siyu.db'}"
    if backend == "postgresql":
        assert PG_URL is not None
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    from siyu.config import Settings

    ctx = AppContext.from_settings(Settings(data_dir=tmp / "data", database_url=url, secret_key=TEST_KEY))
    try:
        ctx.db.upgrade()
        yield ctx
    finally:
        ctx.close()
        if schema is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture
def env(ctx: AppContext) -> Iterator[Env]:
    e = Env(ctx)
    yield e
    e.close()


@pytest.fixture(scope="module", params=BACKENDS)
def module_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """One environment for a whole module (tests that only read, or roll back what they write)."""
    with _context(request.param, tmp_path_factory.mktemp("env")) as ctx:
        e = Env(ctx)
        try:
            yield e
        finally:
            e.close()


@pytest.fixture(scope="module")
def world(module_env: Env) -> Any:
    return world_model.build_world(module_env, AS_OF)
