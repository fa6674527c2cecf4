"""The DuckDB warehouse feeder: it ships exactly the system of record's events and contacts,
incrementally, replays merges so events follow survivors (chains included), rebuilds to the
same content, and refuses clearly when another process holds the file.

Expectations are read from the system of record (SOR) independently of the feeder and compared
row by row with what DuckDB holds."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sqlalchemy import select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Contact, Event
from siyu.warehouse.store import FeedResult, Warehouse, WarehouseBusy

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

EventRow = tuple[Any, ...]


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def phone(n: int) -> str:
    return f"+86139{n:08d}"


def _naive(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def _json(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value


def feed(ctx: AppContext, batch_size: int | None = None) -> FeedResult:
    wh = Warehouse(ctx.settings.resolved_warehouse_path)
    try:
        return wh.feed(ctx.db, batch_size or ctx.settings.warehouse_batch_size)
    finally:
        wh.close()


def rebuild(ctx: AppContext) -> FeedResult:
    wh = Warehouse(ctx.settings.resolved_warehouse_path)
    try:
        return wh.rebuild(ctx.db)
    finally:
        wh.close()


def query(ctx: AppContext, sql: str) -> list[tuple[Any, ...]]:
    conn = duckdb.connect(str(ctx.settings.resolved_warehouse_path), read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def wh_events(ctx: AppContext) -> list[EventRow]:
    rows = query(
        ctx,
        "SELECT id, message_id, contact_id, source_id, type, event, CAST(properties AS VARCHAR), "
        "CAST(context AS VARCHAR), timestamp, received_at FROM events ORDER BY id",
    )
    return [(*r[:6], _json(r[6]), _json(r[7]), r[8], r[9]) for r in rows]


def sor_events(ctx: AppContext) -> list[EventRow]:
    with ctx.db.session() as s:
        events = s.scalars(select(Event).order_by(Event.id)).all()
        return [
            (
                e.id,
                e.message_id,
                e.contact_id,
                e.source_id,
                e.type,
                e.event,
                e.properties,
                e.context,
                _naive(e.timestamp),
                _naive(e.received_at),
            )
            for e in events
        ]


def wh_contacts(ctx: AppContext) -> list[tuple[Any, ...]]:
    return query(
        ctx,
        "SELECT id, merged_into_id, first_channel_id, first_entry_code_id, created_at "
        "FROM contacts ORDER BY id",
    )


def sor_contacts(ctx: AppContext) -> list[tuple[Any, ...]]:
    with ctx.db.session() as s:
        return [
            (c.id, c.merged_into_id, c.first_channel_id, c.first_entry_code_id, _naive(c.created_at))
            for c in s.scalars(select(Contact).order_by(Contact.id))
        ]


def track(n: int, minute: float, event: str = "Page Viewed", **kw: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "messageId": f"m-{n}-{minute}-{event}",
        "identifiers": {"phone": phone(n)},
        "timestamp": at(minute),
        "properties": {"n": n, "minute": minute},
        **kw,
    }


def seed_events(client: Siyu, people: range, per_person: int, start: float = 0) -> int:
    calls: list[dict[str, Any]] = []
    for n in people:
        calls.append(
            {
                "type": "identify",
                "messageId": f"id-{n}-{start}",
                "identifiers": {"phone": phone(n)},
                "traits": {"name": f"fan {n}", "level": n % 3},
                "timestamp": at(start),
            }
        )
        for k in range(per_person):
            calls.append(
                track(n, start + k + 1, "Order Completed" if k % 4 == 3 else "Page Viewed", context={"k": k})
            )
    result = client.batch(calls)
    assert result.rejected == []
    assert result.accepted == len(calls)
    return len(calls)


def assert_warehouse_matches_sor(ctx: AppContext) -> None:
    expected = sor_events(ctx)
    got = wh_events(ctx)
    assert [r[0] for r in got] == [r[0] for r in expected]
    assert got == expected


# --- events ----------------------------------------------------------------------------------


def test_feed_ships_exactly_the_sor_events(ctx: AppContext) -> None:
    client = Siyu(ctx)
    written = seed_events(client, range(12), per_person=5)
    result = feed(ctx)
    assert result.events == written
    got = wh_events(ctx)
    expected = sor_events(ctx)
    assert len(got) == written
    # Field by field, so a failure names what differs.
    assert [r[0] for r in got] == [r[0] for r in expected]
    assert [r[1] for r in got] == [r[1] for r in expected]
    assert [r[2] for r in got] == [r[2] for r in expected]
    assert [r[5] for r in got] == [r[5] for r in expected]
    assert [r[8] for r in got] == [r[8] for r in expected]
    assert got == expected
    # The timestamps are the ones sent, in UTC.
    by_mid = {r[1]: r for r in got}
    assert by_mid["m-3-2-Page Viewed"][8] == datetime(2024, 3, 1, 8, 2)
    assert by_mid["m-3-4-Order Completed"][6] == {"n": 3, "minute": 4}


def test_a_second_feed_ships_nothing_new(ctx: AppContext) -> None:
    seed_events(Siyu(ctx), range(5), per_person=3)
    first = feed(ctx)
    assert first.events == 20
    before = wh_events(ctx)
    second = feed(ctx)
    assert second.events == 0
    assert second.merges == 0
    assert wh_events(ctx) == before
    assert_warehouse_matches_sor(ctx)


def test_new_events_are_shipped_incrementally(ctx: AppContext) -> None:
    client = Siyu(ctx)
    seed_events(client, range(4), per_person=3)
    assert feed(ctx).events == 16
    shipped_ids = {r[0] for r in wh_events(ctx)}
    # More events for known contacts and for new ones.
    added = client.batch([track(n, 100 + n, "Coupon Claimed") for n in range(2, 9)])
    assert added.accepted == 7
    result = feed(ctx)
    assert result.events == 7
    rows = wh_events(ctx)
    new = [r for r in rows if r[0] not in shipped_ids]
    assert sorted(r[1] for r in new) == sorted(f"m-{n}-{100 + n}-Coupon Claimed" for n in range(2, 9))
    assert_warehouse_matches_sor(ctx)


def test_small_batches_ship_everything_once(ctx: AppContext) -> None:
    written = seed_events(Siyu(ctx), range(7), per_person=4)
    result = feed(ctx, batch_size=3)
    assert result.events == written
    assert_warehouse_matches_sor(ctx)
    assert feed(ctx, batch_size=3).events == 0


# --- merges ----------------------------------------------------------------------------------


def _contact_of(ctx: AppContext, kind: str, value: str) -> int:
    with ctx.db.session() as s:
        cid = ctx.profiles(s).resolve(ctx.parser.parse(kind, value))
    assert cid is not None
    return cid


def test_a_merge_after_shipping_moves_warehouse_events_to_the_survivor(ctx: AppContext) -> None:
    client = Siyu(ctx)
    seed_events(client, range(3), per_person=3)  # phones 0..2
    union = "oUnion_feed_1"
    r = client.batch(
        [
            {
                "type": "track",
                "event": "Content Clicked",
                "messageId": f"u-{k}",
                "identifiers": {"wechat_unionid": union},
                "timestamp": at(10 + k),
            }
            for k in range(4)
        ]
    )
    assert r.accepted == 4
    a = _contact_of(ctx, "phone", phone(1))
    b = _contact_of(ctx, "wechat_unionid", union)
    assert a != b
    feed(ctx)
    per_contact = dict(query(ctx, "SELECT contact_id, count(*) FROM events GROUP BY 1"))
    assert per_contact[a] == 4 and per_contact[b] == 4

    linked = client.identify({"phone": phone(1), "wechat_unionid": union}, timestamp=at(50))
    assert linked.merges == 1
    survivor = _contact_of(ctx, "phone", phone(1))
    absorbed = ({a, b} - {survivor}).pop()
    result = feed(ctx)
    assert result.merges == 1
    assert result.events == 1  # the identify call itself
    per_contact = dict(query(ctx, "SELECT contact_id, count(*) FROM events GROUP BY 1"))
    assert absorbed not in per_contact
    assert per_contact[survivor] == 4 + 4 + 1
    assert_warehouse_matches_sor(ctx)
    contacts = {row[0]: row for row in wh_contacts(ctx)}
    assert contacts[absorbed][1] == survivor


@pytest.mark.parametrize("feed_between", [False, True])
def test_a_merge_chain_moves_events_to_the_final_survivor(ctx: AppContext, feed_between: bool) -> None:
    client = Siyu(ctx)
    seed_events(client, range(3), per_person=2)
    a, b, c = (_contact_of(ctx, "phone", phone(n)) for n in range(3))
    feed(ctx)
    with ctx.db.session() as s:
        ctx.profiles(s).merge(b, a, "test: a into b")
    if feed_between:
        assert feed(ctx).merges == 1
        per_contact = dict(query(ctx, "SELECT contact_id, count(*) FROM events GROUP BY 1"))
        assert per_contact == {b: 6, c: 3}
    with ctx.db.session() as s:
        ctx.profiles(s).merge(c, b, "test: b into c")
    result = feed(ctx)
    assert result.merges == (1 if feed_between else 2)
    per_contact = dict(query(ctx, "SELECT contact_id, count(*) FROM events GROUP BY 1"))
    assert per_contact == {c: 9}
    assert_warehouse_matches_sor(ctx)
    contacts = {row[0]: row[1] for row in wh_contacts(ctx)}
    assert contacts[a] == c and contacts[b] == c and contacts[c] is None


# --- rebuild and contacts --------------------------------------------------------------------


def test_rebuild_reproduces_the_same_content(ctx: AppContext) -> None:
    client = Siyu(ctx)
    seed_events(client, range(6), per_person=3)
    feed(ctx)
    ids = [_contact_of(ctx, "phone", phone(n)) for n in range(6)]
    with ctx.db.session() as s:
        ctx.profiles(s).merge(ids[1], ids[0], "test")
        ctx.profiles(s).merge(ids[2], ids[1], "test")
    client.batch([track(n, 200, "Message Replied") for n in range(3, 8)])
    feed(ctx)
    events_before = wh_events(ctx)
    contacts_before = wh_contacts(ctx)
    assert events_before == sor_events(ctx)

    result = rebuild(ctx)
    assert result.events == len(events_before)
    assert result.contacts == len(contacts_before)
    assert wh_events(ctx) == events_before
    assert wh_contacts(ctx) == contacts_before
    # The cursors are where the next feed expects them.
    again = feed(ctx)
    assert (again.events, again.merges) == (0, 0)
    assert wh_events(ctx) == events_before


def test_contacts_are_shipped(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.create_channel("wecom-main", "wecom")
    client.create_entry_code("wecom-main", "qr-feed-1")
    seed_events(client, range(5), per_person=1)
    client.batch(
        [
            {
                "type": "identify",
                "messageId": "with-state",
                "identifiers": {"wechat_unionid": "oUnion_state"},
                "context": {"state": "qr-feed-1"},
                "timestamp": at(30),
            }
        ]
    )
    result = feed(ctx)
    expected = sor_contacts(ctx)
    assert result.contacts == len(expected) == 6
    assert wh_contacts(ctx) == expected
    assert sum(1 for row in expected if row[2] is not None) == 1

    # A merge changes merged_into_id; the next feed ships it.
    a, b = _contact_of(ctx, "phone", phone(0)), _contact_of(ctx, "phone", phone(4))
    with ctx.db.session() as s:
        ctx.profiles(s).merge(a, b, "test")
    feed(ctx)
    assert wh_contacts(ctx) == sor_contacts(ctx)


def test_a_contact_created_with_an_older_timestamp_is_shipped(ctx: AppContext) -> None:
    """Contacts are created with their first message's time; a late-arriving message (an
    offline SDK batch, a file import of history) creates a contact whose time is before what
    the last feed saw. It must still reach the warehouse."""
    client = Siyu(ctx)
    client.batch([track(1, 600)])
    feed(ctx)
    late = client.batch([track(2, 5)])  # ten hours earlier than the contact already shipped
    assert late.contacts_created == 1
    feed(ctx)
    assert [r[0] for r in wh_contacts(ctx)] == [r[0] for r in sor_contacts(ctx)]
    assert wh_contacts(ctx) == sor_contacts(ctx)
    assert_warehouse_matches_sor(ctx)


def test_a_merge_with_an_old_timestamp_ships_the_survivors_new_first_touch(ctx: AppContext) -> None:
    """An identify call carrying an old timestamp merges two shipped contacts; the survivor
    takes the absorbed contact's earlier first touch, and the warehouse must see that."""
    client = Siyu(ctx)
    client.create_channel("store", "store")
    client.create_entry_code("store", "qr-store")
    client.batch([track(1, 60)])  # contact A: phone, no channel, created at minute 60
    client.batch(
        [
            {
                "type": "track",
                "event": "Store Visited",
                "messageId": "b-0",
                "identifiers": {"wechat_unionid": "oUnion_old"},
                "context": {"state": "qr-store"},
                "timestamp": at(0),  # contact B: earlier, through the store's entry code
            }
        ]
    )
    feed(ctx)
    assert wh_contacts(ctx) == sor_contacts(ctx)
    linked = client.identify({"phone": phone(1), "wechat_unionid": "oUnion_old"}, timestamp=at(30))
    assert linked.merges == 1
    expected = sor_contacts(ctx)
    survivors = [row for row in expected if row[1] is None]
    assert len(survivors) == 1 and survivors[0][2] is not None  # the store channel, inherited
    assert survivors[0][4] == datetime(2024, 3, 1, 8, 0)
    feed(ctx)
    assert wh_contacts(ctx) == expected
    assert_warehouse_matches_sor(ctx)


