"""The deterministic demo brand: same seed → same data; merges run through the engine and reach
the warehouse; every contact has a first touch; orders look like buy-till-you-die; no plaintext
phone on disk; a second run is refused; PostgreSQL sequences continue after the bulk insert.

Expectations are read back from the system of record and the warehouse independently of the
generator's own summary, which is checked against them."""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import create_engine, func, select, text

from siyu.client import Siyu
from siyu.config import Settings
from siyu.context import AppContext
from siyu.demo.generator import DemoConfig, generate
from siyu.store.models import Base, Contact, ContactMerge, EntryCode, Event, Identity, Touch

PG_URL = os.environ.get("SIYU_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
KEY = base64.b64encode(b"d" * 32).decode()
END = datetime(2024, 6, 1, tzinfo=UTC)
BIG = DemoConfig(contacts=3000, days=30, seed=7, end=END)  # seed 7 splits 11 persons at this size


@contextmanager
def fresh_context(backend: str, directory: Path, key: str = KEY) -> Iterator[AppContext]:
    """A new, empty data directory (and PostgreSQL schema) of its own."""
    schema = None
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'siyu.db'}"
    else:
        assert PG_URL is not None
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in PG_URL else "?"
        url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    ctx = AppContext.from_settings(Settings(data_dir=directory, database_url=url, secret_key=key))
    try:
        yield ctx
    finally:
        ctx.close()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def big(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AppContext, dict[str, Any]]]:
    """One 3,000-contact demo per backend, shared by the read-only checks below."""
    with fresh_context(request.param, tmp_path_factory.mktemp("demo")) as ctx:
        yield ctx, generate(ctx, BIG)


def snapshot(ctx: AppContext) -> dict[str, list[tuple[Any, ...]]]:
    """The generated content, minus what is random by design (AES-GCM nonces) or wall-clock
    time (``updated_at`` of absorbed contacts is the moment of the merge)."""
    with ctx.db.session() as s:
        return {
            "contacts": [
                tuple(r)
                for r in s.execute(
                    select(
                        Contact.id,
                        Contact.merged_into_id,
                        Contact.first_channel_id,
                        Contact.first_entry_code_id,
                        Contact.created_at,
                    ).order_by(Contact.id)
                )
            ],
            "identities": [
                tuple(r)
                for r in s.execute(
                    select(
                        Identity.id,
                        Identity.contact_id,
                        Identity.type,
                        Identity.scope,
                        Identity.lookup,
                        Identity.value,
                        Identity.created_at,
                    ).order_by(Identity.id)
                )
            ],
            "events": [
                (r[0], r[1], r[2], r[3], r[4], r[5])
                for r in s.execute(
                    select(
                        Event.id,
                        Event.message_id,
                        Event.contact_id,
                        Event.event,
                        Event.timestamp,
                        Event.properties,
                    ).order_by(Event.id)
                )
            ],
            "merges": [
                tuple(r)
                for r in s.execute(
                    select(
                        ContactMerge.survivor_id,
                        ContactMerge.absorbed_id,
                        ContactMerge.reason,
                        ContactMerge.occurred_at,
                    ).order_by(ContactMerge.id)
                )
            ],
            "touches": [
                tuple(r)
                for r in s.execute(
                    select(
                        Touch.contact_id,
                        Touch.channel_id,
                        Touch.entry_code_id,
                        Touch.is_first,
                        Touch.occurred_at,
                    ).order_by(Touch.id)
                )
            ],
        }


