"""Identity resolution: finding, creating and merging contacts (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from siyu.audit import service as audit
from siyu.config import Settings
from siyu.context import AppContext
from siyu.profiles.identifiers import (
    BlockedIdentifier,
    Identifier,
    IdentifierError,
    IdentifierParser,
)
from siyu.profiles.repository import IdentityKey
from siyu.profiles.service import IdentifyResult, ProfileService, ResolutionRules
from siyu.store.models import (
    Channel,
    ConsentRecord,
    Contact,
    ContactAttribute,
    ContactMerge,
    Event,
    Identity,
    Touch,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)

PHONE_A = "13800138000"
PHONE_B = "13900139000"
UNIONID = "oUnion_AbC123"
EMAIL = "zhang@example.com"


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def ids(ctx: AppContext, *pairs: tuple[str, Any]) -> list[Identifier]:
    return [ctx.parser.parse(kind, raw) for kind, raw in pairs]


def identify(
    ctx: AppContext,
    *pairs: tuple[str, Any],
    traits: dict[str, Any] | None = None,
    when: datetime | None = None,
    rules: ResolutionRules | None = None,
    **kwargs: Any,
) -> IdentifyResult:
    """One identify call in its own unit of work, as an ingest request would make it."""
    with ctx.db.session() as s:
        svc = service(ctx, s, rules)
        return svc.identify(ids(ctx, *pairs), traits=traits, at=when, **kwargs)


def service(ctx: AppContext, session: Any, rules: ResolutionRules | None = None) -> ProfileService:
    if rules is None:
        return ctx.profiles(session)
    return ProfileService(session, ctx.keyring, rules)


def resolve(ctx: AppContext, kind: str, raw: Any) -> int | None:
    with ctx.db.session() as s:
        return ctx.profiles(s).resolve(ctx.parser.parse(kind, raw))


def live_ids(ctx: AppContext) -> list[int]:
    with ctx.db.session() as s:
        return list(
            s.scalars(select(Contact.id).where(Contact.merged_into_id.is_(None)).order_by(Contact.id))
        )


def key_of(ctx: AppContext, kind: str, raw: Any) -> IdentityKey:
    with ctx.db.session() as s:
        return ctx.profiles(s).key(ctx.parser.parse(kind, raw))


def keys_on(ctx: AppContext, contact_id: int) -> set[IdentityKey]:
    with ctx.db.session() as s:
        rows = s.scalars(select(Identity).where(Identity.contact_id == contact_id))
        return {(r.type, r.scope, r.lookup) for r in rows}


def contact(ctx: AppContext, contact_id: int) -> Contact:
    with ctx.db.session() as s:
        found = s.get(Contact, contact_id)
        assert found is not None
        return found


def traits_of(ctx: AppContext, contact_id: int) -> dict[str, Any]:
    with ctx.db.session() as s:
        rows = s.scalars(select(ContactAttribute).where(ContactAttribute.contact_id == contact_id))
        return {a.name: a.value for a in rows}


def dropped_types(result: IdentifyResult) -> list[tuple[str, str]]:
    return [(i.type, i.value) for i, _ in result.dropped]


# --- finding and creating -----------------------------------------------------------------------


def test_spellings_of_one_phone_find_one_contact(ctx: AppContext) -> None:
    first = identify(ctx, ("phone", "13800138000"))
    second = identify(ctx, ("phone", "+86 138-0013-8000"))
    third = identify(ctx, ("phone", "008613800138000"))
    assert first.created and not second.created and not third.created
    assert first.contact_id == second.contact_id == third.contact_id
    assert live_ids(ctx) == [first.contact_id]
    assert [i.type for i in first.added] == ["phone"]
    assert second.added == [] and second.merged == [] and second.dropped == []


def test_email_lookup_ignores_case(ctx: AppContext) -> None:
    first = identify(ctx, ("email", "Zhang@Example.COM"))
    assert resolve(ctx, "email", "zhang@example.com") == first.contact_id
    assert resolve(ctx, "email", "li@example.com") is None


def test_openids_are_scoped_by_app(ctx: AppContext) -> None:
    a = identify(ctx, ("wechat_openid", "wx1:o123"))
    b = identify(ctx, ("wechat_openid", "wx2:o123"))
    again = identify(ctx, ("wechat_openid", {"app_id": "wx1", "value": "o123"}))
    assert a.contact_id != b.contact_id
    assert again.contact_id == a.contact_id and not again.created
    assert len(live_ids(ctx)) == 2


def test_identify_without_identifiers_is_refused(ctx: AppContext) -> None:
    with ctx.db.session() as s, pytest.raises(ValueError):
        ctx.profiles(s).identify([])
    assert live_ids(ctx) == []


def test_new_identifiers_attach_to_the_matched_contact(ctx: AppContext) -> None:
    first = identify(ctx, ("phone", PHONE_A), source="wecom")
    second = identify(ctx, ("phone", PHONE_A), ("email", EMAIL), ("wechat_unionid", UNIONID))
    assert second.contact_id == first.contact_id and not second.created
    assert sorted(i.type for i in second.added) == ["email", "wechat_unionid"]
    assert keys_on(ctx, first.contact_id) == {
        key_of(ctx, "phone", PHONE_A),
        key_of(ctx, "email", EMAIL),
        key_of(ctx, "wechat_unionid", UNIONID),
    }
    with ctx.db.session() as s:
        svc = ctx.profiles(s)
        rows = {r.type: r for r in svc.repo.identities_of([first.contact_id])}
        assert svc.reveal(rows["phone"]) == "+86" + PHONE_A
        assert svc.reveal(rows["email"]) == EMAIL
        assert svc.reveal(rows["wechat_unionid"]) == UNIONID
        assert rows["phone"].source == "wecom"


def test_pii_identities_are_stored_encrypted(ctx: AppContext) -> None:
    identify(ctx, ("phone", PHONE_A), ("email", EMAIL), ("customer_no", "VIP-1"))
    with ctx.db.session() as s:
        rows = {r.type: r for r in s.scalars(select(Identity))}
    for kind, plain in [("phone", "+86" + PHONE_A), ("email", EMAIL)]:
        row = rows[kind]
        assert row.value is None
        assert row.value_enc is not None and plain.encode() not in row.value_enc
        assert row.lookup == ctx.keyring.blind_index(kind, plain)
        assert ctx.keyring.decrypt(row.value_enc, kind.encode()) == plain
    assert rows["customer_no"].value == rows["customer_no"].lookup == "VIP-1"
    assert rows["customer_no"].value_enc is None


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("app_device_id", "d" * 200), ("taobao_nick", "n" * 256), ("wechat_openid", "w" * 64 + ":o1")],
    ids=["device-200-chars", "nick-256-chars", "openid-64-char-scope"],
)
def test_every_value_the_parser_accepts_can_be_stored(ctx: AppContext, kind: str, raw: str) -> None:
    """The parser accepts values up to MAX_VALUE_LENGTH (256) and app ids up to 64 characters;
    the identities table must be able to hold them on every backend."""
    result = identify(ctx, (kind, raw))
    assert result.created
    assert resolve(ctx, kind, raw) == result.contact_id


def test_an_app_id_longer_than_the_column_is_rejected(ctx: AppContext) -> None:
    with pytest.raises(IdentifierError) as err:
        ctx.parser.parse("wechat_openid", "w" * 65 + ":o1")
    assert err.value.field == "wechat_openid"


# --- blocked values -----------------------------------------------------------------------------


def usable(parser: IdentifierParser, pairs: list[tuple[str, Any]]) -> list[Identifier]:
    """What an ingest handler does: drop blocked placeholders, keep the rest."""
    out = []
    for kind, raw in pairs:
        try:
            out.append(parser.parse(kind, raw))
        except BlockedIdentifier:
            continue
    return out


@pytest.mark.parametrize(
    ("kind", "placeholder"),
    [
        ("email", "null"),
        ("customer_no", "0"),
        ("customer_no", "-1"),
        ("wechat_unionid", "anonymous"),
        ("phone", "00000000000"),
        ("phone", "+86 000 0000 0000"),
        ("app_device_id", ""),
        ("wechat_openid", "wx1:null"),
        ("wechat_openid", "wx1:"),
    ],
)
def test_blocked_values_never_match(ctx: AppContext, kind: str, placeholder: str) -> None:
    """Two different people who both send the same placeholder must stay two contacts."""
    results = []
    for phone in (PHONE_A, PHONE_B):
        idents = usable(ctx.parser, [("phone", phone), (kind, placeholder)])
        with ctx.db.session() as s:
            results.append(ctx.profiles(s).identify(idents))
    assert results[0].contact_id != results[1].contact_id
    assert results[1].created and results[1].merged == []
    assert sorted(live_ids(ctx)) == sorted(r.contact_id for r in results)
    with ctx.db.session() as s:
        assert Counter(s.scalars(select(Identity.type))) == Counter({"phone": 2})


def test_configured_blocked_patterns_never_match(settings: Settings) -> None:
    custom = settings.model_copy(update={"blocked_identifier_values": [r"^TEST-"]})
    context = AppContext.from_settings(custom)
    try:
        context.db.upgrade()
        a = usable(context.parser, [("phone", PHONE_A), ("customer_no", "TEST-1")])
        b = usable(context.parser, [("phone", PHONE_B), ("customer_no", "TEST-1")])
        with context.db.session() as s:
            ra = context.profiles(s).identify(a)
        with context.db.session() as s:
            rb = context.profiles(s).identify(b)
        assert ra.contact_id != rb.contact_id
        assert [i.type for i in a] == ["phone"]
    finally:
        context.close()


# --- transitive merges --------------------------------------------------------------------------


def test_transitive_chain_merges_into_one_contact(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("wechat_unionid", UNIONID), when=at(1)).contact_id
    c = identify(ctx, ("email", EMAIL), when=at(2)).contact_id
    assert len({a, b, c}) == 3

    first = identify(ctx, ("phone", PHONE_A), ("wechat_unionid", UNIONID), when=at(3))
    assert first.contact_id == a and first.merged == [b] and first.dropped == []
    assert sorted(live_ids(ctx)) == sorted([a, c])

    second = identify(ctx, ("wechat_unionid", UNIONID), ("email", EMAIL), when=at(4))
    assert second.contact_id == a and second.merged == [c] and second.dropped == []
    assert live_ids(ctx) == [a]

    assert keys_on(ctx, a) == {
        key_of(ctx, "phone", PHONE_A),
        key_of(ctx, "wechat_unionid", UNIONID),
        key_of(ctx, "email", EMAIL),
    }
    assert keys_on(ctx, b) == set() and keys_on(ctx, c) == set()
    for kind, raw in [("phone", PHONE_A), ("wechat_unionid", UNIONID), ("email", EMAIL)]:
        assert resolve(ctx, kind, raw) == a
    assert contact(ctx, b).merged_into_id == a
    assert contact(ctx, c).merged_into_id == a


def test_one_call_can_merge_three_contacts(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("wechat_unionid", UNIONID), when=at(1)).contact_id
    c = identify(ctx, ("email", EMAIL), when=at(2)).contact_id
    result = identify(ctx, ("email", EMAIL), ("wechat_unionid", UNIONID), ("phone", PHONE_A), when=at(3))
    assert result.contact_id == a
    assert sorted(result.merged) == sorted([b, c])
    assert live_ids(ctx) == [a]
    with ctx.db.session() as s:
        merges = list(s.scalars(select(ContactMerge).order_by(ContactMerge.id)))
    assert sorted((m.survivor_id, m.absorbed_id) for m in merges) == sorted([(a, b), (a, c)])


# --- survivor choice ----------------------------------------------------------------------------


def test_survivor_is_the_oldest_when_no_customer_no(ctx: AppContext) -> None:
    # The older contact only has the lower-priority identifier: priority must not decide.
    old = identify(ctx, ("wechat_unionid", UNIONID), when=at(0)).contact_id
    new = identify(ctx, ("phone", PHONE_A), when=at(5)).contact_id
    result = identify(ctx, ("phone", PHONE_A), ("wechat_unionid", UNIONID), when=at(6))
    assert result.contact_id == old and result.merged == [new]
    assert contact(ctx, new).merged_into_id == old
    assert contact(ctx, old).created_at == at(0)


def test_survivor_is_the_contact_with_a_customer_no(ctx: AppContext) -> None:
    old = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    member = identify(ctx, ("customer_no", "M-100"), ("email", EMAIL), when=at(5)).contact_id
    result = identify(ctx, ("phone", PHONE_A), ("email", EMAIL), when=at(6))
    assert result.contact_id == member and result.merged == [old]
    assert contact(ctx, old).merged_into_id == member
    assert contact(ctx, member).merged_into_id is None
    assert resolve(ctx, "phone", PHONE_A) == member


def test_survivor_inherits_the_earliest_first_touch(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        s.add_all(
            [
                Channel(key="store", name="门店", kind="store"),
                Channel(key="wecom", name="企业微信", kind="wecom"),
            ]
        )
        s.flush()
        found = dict(s.execute(select(Channel.key, Channel.id)).all())
        store, wecom = found["store"], found["wecom"]
    old = identify(ctx, ("phone", PHONE_A), when=at(0), first_channel_id=store).contact_id
    member = identify(
        ctx, ("customer_no", "M-100"), ("email", EMAIL), when=at(9), first_channel_id=wecom
    ).contact_id
    identify(ctx, ("phone", PHONE_A), ("email", EMAIL), when=at(10))
    assert contact(ctx, old).merged_into_id == member
    merged = contact(ctx, member)
    assert merged.created_at == at(0)
    assert merged.first_channel_id == store


def test_absorbed_contacts_point_at_the_final_survivor(ctx: AppContext) -> None:
    """Chains are flattened: a contact absorbed earlier follows its survivor's own merge."""
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("wechat_unionid", UNIONID), when=at(1)).contact_id
    assert identify(ctx, ("phone", PHONE_A), ("wechat_unionid", UNIONID)).contact_id == a
    assert contact(ctx, b).merged_into_id == a

    member = identify(ctx, ("customer_no", "M-7"), when=at(2)).contact_id
    result = identify(ctx, ("customer_no", "M-7"), ("wechat_unionid", UNIONID), when=at(3))
    assert result.contact_id == member and result.merged == [a]
    assert contact(ctx, a).merged_into_id == member
    assert contact(ctx, b).merged_into_id == member  # not b -> a -> member
    with ctx.db.session() as s:
        svc = ctx.profiles(s)
        assert svc.repo.survivor_of(b) == member
        assert svc.repo.survivor_of(a) == member
        assert svc.repo.survivor_of(member) == member
    assert live_ids(ctx) == [member]