def test_feed_result_counts_match_what_changed(ctx: AppContext) -> None:
    seed_events(Siyu(ctx), range(3), per_person=2)
    first = feed(ctx)
    assert (first.events, first.contacts, first.merges) == (9, 3, 0)


# --- locking ---------------------------------------------------------------------------------

HOLDER = """
import sys, duckdb
conn = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
conn.close()
"""


def _hold(path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_warehouse_busy_when_another_process_holds_the_file(ctx: AppContext) -> None:
    path = ctx.settings.resolved_warehouse_path
    seed_events(Siyu(ctx), range(2), per_person=1)
    feed(ctx)  # creates the file
    holder = _hold(path)
    try:
        with pytest.raises(WarehouseBusy) as caught:
            Warehouse(path)
        message = str(caught.value)
        assert str(path) in message
        assert "in use by another process" in message
        assert "siyu serve" in message
        assert isinstance(caught.value.__cause__, duckdb.IOException)
        # The Python API's feed surfaces the same error.
        with pytest.raises(WarehouseBusy):
            Siyu(ctx).feed_warehouse()
    finally:
        _release(holder)
    # Once the other process is gone, the warehouse opens and the content is intact.
    assert feed(ctx).events == 0
    assert_warehouse_matches_sor(ctx)


def test_a_second_connection_in_the_same_process_shares_the_database(tmp_path: Path) -> None:
    """DuckDB keeps one database instance per file per process, so a same-process second
    read-write connection succeeds (no lock conflict); only another process is refused."""
    path = tmp_path / "w.duckdb"
    first = Warehouse(path)
    try:
        second = Warehouse(path)
        try:
            first.conn.execute("INSERT INTO feed_state VALUES ('x', 7)")
            assert second.conn.execute("SELECT value FROM feed_state WHERE name = 'x'").fetchall() == [(7,)]
        finally:
            second.close()
    finally:
        first.close()