def warehouse_rows(ctx: AppContext, sql: str) -> list[tuple[Any, ...]]:
    conn = duckdb.connect(str(ctx.settings.resolved_warehouse_path), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- determinism -------------------------------------------------------------------------------


def test_same_seed_gives_identical_data_and_another_seed_differs(ctx: AppContext, tmp_path: Path) -> None:
    config = DemoConfig(contacts=600, days=20, seed=11, end=END)
    backend, key = ctx.db.dialect, ctx.settings.secret_key
    first = generate(ctx, config)
    a = snapshot(ctx)
    with fresh_context(backend, tmp_path / "again", key) as other:
        second = generate(other, config)
        b = snapshot(other)
        wh_a = warehouse_rows(
            ctx, "SELECT id, message_id, contact_id, event, timestamp FROM events ORDER BY id"
        )
        wh_b = warehouse_rows(
            other, "SELECT id, message_id, contact_id, event, timestamp FROM events ORDER BY id"
        )
    with fresh_context(backend, tmp_path / "other-seed", key) as third:
        generate(third, DemoConfig(contacts=600, days=20, seed=12, end=END))
        c = snapshot(third)

    assert first == second
    assert len(a["contacts"]) >= 600 and len(a["events"]) > 600 and len(a["identities"]) >= 600
    for table in a:
        assert a[table] == b[table], table
    assert wh_a == wh_b and len(wh_a) == len(a["events"])

    # Another seed: other acquisition times, other identifiers, other behaviour.
    assert [r[4] for r in a["contacts"]] != [r[4] for r in c["contacts"]]
    assert {r[4] for r in a["identities"]}.isdisjoint({r[4] for r in c["identities"]})
    assert [(r[3], r[4]) for r in a["events"]] != [(r[3], r[4]) for r in c["events"]]


# --- the 3,000-contact brand -------------------------------------------------------------------


def test_summary_matches_the_stored_data(big: tuple[AppContext, dict[str, Any]]) -> None:
    ctx, result = big
    with ctx.db.session() as s:
        live = s.scalar(select(func.count()).select_from(Contact).where(Contact.merged_into_id.is_(None)))
        rows = s.scalar(select(func.count()).select_from(Contact))
        events = s.scalar(select(func.count()).select_from(Event))
        identities = s.scalar(select(func.count()).select_from(Identity))
        orders = s.scalar(select(func.count()).select_from(Event).where(Event.event == "Order Completed"))
        first_ts, last_ts = s.execute(select(func.min(Event.timestamp), func.max(Event.timestamp))).one()
    assert result["contacts"] == live == BIG.contacts
    assert result["contact_rows"] == rows == BIG.contacts + result["merges"]
    assert result["events"] == events
    assert result["identities"] == identities
    assert result["orders"] == orders
    start = END - timedelta(days=BIG.days)
    assert result["start"] == start.isoformat() and result["end"] == END.isoformat()
    assert start <= first_ts and last_ts < END


def test_merges_are_recorded_and_events_follow_survivors(big: tuple[AppContext, dict[str, Any]]) -> None:
    ctx, result = big
    assert result["merges"] > 0
    with ctx.db.session() as s:
        merges = s.execute(select(ContactMerge.survivor_id, ContactMerge.absorbed_id)).all()
        merged = dict(
            s.execute(
                select(Contact.id, Contact.merged_into_id).where(Contact.merged_into_id.is_not(None))
            ).all()
        )
        event_owners = set(s.scalars(select(Event.contact_id).distinct()))
        identity_owners = set(s.scalars(select(Identity.contact_id).distinct()))
        touch_owners = set(s.scalars(select(Touch.contact_id).distinct()))
    assert len(merges) == result["merges"]
    assert merged == {absorbed: survivor for survivor, absorbed in merges}
    assert not set(merged) & set(merged.values())  # no chains: survivors are live
    assert event_owners.isdisjoint(merged)
    assert identity_owners.isdisjoint(merged)
    assert touch_owners.isdisjoint(merged)
    # Every survivor holds the identifiers of both halves of the split person.
    with ctx.db.session() as s:
        for survivor in set(merged.values()):
            kinds = set(s.scalars(select(Identity.type).where(Identity.contact_id == survivor)))
            assert {"phone", "wechat_unionid"} <= kinds


def test_every_live_contact_has_a_first_channel_and_a_first_touch(
    big: tuple[AppContext, dict[str, Any]],
) -> None:
    ctx, _ = big
    with ctx.db.session() as s:
        live = s.execute(
            select(
                Contact.id, Contact.first_channel_id, Contact.first_entry_code_id, Contact.created_at
            ).where(Contact.merged_into_id.is_(None))
        ).all()
        first_touches: dict[int, list[tuple[Any, ...]]] = {}
        for cid, ch, code, occurred in s.execute(
            select(Touch.contact_id, Touch.channel_id, Touch.entry_code_id, Touch.occurred_at).where(
                Touch.is_first.is_(True)
            )
        ):
            first_touches.setdefault(cid, []).append((ch, code, occurred))
        code_channel = dict(s.execute(select(EntryCode.id, EntryCode.channel_id)).all())
    assert len(live) == BIG.contacts
    for cid, channel, code, created in live:
        assert channel is not None, cid
        assert code is not None and code_channel[code] == channel, cid
        assert cid in first_touches, cid
        assert (channel, code, created) in first_touches[cid], cid
    # Acquisition is spread over every demo channel.
    assert len({row[1] for row in live}) >= 8


def test_warehouse_holds_every_event_on_live_contacts(big: tuple[AppContext, dict[str, Any]]) -> None:
    ctx, result = big
    with ctx.db.session() as s:
        sor = s.execute(select(Event.id, Event.contact_id).order_by(Event.id)).all()
        absorbed = set(s.scalars(select(Contact.id).where(Contact.merged_into_id.is_not(None))))
    wh = warehouse_rows(ctx, "SELECT id, contact_id FROM events ORDER BY id")
    assert len(wh) == len(sor) == result["events"]
    assert {cid for _, cid in wh}.isdisjoint(absorbed)
    assert [tuple(r) for r in wh] == [tuple(r) for r in sor]
    contacts = warehouse_rows(ctx, "SELECT count(*), count(merged_into_id) FROM contacts")
    assert contacts == [(result["contact_rows"], result["merges"])]


def test_orders_follow_buy_till_you_die(big: tuple[AppContext, dict[str, Any]]) -> None:
    ctx, _ = big
    with ctx.db.session() as s:
        orders = s.execute(
            select(Event.contact_id, Event.timestamp, Event.properties).where(
                Event.event == "Order Completed"
            )
        ).all()
        created = dict(
            s.execute(select(Contact.id, Contact.created_at).where(Contact.merged_into_id.is_(None))).all()
        )
    assert orders
    per_contact = Counter(cid for cid, _, _ in orders)
    distribution = Counter(per_contact.get(cid, 0) for cid in created)
    repeaters = sum(n for k, n in distribution.items() if k >= 2)
    assert repeaters >= 0.03 * len(created)  # some buy again and again
    assert distribution[0] + distribution[1] >= 0.7 * len(created)  # most buy once or never
    assert distribution[0] > distribution[1] > distribution[2] > 0  # a long tail
    assert max(per_contact.values()) >= 5
    amounts = []
    order_ids = set()
    for cid, ts, props in orders:
        assert ts >= created[cid]  # no purchase before acquisition
        assert set(props) >= {"order_id", "amount", "items"}
        amounts.append(props["amount"])
        order_ids.add(props["order_id"])
    assert all(isinstance(a, int | float) and a > 0 for a in amounts)
    assert len(order_ids) == len(orders)
    assert 10 < sum(amounts) / len(amounts) < 500


def _stored_bytes(ctx: AppContext) -> bytes:
    """Everything the database holds: the SQLite files, or every PostgreSQL row as text."""
    if ctx.db.dialect == "sqlite":
        db_file = Path(ctx.db.engine.url.database or "")
        files = (db_file, db_file.with_name(db_file.name + "-wal"))
        return b"".join(p.read_bytes() for p in files if p.exists())
    with ctx.db.session() as s:
        return b"".join(
            "\n".join(s.execute(text(f"SELECT CAST(t AS TEXT) FROM {table} t")).scalars()).encode()
            for table in Base.metadata.tables
        )


def test_no_plaintext_phone_is_stored(big: tuple[AppContext, dict[str, Any]]) -> None:
    ctx, _ = big
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        pii = [
            (i.type, profiles.reveal(i))
            for i in s.scalars(select(Identity).where(Identity.type.in_(["phone", "email"])))
        ]
        unionids = s.scalars(select(Identity.value).where(Identity.type == "wechat_unionid")).all()
        # The generator's own values are stored encrypted only.
        plain = s.scalar(
            select(func.count())
            .select_from(Identity)
            .where(Identity.type.in_(["phone", "email"]), Identity.value.is_not(None))
        )
    assert plain == 0
    phones = [v for kind, v in pii if kind == "phone"]
    emails = [v for kind, v in pii if kind == "email"]
    assert len(phones) > 1000 and all(p.startswith("+86") and len(p) == 14 for p in phones)
    blob = _stored_bytes(ctx)
    assert len(blob) > 100_000
    # Control: identifiers that are stored in clear (unionids) are found by reading these files.
    assert unionids and all(u.encode() in blob for u in unionids[:20])
    # Every run of 11 digits in the file (overlapping), and every "+86" number, against the phones.
    windows = {m.group(1).decode() for m in re.finditer(rb"(?=(\d{11}))", blob)}
    e164 = {m.group(0).decode() for m in re.finditer(rb"\+86\d{11}", blob)}
    assert sorted(set(phones) & e164) == []
    assert sorted({p[3:] for p in phones} & windows) == []
    addresses = {m.group(0).decode() for m in re.finditer(rb"[\w.+-]+@[\w-]+\.[\w.]+", blob)}
    assert sorted(set(emails) & addresses) == []


# --- runs that write -----------------------------------------------------------------------------


def test_generating_twice_into_the_same_data_dir_is_refused(ctx: AppContext) -> None:
    config = DemoConfig(contacts=300, days=10, seed=3, end=END)
    first = generate(ctx, config)
    before = snapshot(ctx)
    with pytest.raises(ValueError, match=r"already holds 300 contacts.*empty data directory"):
        generate(ctx, config)
    assert snapshot(ctx) == before
    count = warehouse_rows(ctx, "SELECT count(*) FROM events")
    assert count == [(first["events"],)]


def test_ids_continue_after_the_bulk_insert(ctx: AppContext) -> None:
    """On PostgreSQL the bulk insert writes explicit ids; the sequences must move past them so
    ordinary writes afterwards do not collide (on SQLite this holds by construction)."""
    generate(ctx, DemoConfig(contacts=400, days=10, seed=5, end=END))
    with ctx.db.session() as s:
        tops = {
            name: s.scalar(select(func.max(model.id)))
            for name, model in (
                ("contacts", Contact),
                ("identities", Identity),
                ("events", Event),
                ("touches", Touch),
            )
        }
    client = Siyu(ctx)
    result = client.batch(
        [
            {
                "type": "identify",
                "messageId": "after-demo-1",
                "identifiers": {"phone": "+8619912345678", "email": "after.demo@example.org"},
                "context": {"state": "demo-wecom-main"},
                "traits": {"name": "new fan"},
            },
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": "after-demo-2",
                "identifiers": {"phone": "+8619912345678"},
                "properties": {"amount": 18.5},
            },
        ]
    )
    assert result.rejected == [] and result.accepted == 2 and result.contacts_created == 1
    with ctx.db.session() as s:
        cid = ctx.profiles(s).resolve(ctx.parser.parse("phone", "+8619912345678"))
        assert cid is not None and cid > tops["contacts"]
        new_identities = s.scalars(select(Identity.id).where(Identity.contact_id == cid)).all()
        assert len(new_identities) == 2 and min(new_identities) > tops["identities"]
        new_events = s.scalars(
            select(Event.id).where(Event.message_id.in_(["after-demo-1", "after-demo-2"]))
        ).all()
        assert len(new_events) == 2 and min(new_events) > tops["events"]
        touches = s.scalars(select(Touch.id).where(Touch.contact_id == cid)).all()
        assert len(touches) == 1 and touches[0] > tops["touches"]
    # A second new contact through the ORM path too.
    again = client.identify({"phone": "+8619912345679"})
    assert again.contacts_created == 1
    # And the warehouse picks both events up.
    fed = client.feed_warehouse()
    assert fed.events == 3
    assert json.loads(
        warehouse_rows(
            ctx, "SELECT CAST(properties AS VARCHAR) FROM events WHERE message_id = 'after-demo-2'"
        )[0][0]
    ) == {"amount": 18.5}