def test_merged_contacts_cannot_be_merged_again(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("email", EMAIL), when=at(1)).contact_id
    c = identify(ctx, ("customer_no", "X"), when=at(2)).contact_id
    with ctx.db.session() as s:
        ctx.profiles(s).merge(a, b, "manual")
    with ctx.db.session() as s, pytest.raises(ValueError):
        ctx.profiles(s).merge(c, b, "manual")
    with ctx.db.session() as s, pytest.raises(ValueError):
        ctx.profiles(s).merge(a, a, "manual")
    assert sorted(live_ids(ctx)) == sorted([a, c])


# --- per-type limits and the customer_no rule ---------------------------------------------------


def test_limit_drops_the_extra_phone_and_reports_it(ctx: AppContext) -> None:
    cid = identify(ctx, ("phone", PHONE_A), ("customer_no", "C-1")).contact_id
    result = identify(ctx, ("customer_no", "C-1"), ("phone", PHONE_B))
    assert result.contact_id == cid and not result.created
    assert dropped_types(result) == [("phone", "+86" + PHONE_B)]
    reason = result.dropped[0][1]
    assert "phone" in reason and "limit 1" in reason
    assert result.added == []
    assert keys_on(ctx, cid) == {key_of(ctx, "phone", PHONE_A), key_of(ctx, "customer_no", "C-1")}
    assert resolve(ctx, "phone", PHONE_B) is None
    assert live_ids(ctx) == [cid]
    with ctx.db.session() as s:
        entries = audit.entries(s, "contact", cid, action="identity.dropped")
    assert len(entries) == 1
    assert entries[0].details == {"dropped": [{"type": "phone", "reason": reason}]}
    assert "138" not in str(entries[0].details) and "139" not in str(entries[0].details)


