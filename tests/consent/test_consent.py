"""The consent ledger: append-only records, state as the newest record per (purpose, channel),
``allows`` across channel-specific and ``*`` records, validation, auditing, and merges."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from siyu.audit import service as audit
from siyu.consent.service import PURPOSES, ConsentError, ConsentService
from siyu.context import AppContext
from siyu.store.models import AuditEntry, ConsentRecord

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def new_contact(ctx: AppContext, phone: str) -> int:
    with ctx.db.session() as s:
        return ctx.profiles(s).identify([ctx.parser.parse("phone", phone)], at=T0).contact_id


@pytest.fixture
def cid(ctx: AppContext) -> int:
    return new_contact(ctx, "+8613800138000")


def record(ctx: AppContext, contact: int, purpose: str, channel: str, granted: bool, hours: float) -> int:
    with ctx.db.session() as s:
        rec = ConsentService(s).record(contact, purpose, channel, granted, "test", {"h": hours}, at=at(hours))
        s.flush()
        return rec.id


def rows(ctx: AppContext) -> list[tuple[object, ...]]:
    with ctx.db.session() as s:
        return [
            (r.id, r.contact_id, r.purpose, r.channel, r.granted, r.source, r.evidence, r.occurred_at)
            for r in s.scalars(select(ConsentRecord).order_by(ConsentRecord.id))
        ]


def test_the_ledger_is_append_only(ctx: AppContext, cid: int) -> None:
    record(ctx, cid, "marketing", "sms", True, 1)
    first = rows(ctx)
    record(ctx, cid, "marketing", "sms", False, 2)
    record(ctx, cid, "marketing", "sms", True, 3)
    after = rows(ctx)
    # Earlier records are untouched; every change is a new row.
    assert after[: len(first)] == first
    assert len(after) == 3
    assert [r[4] for r in after] == [True, False, True]
    assert [r[6] for r in after] == [{"h": 1}, {"h": 2}, {"h": 3}]
    with ctx.db.session() as s:
        ledger = ConsentService(s).ledger(cid)
    assert [(r.granted, r.occurred_at) for r in ledger] == [(True, at(1)), (False, at(2)), (True, at(3))]


def test_empty_channel_means_every_channel(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        ConsentService(s).record(cid, "service", "", True, "test", at=at(1))
    with ctx.db.session() as s:
        svc = ConsentService(s)
        assert svc.state(cid) == {("service", "*"): True}
        assert svc.allows(cid, "service", "wecom") is True


def test_state_is_the_newest_record_per_purpose_and_channel(ctx: AppContext, cid: int) -> None:
    # Recorded out of time order: the state follows occurred_at, not insertion order.
    record(ctx, cid, "marketing", "sms", False, 5)
    record(ctx, cid, "marketing", "sms", True, 1)
    record(ctx, cid, "marketing", "*", True, 2)
    record(ctx, cid, "analytics", "*", True, 1)
    record(ctx, cid, "analytics", "*", False, 3)
    record(ctx, cid, "service", "wecom", True, 4)
    other = new_contact(ctx, "+8613900139000")
    record(ctx, other, "marketing", "sms", True, 9)
    fresh = new_contact(ctx, "+8613700137000")
    with ctx.db.session() as s:
        svc = ConsentService(s)
        assert svc.state(cid) == {
            ("marketing", "sms"): False,
            ("marketing", "*"): True,
            ("analytics", "*"): False,
            ("service", "wecom"): True,
        }
        assert svc.state(other) == {("marketing", "sms"): True}
        assert svc.state(fresh) == {}


def test_state_from_a_random_ledger_matches_a_reference(ctx: AppContext, cid: int) -> None:
    rnd = random.Random(4)
    expected: dict[tuple[str, str], tuple[float, int, bool]] = {}
    for _ in range(60):
        purpose = rnd.choice(PURPOSES)
        channel = rnd.choice(["*", "sms", "wecom", "email"])
        granted = rnd.random() < 0.5
        hours = rnd.randrange(0, 40)  # many ties: the later record (by id) wins a tie
        rid = record(ctx, cid, purpose, channel, granted, hours)
        key = (purpose, channel)
        if key not in expected or (hours, rid) > expected[key][:2]:
            expected[key] = (hours, rid, granted)
    with ctx.db.session() as s:
        svc = ConsentService(s)
        assert svc.state(cid) == {k: v[2] for k, v in expected.items()}
        for purpose, channel in itertools.product(PURPOSES, ["sms", "wecom", "email", "app"]):
            candidates = [v for k, v in expected.items() if k[0] == purpose and k[1] in (channel, "*")]
            want = max(candidates)[2] if candidates else False
            assert svc.allows(cid, purpose, channel) is want, (purpose, channel)


@pytest.mark.parametrize(
    ("records", "channel", "expected"),
    [
        # Channel-specific withdrawal after a blanket grant: that channel only is withdrawn.
        ([("*", True, 1), ("sms", False, 2)], "sms", False),
        ([("*", True, 1), ("sms", False, 2)], "wecom", True),
        # Blanket withdrawal after a channel grant: the newer blanket record wins.
        ([("sms", True, 1), ("*", False, 2)], "sms", False),
        ([("sms", True, 1), ("*", False, 2)], "wecom", False),
        # Blanket grant after a channel withdrawal.
        ([("sms", False, 1), ("*", True, 2)], "sms", True),
        # Channel grant after a blanket withdrawal.
        ([("*", False, 1), ("sms", True, 2)], "sms", True),
        ([("*", False, 1), ("sms", True, 2)], "email", False),
        # Inserted in the other order than their times.
        ([("sms", False, 2), ("*", True, 1)], "sms", False),
        ([("*", False, 2), ("sms", True, 1)], "sms", False),
        # Another channel's records never apply.
        ([("email", True, 1)], "sms", False),
    ],
)
def test_allows_takes_the_newest_applicable_record(
    ctx: AppContext, cid: int, records: list[tuple[str, bool, float]], channel: str, expected: bool
) -> None:
    for ch, granted, hours in records:
        record(ctx, cid, "marketing", ch, granted, hours)
    with ctx.db.session() as s:
        svc = ConsentService(s)
        assert svc.allows(cid, "marketing", channel) is expected
        # Other purposes are unaffected and fall back to the default.
        assert svc.allows(cid, "analytics", channel) is False
        assert svc.allows(cid, "analytics", channel, default=True) is True


def test_allows_without_records_returns_the_default(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        svc = ConsentService(s)
        assert svc.allows(cid, "marketing", "sms") is False
        assert svc.allows(cid, "marketing", "sms", default=True) is True
    record(ctx, cid, "marketing", "sms", False, 1)
    with ctx.db.session() as s:
        assert ConsentService(s).allows(cid, "marketing", "sms", default=True) is False


@pytest.mark.parametrize("purpose", ["advertising", "Marketing", "", "marketing "])
def test_unknown_purpose_is_refused(ctx: AppContext, cid: int, purpose: str) -> None:
    with ctx.db.session() as s:
        with pytest.raises(ConsentError, match="unknown purpose") as caught:
            ConsentService(s).record(cid, purpose, "*", True, "test")
        assert "marketing" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert rows(ctx) == []
    with ctx.db.session() as s:
        assert (
            s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.like("consent.%")))
            == 0
        )


def test_consent_records_are_audited(ctx: AppContext, cid: int) -> None:
    with ctx.db.session() as s:
        svc = ConsentService(s)
        svc.record(cid, "marketing", "sms", True, "form", at=at(1), actor="alice")
        svc.record(cid, "marketing", "*", False, "sms-reply", at=at(2), actor="bob")
    with ctx.db.session() as s:
        entries = [
            e
            for e in reversed(audit.entries(s, target_type="contact", target_id=cid))
            if e.action.startswith("consent.")
        ]
    assert [(e.action, e.actor, e.target_id, e.details) for e in entries] == [
        ("consent.granted", "alice", str(cid), {"purpose": "marketing", "channel": "sms", "source": "form"}),
        (
            "consent.withdrawn",
            "bob",
            str(cid),
            {"purpose": "marketing", "channel": "*", "source": "sms-reply"},
        ),
    ]


def test_consent_moves_to_the_survivor_on_merge(ctx: AppContext) -> None:
    survivor = new_contact(ctx, "+8613800138000")
    absorbed = new_contact(ctx, "+8613900139000")
    record(ctx, survivor, "service", "*", True, 1)
    record(ctx, absorbed, "marketing", "sms", True, 2)
    record(ctx, absorbed, "marketing", "*", False, 3)
    with ctx.db.session() as s:
        ctx.profiles(s).merge(survivor, absorbed, "test")
    with ctx.db.session() as s:
        svc = ConsentService(s)
        assert svc.ledger(absorbed) == []
        assert [(r.purpose, r.channel, r.granted) for r in svc.ledger(survivor)] == [
            ("service", "*", True),
            ("marketing", "sms", True),
            ("marketing", "*", False),
        ]
        assert svc.state(survivor) == {
            ("service", "*"): True,
            ("marketing", "sms"): True,
            ("marketing", "*"): False,
        }
        assert svc.allows(survivor, "marketing", "sms") is False
        assert svc.allows(survivor, "service", "wecom") is True
    # The records themselves were moved, not copied or rewritten.
    assert [r[1] for r in rows(ctx)] == [survivor, survivor, survivor]
    assert [r[7] for r in rows(ctx)] == [at(1), at(2), at(3)]
