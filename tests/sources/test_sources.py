"""Channels, entry codes, sources and write keys, and touch attribution through ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.sources.schemas import ChannelCreate, EntryCodeCreate, SourceCreate
from siyu.sources.service import SourceError, SourcesService
from siyu.store.models import CHANNEL_KINDS, AuditEntry, Contact, Event, Source, Touch

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def client(ctx: AppContext) -> Siyu:
    return Siyu(ctx)


# --- channels -----------------------------------------------------------------------------------


def test_create_channel(ctx: AppContext, client: Siyu) -> None:
    made = client.create_channel("wecom-main", "wecom", "企业微信导购")
    assert made["key"] == "wecom-main" and made["kind"] == "wecom" and made["name"] == "企业微信导购"
    with ctx.db.session() as s:
        svc = SourcesService(s)
        ch = svc.channel_by_key("wecom-main")
        assert ch is not None and ch.id == made["id"]
        assert [c.key for c in svc.channels()] == ["wecom-main"]
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "channel.created")).all()
    assert [(a.target_id, a.details) for a in audited] == [(str(made["id"]), {"key": "wecom-main"})]


@pytest.mark.parametrize("kind", ["fax", "WeCom", "", "wecom "])
def test_channel_with_an_unknown_kind_is_refused(ctx: AppContext, client: Siyu, kind: str) -> None:
    with pytest.raises(ValueError, match="kind") as caught:
        client.create_channel("x", kind)
    assert isinstance(caught.value, ValidationError)
    with ctx.db.session() as s:
        assert SourcesService(s).channels() == []


@pytest.mark.parametrize("key", ["Wecom", "-lead", "has space", "a" * 65, "", "中文"])
def test_channel_with_a_bad_key_is_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        ChannelCreate(key=key, name="n", kind="wecom")


def test_every_documented_kind_is_accepted(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        svc = SourcesService(s)
        for kind in CHANNEL_KINDS:
            svc.create_channel(ChannelCreate(key=f"k-{kind.replace('_', '-')}", name=kind, kind=kind))
    with ctx.db.session() as s:
        assert sorted(c.kind for c in SourcesService(s).channels()) == sorted(CHANNEL_KINDS)


def test_duplicate_channel_is_refused(ctx: AppContext, client: Siyu) -> None:
    client.create_channel("store", "store")
    with pytest.raises(SourceError, match="'store' already exists"):
        client.create_channel("store", "app", "another")
    with ctx.db.session() as s:
        channels = SourcesService(s).channels()
    assert [(c.key, c.kind) for c in channels] == [("store", "store")]
    # ensure_channel returns the existing one instead.
    with ctx.db.session() as s:
        assert SourcesService(s).ensure_channel("store", "app").kind == "store"


# --- entry codes --------------------------------------------------------------------------------


def test_entry_codes(ctx: AppContext, client: Siyu) -> None:
    ch = client.create_channel("wecom-main", "wecom")
    thirty = "s" * 30
    code = client.create_entry_code("wecom-main", thirty, "门店海报")
    assert code["state"] == thirty and code["channel_id"] == ch["id"]
    with ctx.db.session() as s:
        svc = SourcesService(s)
        found = svc.entry_code_by_state(thirty)
        assert found is not None and found.id == code["id"] and found.name == "门店海报"
        assert svc.entry_code_by_state("s" * 29) is None


@pytest.mark.parametrize("state", ["s" * 31, "", "has space", "中文码"])
def test_entry_code_state_must_be_short_and_plain(ctx: AppContext, client: Siyu, state: str) -> None:
    client.create_channel("wecom-main", "wecom")
    with pytest.raises(ValidationError):
        client.create_entry_code("wecom-main", state, "n")
    with ctx.db.session() as s:
        assert SourcesService(s).entry_codes() == []


def test_entry_code_for_an_unknown_channel_is_refused(ctx: AppContext, client: Siyu) -> None:
    with pytest.raises(SourceError, match="channel 'nope' does not exist"):
        client.create_entry_code("nope", "qr-1")
    with ctx.db.session() as s:
        assert SourcesService(s).entry_codes() == []


def test_duplicate_entry_code_state_is_refused(ctx: AppContext, client: Siyu) -> None:
    client.create_channel("wecom-main", "wecom")
    client.create_channel("store", "store")
    first = client.create_entry_code("wecom-main", "qr-1")
    with pytest.raises(SourceError, match="state 'qr-1' already exists"):
        client.create_entry_code("store", "qr-1")
    with ctx.db.session() as s:
        codes = SourcesService(s).entry_codes()
    assert [(c.id, c.state, c.channel_id) for c in codes] == [(first["id"], "qr-1", first["channel_id"])]


# --- sources and write keys ---------------------------------------------------------------------


def test_sources_get_unique_write_keys(ctx: AppContext, client: Siyu) -> None:
    client.create_channel("app", "app")
    made = [client.create_source(f"src-{n}", "app" if n % 2 else None) for n in range(12)]
    keys = [m["write_key"] for m in made]
    assert len(set(keys)) == len(keys)
    assert all(isinstance(k, str) and len(k) >= 24 for k in keys)
    with ctx.db.session() as s:
        svc = SourcesService(s)
        for m in made:
            found = svc.source_by_write_key(m["write_key"])
            assert found is not None and found.id == m["id"] and found.name == m["name"]
        assert svc.source_by_write_key("not-a-key") is None
        assert svc.source_by_write_key("") is None
    assert [m["channel_id"] is not None for m in made] == [n % 2 == 1 for n in range(12)]


def test_source_errors(ctx: AppContext, client: Siyu) -> None:
    client.create_source("web")
    with pytest.raises(SourceError, match="'web' already exists"):
        client.create_source("web")
    with pytest.raises(SourceError, match="channel 'ghost' does not exist"):
        client.create_source("other", "ghost")
    with ctx.db.session() as s:
        assert [x.name for x in SourcesService(s).sources()] == ["web"]


def test_a_disabled_source_key_is_not_accepted(ctx: AppContext, client: Siyu) -> None:
    kept = client.create_source("kept")
    off = client.create_source("off")
    with ctx.db.session() as s:
        s.get(Source, off["id"]).disabled = True  # type: ignore[union-attr]
    with ctx.db.session() as s:
        svc = SourcesService(s)
        assert svc.source_by_write_key(off["write_key"]) is None
        assert svc.source_by_write_key(kept["write_key"]) is not None
    # Ingest with the disabled key is not attributed to it.
    client.batch(
        [{"type": "track", "event": "E", "userId": "u1", "messageId": "m1"}], write_key=off["write_key"]
    )
    with ctx.db.session() as s:
        assert s.scalars(select(Event.source_id)).all() == [None]


def test_source_errors_schema() -> None:
    with pytest.raises(ValidationError):
        SourceCreate(name="")
    with pytest.raises(ValidationError):
        EntryCodeCreate(channel="c", state="ok", name="")


# --- touches ------------------------------------------------------------------------------------


def touches(ctx: AppContext, contact_id: int) -> list[tuple[Any, ...]]:
    with ctx.db.session() as s:
        return [
            (t.channel_id, t.entry_code_id, t.source_id, t.is_first, t.occurred_at)
            for t in SourcesService(s).touches(contact_id)
        ]


def contact_of(ctx: AppContext, customer_no: str) -> Contact:
    with ctx.db.session() as s:
        cid = ctx.profiles(s).resolve(ctx.parser.parse("customer_no", customer_no))
        assert cid is not None
        contact = s.get(Contact, cid)
        assert contact is not None
        return contact


def call(user: str, minute: float, state: str | None = None, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "track",
        "event": "Page Viewed",
        "userId": user,
        "messageId": f"{user}-{minute}-{state}",
        "timestamp": at(minute),
        **kw,
    }
    if state:
        out["context"] = {"state": state}
    return out


@pytest.fixture
def codes(client: Siyu) -> dict[str, dict[str, Any]]:
    client.create_channel("wecom-main", "wecom")
    client.create_channel("store", "store")
    return {
        "qr-wecom": client.create_entry_code("wecom-main", "qr-wecom"),
        "qr-store": client.create_entry_code("store", "qr-store"),
        "qr-wecom-2": client.create_entry_code("wecom-main", "qr-wecom-2"),
    }


def test_entry_code_touches(ctx: AppContext, client: Siyu, codes: dict[str, dict[str, Any]]) -> None:
    wecom, store = codes["qr-wecom"], codes["qr-store"]
    r = client.batch([call("u1", 0, "qr-wecom")])
    assert r.contacts_created == 1
    c = contact_of(ctx, "u1")
    assert (c.first_channel_id, c.first_entry_code_id) == (wecom["channel_id"], wecom["id"])
    assert touches(ctx, c.id) == [(wecom["channel_id"], wecom["id"], None, True, T0)]

    # Later, another entry code: a second touch, not a first one; the first touch stays.
    client.batch([call("u1", 60, "qr-store")])
    c = contact_of(ctx, "u1")
    assert (c.first_channel_id, c.first_entry_code_id) == (wecom["channel_id"], wecom["id"])
    assert touches(ctx, c.id) == [
        (wecom["channel_id"], wecom["id"], None, True, T0),
        (store["channel_id"], store["id"], None, False, T0 + timedelta(minutes=60)),
    ]
    # A call without a state records nothing; the same code scanned again is another touch.
    client.batch([call("u1", 90), call("u1", 120, "qr-store")])
    assert [t[1:4] for t in touches(ctx, c.id)] == [
        (wecom["id"], None, True),
        (store["id"], None, False),
        (store["id"], None, False),
    ]
    # An unknown state is not a touch and does not fail the call.
    r = client.batch([call("u2", 0, "no-such-code")])
    assert r.accepted == 1 and r.rejected == []
    u2 = contact_of(ctx, "u2")
    assert u2.first_channel_id is None and touches(ctx, u2.id) == []


def test_first_touch_agrees_with_the_contact_within_one_batch(
    ctx: AppContext, client: Siyu, codes: dict[str, dict[str, Any]]
) -> None:
    """A batch may list a new person's calls out of time order (SDKs flush queues as they
    can). The contact's first channel is taken from the earliest call; the touch marked
    ``is_first`` must be that same one."""
    wecom, store = codes["qr-wecom"], codes["qr-store"]
    client.batch([call("u1", 30, "qr-store"), call("u1", 10, "qr-wecom")])
    c = contact_of(ctx, "u1")
    assert (c.first_channel_id, c.first_entry_code_id) == (wecom["channel_id"], wecom["id"])
    first = [t for t in touches(ctx, c.id) if t[3]]
    assert [(t[0], t[1], t[4]) for t in first] == [
        (wecom["channel_id"], wecom["id"], T0 + timedelta(minutes=10))
    ]
    assert len(touches(ctx, c.id)) == 2
    assert store["id"] in {t[1] for t in touches(ctx, c.id)}


def test_several_new_contacts_in_one_batch_each_get_their_own_first_touch(
    ctx: AppContext, client: Siyu, codes: dict[str, dict[str, Any]]
) -> None:
    calls = [call(f"u{n}", n, ["qr-wecom", "qr-store", "qr-wecom-2"][n % 3]) for n in range(9)]
    r = client.batch(calls)
    assert r.contacts_created == 9
    for n in range(9):
        code = codes[["qr-wecom", "qr-store", "qr-wecom-2"][n % 3]]
        c = contact_of(ctx, f"u{n}")
        assert (c.first_channel_id, c.first_entry_code_id) == (code["channel_id"], code["id"])
        assert touches(ctx, c.id) == [(code["channel_id"], code["id"], None, True, T0 + timedelta(minutes=n))]


def test_a_source_bound_to_a_channel_records_one_channel_touch_per_contact(
    ctx: AppContext, client: Siyu
) -> None:
    ch = client.create_channel("mini", "mini_program")
    src = client.create_source("mini-sdk", "mini")
    key = src["write_key"]
    r = client.batch([call("u1", 0), call("u1", 1), call("u2", 2)], write_key=key)
    assert r.contacts_created == 2 and r.accepted == 3
    client.batch([call("u1", 10), call("u2", 11), call("u1", 12)], write_key=key)
    for user, first_minute in (("u1", 0), ("u2", 2)):
        c = contact_of(ctx, user)
        assert c.first_channel_id == ch["id"] and c.first_entry_code_id is None
        assert touches(ctx, c.id) == [(ch["id"], None, src["id"], True, T0 + timedelta(minutes=first_minute))]

    # A known contact first seen elsewhere gets one (non-first) touch for this channel.
    client.batch([call("u3", 0)])  # no source: no channel
    u3 = contact_of(ctx, "u3")
    assert u3.first_channel_id is None and touches(ctx, u3.id) == []
    client.batch([call("u3", 5), call("u3", 6)], write_key=key)
    assert touches(ctx, u3.id) == [(ch["id"], None, src["id"], True, T0 + timedelta(minutes=5))]
    client.batch([call("u3", 7)], write_key=key)
    assert len(touches(ctx, u3.id)) == 1
    with ctx.db.session() as s:
        assert len(s.scalars(select(Touch)).all()) == 3


def test_an_entry_code_through_a_channel_source_is_the_touch(
    ctx: AppContext, client: Siyu, codes: dict[str, dict[str, Any]]
) -> None:
    client.create_channel("mini", "mini_program")
    src = client.create_source("mini-sdk", "mini")
    store = codes["qr-store"]
    client.batch([call("u1", 0, "qr-store")], write_key=src["write_key"])
    c = contact_of(ctx, "u1")
    assert (c.first_channel_id, c.first_entry_code_id) == (store["channel_id"], store["id"])
    assert touches(ctx, c.id) == [(store["channel_id"], store["id"], src["id"], True, T0)]


def test_a_campaign_source_naming_a_channel_is_a_touch(
    ctx: AppContext, client: Siyu, codes: dict[str, dict[str, Any]]
) -> None:
    store_channel = codes["qr-store"]["channel_id"]
    client.batch([call("u1", 0, context={"campaign": {"source": "store"}})])
    client.batch([call("u2", 0, context={"campaign": {"source": "not-a-channel"}})])
    c1, c2 = contact_of(ctx, "u1"), contact_of(ctx, "u2")
    assert c1.first_channel_id == store_channel
    assert touches(ctx, c1.id) == [(store_channel, None, None, True, T0)]
    assert c2.first_channel_id is None and touches(ctx, c2.id) == []