def test_two_identifiers_of_a_capped_type_in_one_call(ctx: AppContext) -> None:
    result = identify(ctx, ("phone", PHONE_A), ("phone", PHONE_B))
    assert result.created
    assert [i.type for i in result.added] == ["phone"]
    assert [i.type for i, _ in result.dropped] == ["phone"]
    kept, lost = result.added[0], result.dropped[0][0]
    assert {kept.value, lost.value} == {"+86" + PHONE_A, "+86" + PHONE_B}
    assert resolve(ctx, "phone", kept.value) == result.contact_id
    assert resolve(ctx, "phone", lost.value) is None


def test_limit_blocks_a_merge_that_would_give_two_phones(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), ("wechat_unionid", UNIONID), when=at(0)).contact_id
    b = identify(ctx, ("phone", PHONE_B), ("email", EMAIL), when=at(1)).contact_id
    # The email is kept (higher priority): the unionid would join a and b, so it is dropped.
    result = identify(ctx, ("wechat_unionid", UNIONID), ("email", EMAIL), when=at(2))
    assert result.contact_id == b and result.merged == []
    assert dropped_types(result) == [("wechat_unionid", UNIONID)]
    assert sorted(live_ids(ctx)) == sorted([a, b])
    assert resolve(ctx, "wechat_unionid", UNIONID) == a


