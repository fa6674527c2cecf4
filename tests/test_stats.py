"""``siyu.stats.overview``: the traffic pool at a glance. Expectations follow from how the data
is built below (and are cross-checked against raw rows), not from the function itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.stats import overview
from siyu.store.models import Contact

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def call(user: str, minute: int, state: str | None = None, event: str = "Signed Up") -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "track",
        "event": event,
        "userId": user,
        "messageId": f"{user}-{minute}-{event}",
        "timestamp": (T0 + timedelta(minutes=minute)).isoformat(),
    }
    if state:
        out["context"] = {"state": state}
    return out


def stats(ctx: AppContext) -> dict[str, Any]:
    with ctx.db.session() as s:
        return overview(s)


def contact_id(ctx: AppContext, user: str) -> int:
    with ctx.db.session() as s:
        cid = ctx.profiles(s).resolve(ctx.parser.parse("customer_no", user))
    assert cid is not None
    return cid


def test_empty(ctx: AppContext) -> None:
    assert stats(ctx) == {
        "contacts": 0,
        "events": 0,
        "identities": 0,
        "merges": 0,
        "channels": 0,
        "sources": 0,
        "import_jobs": 0,
        "contacts_by_first_channel": {},
        "wecom_customers": 0,
        "wecom_lost": 0,
    }


def test_overview_counts_the_traffic_pool(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.create_channel("wecom-main", "wecom")
    client.create_channel("store", "store")
    client.create_channel("app", "app")  # no contacts arrive through it
    client.create_entry_code("wecom-main", "qr-w")
    client.create_entry_code("store", "qr-s")
    client.create_source("web")

    # u0-u4 through WeCom, u5-u7 through stores, u8-u9 with no known channel.
    calls = [call(f"u{n}", n, "qr-w") for n in range(5)]
    calls += [call(f"u{n}", 5 + n, "qr-s") for n in range(5, 8)]
    calls += [call(f"u{n}", 20 + n) for n in (8, 9)]
    calls += [call(f"u{n}", 100 + n, event="Page Viewed") for n in range(5)]
    result = client.batch(calls)
    assert result.accepted == 15 and result.contacts_created == 10
    client.identify({"customer_no": "u0", "phone": "+8613800138000"}, timestamp=T0 + timedelta(hours=3))

    s0 = stats(ctx)
    assert s0["contacts"] == 10
    assert s0["events"] == 16
    assert s0["identities"] == 11
    assert s0["merges"] == 0
    assert s0["contacts_by_first_channel"] == {"wecom-main": 5, "store": 3}

    # Two merges: u1 into u0 (both WeCom), u5 (store, older) into u8 (no channel, newer): the
    # survivor inherits the earlier first touch, so u8 now counts as a store contact.
    u0, u1, u5, u8 = (contact_id(ctx, u) for u in ("u0", "u1", "u5", "u8"))
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        profiles.merge(u0, u1, "test")
        profiles.merge(u8, u5, "test")

    s1 = stats(ctx)
    assert s1["contacts"] == 8  # merged contacts are not counted
    assert s1["events"] == 16  # events move, they do not disappear
    assert s1["identities"] == 11
    assert s1["merges"] == 2
    assert s1["channels"] == 3
    assert s1["sources"] == 1
    assert s1["import_jobs"] == 0
    by_channel = s1["contacts_by_first_channel"]
    assert {k: v for k, v in by_channel.items() if v} == {"wecom-main": 4, "store": 3}
    assert by_channel.get("app", 0) == 0

    # Cross-check against the raw rows.
    with ctx.db.session() as s:
        contacts = s.execute(select(Contact.id, Contact.merged_into_id, Contact.first_channel_id)).all()
    live = [c for c in contacts if c.merged_into_id is None]
    assert len(contacts) == 10 and len(live) == s1["contacts"]
    assert sum(by_channel.values()) == sum(1 for c in live if c.first_channel_id is not None) == 7


def test_client_stats_is_the_overview(ctx: AppContext) -> None:
    client = Siyu(ctx)
    client.batch([call(f"v{n}", n) for n in range(4)])
    with ctx.db.session() as s:
        profiles = ctx.profiles(s)
        a, b, c = (profiles.resolve(ctx.parser.parse("customer_no", f"v{n}")) for n in range(3))
        assert a and b and c
        profiles.merge(a, b, "test")
    with ctx.db.session() as s:
        ctx.profiles(s).merge(a, c, "test")
    got = client.stats()
    assert got == stats(ctx)
    assert (got["contacts"], got["events"], got["identities"], got["merges"]) == (2, 4, 4, 2)