def test_limits_are_configurable(ctx: AppContext) -> None:
    rules = ResolutionRules(limits={**ctx.rules.limits, "email": 2})
    first = identify(ctx, ("email", "a@example.com"), ("email", "b@example.com"), rules=rules)
    assert len(first.added) == 2
    more = identify(ctx, ("email", "a@example.com"), ("email", "c@example.com"), rules=rules)
    assert dropped_types(more) == [("email", "c@example.com")]
    relaxed = identify(ctx, ("email", "a@example.com"), ("email", "c@example.com"))
    assert relaxed.dropped == [] and [i.value for i in relaxed.added] == ["c@example.com"]


def test_different_customer_nos_never_merge(ctx: AppContext) -> None:
    x = identify(ctx, ("customer_no", "C-1"), ("phone", PHONE_A), when=at(0)).contact_id
    y = identify(ctx, ("customer_no", "C-2"), ("email", EMAIL), when=at(1)).contact_id
    result = identify(ctx, ("phone", PHONE_A), ("email", EMAIL), when=at(2))
    assert result.contact_id == x and result.merged == []
    assert dropped_types(result) == [("email", EMAIL)]
    assert sorted(live_ids(ctx)) == sorted([x, y])
    assert resolve(ctx, "email", EMAIL) == y
    with ctx.db.session() as s:
        assert list(s.scalars(select(ContactMerge))) == []


@pytest.mark.parametrize("never_merge", [True, False])
def test_customer_no_rule_is_what_keeps_them_apart(ctx: AppContext, never_merge: bool) -> None:
    # A customer_no limit high enough that only the never-merge rule can refuse the merge.
    rules = ResolutionRules(
        limits={**ctx.rules.limits, "customer_no": 5}, never_merge_customer_nos=never_merge
    )
    x = identify(ctx, ("customer_no", "C-1"), ("phone", PHONE_A), when=at(0), rules=rules)
    y = identify(ctx, ("customer_no", "C-2"), ("email", EMAIL), when=at(1), rules=rules)
    result = identify(ctx, ("phone", PHONE_A), ("email", EMAIL), when=at(2), rules=rules)
    if never_merge:
        assert result.merged == []
        assert dropped_types(result) == [("email", EMAIL)]
        assert "customer_no" in result.dropped[0][1]
        assert sorted(live_ids(ctx)) == sorted([x.contact_id, y.contact_id])
    else:
        assert result.dropped == []
        assert result.merged == [y.contact_id]
        assert live_ids(ctx) == [x.contact_id]


# --- rows that follow the survivor --------------------------------------------------------------


def test_events_consents_and_touches_move_to_the_survivor(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("wechat_unionid", UNIONID), when=at(1)).contact_id
    with ctx.db.session() as s:
        channel = Channel(key="wecom", name="企业微信", kind="wecom")
        s.add(channel)
        s.flush()
        for n, owner in enumerate([a, b, b, a, b]):
            s.add(
                Event(
                    message_id=f"m-{n}",
                    contact_id=owner,
                    type="track",
                    event="Order Completed",
                    properties={"n": n},
                    timestamp=at(n),
                )
            )
        s.add_all(
            [
                ConsentRecord(
                    contact_id=b,
                    purpose="marketing",
                    channel="sms",
                    granted=True,
                    source="form",
                    occurred_at=at(1),
                ),
                ConsentRecord(
                    contact_id=a,
                    purpose="marketing",
                    channel="*",
                    granted=False,
                    source="sms-reply",
                    occurred_at=at(2),
                ),
                Touch(contact_id=b, channel_id=channel.id, is_first=True, occurred_at=at(1)),
            ]
        )
    with ctx.db.session() as s:
        before_events = dict(s.execute(select(Event.message_id, Event.contact_id)).all())

    result = identify(ctx, ("phone", PHONE_A), ("wechat_unionid", UNIONID), when=at(3))
    assert result.contact_id == a and result.merged == [b]

    with ctx.db.session() as s:
        after_events = dict(s.execute(select(Event.message_id, Event.contact_id)).all())
        consents = list(s.scalars(select(ConsentRecord).order_by(ConsentRecord.id)))
        touches = list(s.scalars(select(Touch)))
        entries = audit.entries(s, "contact", a, action="contact.merged")
    assert set(after_events) == set(before_events)  # nothing lost or duplicated
    assert after_events == {m: a for m in before_events}
    assert [c.contact_id for c in consents] == [a, a]
    assert [(c.channel, c.granted) for c in consents] == [("sms", True), ("*", False)]
    assert [t.contact_id for t in touches] == [a]
    moved = entries[0].details["moved"]
    assert {"events", "consent_records", "touches"} <= set(moved)
    assert not {"identities", "contact_attributes", "contact_merges"} & set(moved)


def test_merge_is_recorded_in_history_and_audit_log(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("wechat_unionid", UNIONID), when=at(1)).contact_id
    identify(ctx, ("phone", PHONE_A), ("wechat_unionid", UNIONID), when=at(2), actor="ingest")
    with ctx.db.session() as s:
        merges = list(s.scalars(select(ContactMerge)))
        entries = audit.entries(s, "contact", a, action="contact.merged")
        history = ctx.profiles(s).repo.merges_of(b)
    assert len(merges) == 1
    merge = merges[0]
    assert (merge.survivor_id, merge.absorbed_id) == (a, b)
    assert merge.identifier_type == "wechat_unionid"
    assert "wechat_unionid" in merge.reason
    assert merge.occurred_at == at(2)
    assert [m.id for m in history] == [merge.id]

    assert len(entries) == 1
    entry = entries[0]
    assert entry.actor == "ingest"
    assert (entry.target_type, entry.target_id) == ("contact", str(a))
    assert entry.details["absorbed"] == b
    assert entry.details["reason"] == merge.reason


def test_manual_merge_is_recorded_with_its_reason(ctx: AppContext) -> None:
    a = identify(ctx, ("phone", PHONE_A), when=at(0)).contact_id
    b = identify(ctx, ("email", EMAIL), when=at(1)).contact_id
    with ctx.db.session() as s:
        ctx.profiles(s).merge(a, b, "operator: same person (ticket 42)", actor="alice")
    with ctx.db.session() as s:
        merge = s.scalars(select(ContactMerge)).one()
        entry = audit.entries(s, action="contact.merged")[0]
    assert (merge.survivor_id, merge.absorbed_id, merge.identifier_type) == (a, b, None)
    assert merge.reason == "operator: same person (ticket 42)"
    assert (entry.actor, entry.details["absorbed"], entry.details["reason"]) == (
        "alice",
        b,
        merge.reason,
    )
    assert resolve(ctx, "email", EMAIL) == a


# --- traits -------------------------------------------------------------------------------------


def test_newest_non_empty_trait_wins(ctx: AppContext) -> None:
    cid = identify(ctx, ("phone", PHONE_A), traits={"city": "北京", "tier": "gold"}, when=at(10)).contact_id
    # An older message arriving late does not overwrite a newer value ...
    identify(ctx, ("phone", PHONE_A), traits={"city": "上海", "nickname": "老张"}, when=at(5))
    assert traits_of(ctx, cid) == {"city": "北京", "tier": "gold", "nickname": "老张"}
    # ... a newer one does ...
    identify(ctx, ("phone", PHONE_A), traits={"city": "广州"}, when=at(11))
    # ... and empty values never erase.
    identify(
        ctx,
        ("phone", PHONE_A),
        traits={"city": "", "tier": None, "nickname": [], "x": {}},
        when=at(12),
    )
    assert traits_of(ctx, cid) == {"city": "广州", "tier": "gold", "nickname": "老张"}


def test_trait_values_of_every_json_type_round_trip(ctx: AppContext) -> None:
    traits = {
        "name": "张三",
        "age": 30,
        "ltv": 1288.5,
        "vip": True,
        "opted_out": False,
        "points": 0,
        "code": "007",
        "tags": ["a", "b"],
        "address": {"city": "北京"},
    }
    cid = identify(ctx, ("phone", PHONE_A), traits=traits).contact_id
    assert traits_of(ctx, cid) == traits
    # Reading them again inside identify (to compare against new traits) works too.
    identify(ctx, ("phone", PHONE_A), traits={"age": 31}, when=utc_later())
    assert traits_of(ctx, cid) == {**traits, "age": 31}


def utc_later() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


def test_traits_merge_newest_non_empty_wins(ctx: AppContext) -> None:
    a = identify(
        ctx,
        ("phone", PHONE_A),
        when=at(10),
        traits={"city": "北京", "nickname": "张", "only_a": "a"},
    ).contact_id
    b = identify(
        ctx, ("wechat_unionid", UNIONID), when=at(5), traits={"city": "上海", "only_b": "b"}
    ).contact_id
    identify(ctx, ("wechat_unionid", UNIONID), traits={"nickname": "小张"}, when=at(20))
    # Merge carries no traits of its own, so only the stored times decide.
    with ctx.db.session() as s:
        ctx.profiles(s).merge(a, b, "test")
    assert traits_of(ctx, a) == {
        "city": "北京",  # survivor's is newer (10 > 5)
        "nickname": "小张",  # absorbed's is newer (20 > 10)
        "only_a": "a",
        "only_b": "b",
    }
    assert traits_of(ctx, b) == {}
    with ctx.db.session() as s:
        stamps = {
            a.name: a.updated_at
            for a in s.scalars(select(ContactAttribute).where(ContactAttribute.contact_id == a))
        }
    assert stamps == {"city": at(10), "nickname": at(20), "only_a": at(10), "only_b": at(5)}


def test_traits_of_the_identify_call_apply_after_merging(ctx: AppContext) -> None:
    identify(ctx, ("phone", PHONE_A), traits={"city": "北京"}, when=at(1))
    identify(ctx, ("email", EMAIL), traits={"city": "上海"}, when=at(2))
    result = identify(ctx, ("phone", PHONE_A), ("email", EMAIL), traits={"stage": "vip"}, when=at(3))
    assert traits_of(ctx, result.contact_id) == {"city": "上海", "stage": "vip"}


# --- property: random identify calls keep the invariants ----------------------------------------

POOL: list[tuple[str, str]] = (
    [("customer_no", f"C{i}") for i in range(3)]
    + [("phone", f"139{{n:04d}}{i:04d}") for i in range(3)]
    + [("email", f"u{i}.{{n}}@example.com") for i in range(5)]
    + [("wechat_unionid", f"union{i}") for i in range(3)]
    + [("wechat_openid", f"wx{i % 2}:open{i}") for i in range(3)]
    + [("app_device_id", f"dev{i}") for i in range(3)]
)
POOL_INDEX = {
    "phone0": POOL.index(("phone", "139{n:04d}0000")),
    "union0": POOL.index(("wechat_unionid", "union0")),
    "C0": POOL.index(("customer_no", "C0")),
}
_EXAMPLE = itertools.count()
TIGHT_LIMITS = {
    "customer_no": 1,
    "phone": 1,
    "email": 2,
    "wechat_unionid": 1,
    "wechat_openid": 2,
    "app_device_id": 2,
}


def _check_database_invariants(ctx: AppContext, limits: dict[str, int]) -> None:
    with ctx.db.session() as s:
        contacts = {c.id: c.merged_into_id for c in s.scalars(select(Contact))}
        rows = s.execute(select(Identity.contact_id, Identity.type, Identity.scope, Identity.lookup))
        owners: dict[IdentityKey, list[int]] = {}
        per_contact: dict[int, Counter[str]] = {}
        for cid, kind, scope, lookup in rows:
            owners.setdefault((kind, scope, lookup), []).append(cid)
            per_contact.setdefault(cid, Counter())[kind] += 1
    live = {cid for cid, into in contacts.items() if into is None}
    for key, holders in owners.items():
        assert len(holders) == 1, f"{key} is on {holders}"
        assert holders[0] in live, f"{key} sits on merged contact {holders[0]}"
    for cid, counts in per_contact.items():
        for kind, count in counts.items():
            assert count <= limits[kind], f"contact {cid} has {count} {kind}"
    for cid, into in contacts.items():
        if into is not None:
            assert into in live, f"{cid} points at {into}, which is not live (chain)"


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# A chain: b is absorbed by a, then a by the customer_no holder c (b must then point at c).
@example(
    calls=[
        [POOL_INDEX["phone0"]],
        [POOL_INDEX["union0"]],
        [POOL_INDEX["phone0"], POOL_INDEX["union0"]],
        [POOL_INDEX["C0"]],
        [POOL_INDEX["C0"], POOL_INDEX["union0"]],
    ]
)
@given(
    calls=st.lists(
        st.lists(st.sampled_from(range(len(POOL))), min_size=1, max_size=4, unique=True),
        min_size=1,
        max_size=8,
    ),
)
def test_random_identify_calls_keep_the_invariants(ctx: AppContext, calls: list[list[int]]) -> None:
    # Each example gets its own values (the database is shared across examples).
    n = next(_EXAMPLE)
    rules = ResolutionRules(limits={**ctx.rules.limits, **TIGHT_LIMITS})

    def parse(i: int) -> Identifier:
        kind, template = POOL[i]
        value = template.format(n=n) if "{n" in template else f"{template}-{n}"
        return ctx.parser.parse(kind, value)

    for step, call in enumerate(calls):
        idents = [parse(i) for i in call]
        with ctx.db.session() as s:
            svc = ProfileService(s, ctx.keyring, rules)
            owner_before = {i: svc.resolve(i) for i in idents}
            live_before = svc.repo.count_live()
            result = svc.identify(idents, at=at(step))
        dropped = {i for i, _ in result.dropped}
        kept = [i for i in idents if i not in dropped]
        with ctx.db.session() as s:
            svc = ProfileService(s, ctx.keyring, rules)
            cid = result.contact_id
            assert svc.repo.survivor_of(cid) == cid  # the answer is live
            assert kept, "the highest-priority identifier is always usable"
            for ident in kept:
                assert svc.resolve(ident) == cid
                if owner_before[ident] is not None:  # its old contact is folded into cid
                    assert svc.repo.survivor_of(owner_before[ident]) == cid
            assert svc.repo.count_live() == live_before + result.created - len(result.merged)
            # A dropped identifier was dropped for a reason that still holds afterwards.
            mine = [(r.type, r.lookup) for r in svc.repo.identities_of([cid])]
            for ident in dropped:
                owner = svc.resolve(ident)
                assert owner != cid
                if owner is None:
                    count = sum(1 for kind, _ in mine if kind == ident.type)
                    assert count >= rules.limits[ident.type], (ident, mine)
                else:
                    theirs = [(r.type, r.lookup) for r in svc.repo.identities_of([owner])]
                    together = Counter(kind for kind, _ in mine + theirs)
                    over = any(together[k] > rules.limits[k] for k in together)
                    both_nos = {"customer_no"} <= {k for k, _ in mine} and {"customer_no"} <= {
                        k for k, _ in theirs
                    }
                    assert over or both_nos, (ident, mine, theirs)
        _check_database_invariants(ctx, rules.limits)


# --- no plaintext PII on disk -------------------------------------------------------------------


def test_phone_lookup_works_without_plaintext_in_the_sqlite_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # SQLite under the data directory and a generated key file, as on a first run.
    context = AppContext.from_settings(
        Settings(data_dir=data, database_url=f"sqlite:///{data / 'siyu.db'}", secret_key=None)
    )
    try:
        assert context.db.dialect == "sqlite"
        context.db.upgrade()
        with context.db.session() as s:
            created = context.profiles(s).identify(
                ids(
                    context,
                    ("phone", "138 0013 8000"),
                    ("email", "Zhang.San@Example.com"),
                    ("customer_no", "VIP-20240001"),
                ),
                traits={"name": "张三"},
            )
        with context.db.session() as s:
            svc = context.profiles(s)
            found = svc.resolve(context.parser.parse("phone", "+86 138-0013-8000"))
            assert found == created.contact_id
            phone_row = next(r for r in svc.repo.identities_of([found]) if r.type == "phone")
            assert svc.reveal(phone_row) == "+8613800138000"

        def stored_bytes() -> bytes:
            files = sorted(data.glob("siyu.db*"))
            assert data / "siyu.db" in files
            return b"".join(f.read_bytes() for f in files)

        forbidden = [b"13800138000", b"+8613800138000", b"zhang.san@example.com"]
        before_checkpoint = stored_bytes()
        # Again after moving the WAL into the main database file.
        context.db.dispose()
        raw = sqlite3.connect(data / "siyu.db", isolation_level=None)
        try:
            busy, _, _ = raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            assert busy == 0
        finally:
            raw.close()
        for blob in (before_checkpoint, stored_bytes()):
            # Positive control: the scan sees the data (a non-PII identifier and a trait).
            assert b"VIP-20240001" in blob
            assert "张三".encode() in blob
            for needle in forbidden:
                assert needle not in blob, needle
    finally:
        context.close()


def test_raw_sql_view_holds_no_plaintext_pii(ctx: AppContext) -> None:
    identify(ctx, ("phone", PHONE_A), ("email", EMAIL))
    with ctx.db.session() as s:
        dump = repr(s.execute(text("SELECT * FROM identities")).all()).lower()
        dump += repr(s.execute(text("SELECT * FROM audit_log")).all()).lower()
    assert PHONE_A not in dump and EMAIL not in dump
