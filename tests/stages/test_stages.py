"""Journey stages: the default rules classify a crafted data set exactly as an independent
Python classification does; changes are recorded once (history, flows, events, change log) and
a re-run without new data writes nothing; rules are editable and bad ones are rejected naming
the rule and node; manual changes are recorded like rule changes."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.audit import service as audit
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.stages.schemas import DEFAULT_RULES, StageRulesError, parse_rules
from siyu.stages.service import StageError, StageResult, StageService
from siyu.store.models import SYSTEM_EVENTS, Contact, ContactChange, ContactStage, Event, StageChange
from siyu.warehouse.store import Warehouse

T1 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
T2 = T1 + timedelta(days=20)
ACTIVITY = ("track", "page", "screen")
NAMES = ["Page Viewed", "Order Completed", "Referral Converted", "Message Replied", "Content Clicked"]
NAMES += ["Group Joined", "Coupon Claimed"]
#: user → [(type, event name, timestamp)]
Data = dict[str, list[tuple[str, str, datetime]]]


# --- an independent classification ---------------------------------------------------------------
def expected_stage(events: list[tuple[str, str, datetime]], as_of: datetime) -> str:
    """The default rules, written from their description."""
    active = [ts for kind, name, ts in events if kind in ACTIVITY and name not in SYSTEM_EVENTS]

    def count(wanted: str) -> int:
        return sum(1 for _, name, _ in events if name == wanted)

    def active_within(days: int) -> bool:
        return any(as_of - timedelta(days=days) <= ts <= as_of for ts in active)

    if active and not active_within(180):
        return "churned"
    if active and not active_within(60):
        return "dormant"
    if count("Order Completed") >= 1 and count("Referral Converted") >= 1:
        return "advocacy"
    if count("Order Completed") >= 2:
        return "repurchase"
    if count("Order Completed") >= 1:
        return "conversion"
    if any(count(n) for n in ("Message Replied", "Content Clicked", "Group Joined")):
        return "retention"
    return "acquisition"


def crafted(seed: int = 11, users: int = 60) -> Data:
    rnd = random.Random(seed)
    ago = [0.5, 3, 10, 45, 59.5, 60.5, 100, 150, 179.5, 180.5, 250, 400]
    data: Data = {}
    for u in range(users):
        rows = []
        for _ in range(rnd.choice([0, 1, 1, 2, 3, 4, 6])):
            kind = rnd.choice(["track"] * 6 + ["page"])
            name = rnd.choice(NAMES) if kind == "track" else "Pricing"
            rows.append((kind, name, T1 - timedelta(days=rnd.choice(ago))))
        data[f"c{u:02d}"] = rows
    # one of each stage, written by hand so every rule is exercised whatever the seed
    data["advocate"] = [("track", "Order Completed", T1 - timedelta(days=5))]
    data["advocate"] += [("track", "Referral Converted", T1 - timedelta(days=2))]
    data["repeat"] = [("track", "Order Completed", T1 - timedelta(days=d)) for d in (3, 30)]
    data["buyer"] = [("track", "Order Completed", T1 - timedelta(days=7))]
    data["engaged"] = [("track", "Group Joined", T1 - timedelta(days=20))]
    data["browser"] = [("page", "Home", T1 - timedelta(days=1))]
    data["sleepy"] = [("track", "Order Completed", T1 - timedelta(days=90))]
    data["gone"] = [("track", "Order Completed", T1 - timedelta(days=d)) for d in (200, 300)]
    data["silent"] = []
    return data


# --- helpers ------------------------------------------------------------------------------------
def send(ctx: AppContext, data: Data, tag: str = "a") -> None:
    calls: list[dict[str, Any]] = []
    for user, rows in data.items():
        # identify calls are not customer activity, however old
        calls.append(
            {
                "type": "identify",
                "userId": user,
                "messageId": f"{tag}-{user}-id",
                "timestamp": (T1 - timedelta(days=500)).isoformat(),
            }
        )
        for k, (kind, name, ts) in enumerate(rows):
            call: dict[str, Any] = {"type": kind, "userId": user, "timestamp": ts.isoformat()}
            call["messageId"] = f"{tag}-{user}-{k}"
            call["event" if kind == "track" else "name"] = name
            calls.append(call)
    result = Siyu(ctx).batch(calls)
    assert result.rejected == [] and result.accepted == len(calls)


def ids(ctx: AppContext, users: Any) -> dict[str, int]:
    out = {}
    with ctx.db.session() as s:
        for user in users:
            cid = ctx.profiles(s).resolve(ctx.parser.parse("customer_no", user))
            assert cid is not None
            out[user] = cid
    return out


def assign(ctx: AppContext, wh: Warehouse, as_of: datetime = T1) -> StageResult:
    wh.feed(ctx.db)
    with ctx.db.session() as s:
        result = StageService(s, wh).assign(as_of)
    wh.feed(ctx.db)
    return result


def stages(ctx: AppContext) -> dict[int, str]:
    with ctx.db.session() as s:
        return {r.contact_id: r.stage for r in s.scalars(select(ContactStage))}


def as_pairs(flows: list[dict[str, Any]]) -> Counter[tuple[str | None, str]]:
    return Counter({(f["from"], f["to"]): f["count"] for f in flows})


def counts(ctx: AppContext) -> tuple[int, int, int]:
    """(stage changes, stage.changed events, change-log entries)"""
    with ctx.db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(StageChange)) or 0,
            s.scalar(select(func.count()).where(Event.event == "stage.changed")) or 0,
            s.scalar(select(func.count()).select_from(ContactChange)) or 0,
        )


# --- the default rules ---------------------------------------------------------------------------
def test_default_rules_assign_the_expected_stages(ctx: AppContext, wh: Warehouse) -> None:
    data = crafted()
    send(ctx, data)
    result = assign(ctx, wh)
    cid = ids(ctx, data)
    want = {cid[u]: expected_stage(rows, T1) for u, rows in data.items()}
    assert stages(ctx) == want
    assert set(want.values()) == {
        "acquisition", "retention", "conversion", "repurchase", "advocacy", "dormant", "churned",
    }  # fmt: skip
    per_stage = Counter(want.values())
    assert result.stages == {stage: per_stage.get(stage, 0) for stage in result.stages}
    assert result.evaluated == len(data) and result.changed == len(data)
    assert result.transitions == sorted(
        ({"from": None, "to": t, "count": n} for t, n in per_stage.items()),
        key=lambda x: (-x["count"], x["to"]),
    )
    with ctx.db.session() as s:
        svc = StageService(s, wh)
        assert svc.distribution() == result.stages
        assert svc.stage_of(cid["advocate"]) == "advocacy"
        events = s.execute(
            select(Event.contact_id, Event.properties).where(Event.event == "stage.changed")
        ).all()
    assert sorted(c for c, _ in events) == sorted(want)
    props = dict(events)[cid["repeat"]]
    assert props == {"from": None, "to": "repurchase", "reason": "rules[3]: repurchase"}
    assert dict(events)[cid["silent"]]["reason"] == "default: acquisition"


def test_a_rerun_without_new_data_writes_nothing(ctx: AppContext, wh: Warehouse) -> None:
    data = crafted(seed=5)
    send(ctx, data)
    assign(ctx, wh)
    before, rows = counts(ctx), stages(ctx)
    assert before[0] == len(data)
    # the stage.changed events just written are not activity: dormant and churned stay put
    again = assign(ctx, wh)
    assert again.changed == 0 and again.transitions == []
    assert counts(ctx) == before and stages(ctx) == rows
    assert {"dormant", "churned"} <= set(rows.values())


def test_history_and_flow_report_the_changes(ctx: AppContext, wh: Warehouse) -> None:
    data = crafted(seed=3)
    send(ctx, data)
    assign(ctx, wh, T1)
    extra: Data = {
        "buyer": [("track", "Order Completed", T1 + timedelta(days=10))],  # conversion → repurchase
        "sleepy": [("track", "Message Replied", T1 + timedelta(days=1))],  # dormant → conversion
        "newcomer": [("track", "Order Completed", T1 + timedelta(days=2))],  # (new) → conversion
    }
    send(ctx, extra, tag="b")
    combined = {u: data.get(u, []) + extra.get(u, []) for u in {*data, *extra}}
    result = assign(ctx, wh, T2)  # 20 days later: windows move too
    cid = ids(ctx, combined)
    first = {u: expected_stage(rows, T1) for u, rows in data.items()}
    second = {u: expected_stage(rows, T2) for u, rows in combined.items()}
    moved = Counter((first.get(u), second[u]) for u in combined if first.get(u) != second[u])
    assert moved[("conversion", "repurchase")] >= 1 and moved[(None, "conversion")] == 1
    assert stages(ctx) == {cid[u]: st for u, st in second.items()}
    assert result.changed == sum(moved.values())

    with ctx.db.session() as s:
        svc = StageService(s, wh)
        assert svc.history(cid["buyer"]) == [
            {"from": None, "to": "conversion", "reason": "rules[4]: conversion", "at": T1.isoformat()},
            {
                "from": "conversion",
                "to": "repurchase",
                "reason": "rules[3]: repurchase",
                "at": T2.isoformat(),
            },
        ]
        assert [h["to"] for h in svc.history(cid["sleepy"])] == ["dormant", "conversion"]
        assert svc.history(cid["newcomer"]) == [
            {"from": None, "to": "conversion", "reason": "rules[4]: conversion", "at": T2.isoformat()}
        ]
        later = svc.flow(since=T1 + timedelta(seconds=1))
        earlier = svc.flow(until=T1 + timedelta(seconds=1))
        everything = svc.flow()
    assert as_pairs(later) == moved
    assert as_pairs(earlier) == Counter((None, st) for st in first.values())
    assert as_pairs(everything) == as_pairs(later) + as_pairs(earlier)
    assert [f["count"] for f in everything] == sorted((f["count"] for f in everything), reverse=True)


# --- rules ---------------------------------------------------------------------------------------
def test_custom_rules_replace_the_defaults(ctx: AppContext, wh: Warehouse) -> None:
    data = crafted(seed=8)
    send(ctx, data)
    client = Siyu(ctx)
    for user in ("c01", "c02"):
        client.batch([{"type": "identify", "userId": user, "traits": {"vip": True}}])
    custom = [
        {"stage": "advocacy", "when": {"type": "attribute", "name": "vip", "op": "eq", "value": True}},
        {
            "stage": "retention",
            "when": {
                "type": "event",
                "event": "*",
                "count": {"op": "gte", "value": 2},
                "within": {"days": 100},
            },
        },
    ]
    with ctx.db.session() as s:
        saved = StageService(s, wh).set_rules(custom, actor="ops")
    assert saved == [rule.dump() for rule in parse_rules(custom)]
    with ctx.db.session() as s:
        assert StageService(s, wh).rules() == saved
        assert audit.entries(s, action="stages.rules_set")[0].actor == "ops"
    assign(ctx, wh)
    cid = ids(ctx, data)

    def expected(user: str) -> str:
        if user in ("c01", "c02"):
            return "advocacy"
        recent = [ts for kind, _, ts in data[user] if T1 - timedelta(days=100) <= ts <= T1]
        return "retention" if len(recent) >= 2 else "acquisition"

    assert stages(ctx) == {cid[u]: expected(u) for u in data}
    with ctx.db.session() as s:
        StageService(s, wh).set_rules([])
        preview = StageService(s, wh).preview(as_of=T1)
    assert preview["acquisition"] == len(data) and sum(preview.values()) == len(data)


def test_the_defaults_are_the_documented_rules(ctx: AppContext, wh: Warehouse) -> None:
    with ctx.db.session() as s:
        got = StageService(s, wh).rules()
    assert [r["stage"] for r in got] == [
        "churned",
        "dormant",
        "advocacy",
        "repurchase",
        "conversion",
        "retention",
    ]
    assert got == [rule.dump() for rule in parse_rules(DEFAULT_RULES)]


GOOD = {"stage": "conversion", "when": {"type": "event", "event": "Order Completed"}}


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        ({"stage": "conversion"}, "rules", "expected a list"),
        ([5], "rules[0]", "expected an object"),
        ([GOOD, {"stage": "vip", "when": GOOD["when"]}], "rules[1].stage", "unknown stage 'vip'"),
        ([{"stage": "retention"}], "rules[0].when", "missing"),
        ([{**GOOD, "why": "x"}], "rules[0].why", "unknown key"),
        (
            [GOOD, {"stage": "repurchase", "when": {"type": "event", "event": "x", "count": {"value": -1}}}],
            "rules[1].when.count.value",
            "greater than or equal to 0",
        ),
        (
            [
                GOOD,
                GOOD,
                {"stage": "retention", "when": {"type": "or", "conditions": [GOOD["when"], {"type": "x"}]}},
            ],
            "rules[2].when.conditions[1]",
            "does not match any of the expected tags",
        ),
        (
            [GOOD, {"stage": "advocacy", "when": {"type": "tags", "tags": ["koc"]}}],
            "rules[1].when.tags",
            "unknown tag",
        ),
        (
            [{"stage": "dormant", "when": {"type": "segment", "segment": "nope"}}],
            "rules[0].when.segment",
            "unknown",
        ),
    ],
)
def test_invalid_rules_are_rejected_naming_rule_and_node(
    ctx: AppContext, wh: Warehouse, raw: Any, path: str, message: str
) -> None:
    with ctx.db.session() as s:
        svc = StageService(s, wh)
        with pytest.raises(StageRulesError) as caught:
            svc.set_rules(raw)
        assert caught.value.path == path
        assert message in caught.value.message
        assert str(caught.value).startswith(f"{path}: ")
        assert svc.rules() == [rule.dump() for rule in parse_rules(DEFAULT_RULES)]


# --- manual changes ------------------------------------------------------------------------------
def test_manual_set_stage_is_recorded(ctx: AppContext, wh: Warehouse) -> None:
    data = {"koc": [("track", "Order Completed", T1 - timedelta(days=2))], "other": []}
    send(ctx, data)
    assign(ctx, wh)
    cid = ids(ctx, data)["koc"]
    before = counts(ctx)
    at = T1 + timedelta(hours=1)
    with ctx.db.session() as s:
        change = StageService(s, wh).set_stage(
            cid, "advocacy", "joined the KOC programme", actor="ops@brand", at=at
        )
    assert change == {
        "contact_id": cid,
        "from": "conversion",
        "to": "advocacy",
        "reason": "joined the KOC programme",
        "at": at.isoformat(),
    }
    assert counts(ctx) == (before[0] + 1, before[1] + 1, before[2] + 1)
    with ctx.db.session() as s:
        svc = StageService(s, wh)
        assert svc.stage_of(cid) == "advocacy"
        assert svc.history(cid)[-1] == {k: change[k] for k in ("from", "to", "reason", "at")}
        event = s.scalars(
            select(Event).where(Event.event == "stage.changed", Event.contact_id == cid).order_by(Event.id)
        )
        assert list(event)[-1].properties == {
            "from": "conversion",
            "to": "advocacy",
            "reason": "joined the KOC programme",
            "actor": "ops@brand",
        }
        entry = audit.entries(s, action="stage.set")[0]
        assert (entry.actor, entry.target_id) == ("ops@brand", str(cid))
        # the same stage again records nothing; bad input is refused
        assert svc.set_stage(cid, "advocacy", "again") is None
        with pytest.raises(StageError, match="unknown stage 'vip'"):
            svc.set_stage(cid, "vip", "x")
        with pytest.raises(StageError, match="no contact"):
            svc.set_stage(10_000, "advocacy", "x")
    assert counts(ctx) == (before[0] + 1, before[1] + 1, before[2] + 1)
    # the warehouse mirror follows, so the next assignment sees the manual stage as current
    result = assign(ctx, wh, at)
    assert result.transitions == [{"from": "advocacy", "to": "conversion", "count": 1}]


def test_merged_contacts_are_not_classified(ctx: AppContext, wh: Warehouse) -> None:
    data = {"m1": [("track", "Order Completed", T1 - timedelta(days=1))], "m2": []}
    send(ctx, data)
    phone = "+8613912345678"
    Siyu(ctx).batch([{"type": "identify", "identifiers": {"phone": phone}}])
    first = assign(ctx, wh)
    assert first.evaluated == 3
    Siyu(ctx).batch([{"type": "identify", "userId": "m1", "identifiers": {"phone": phone}}])
    second = assign(ctx, wh)
    assert second.evaluated == 2 and second.changed == 0
    with ctx.db.session() as s:
        absorbed = s.scalar(select(Contact.id).where(Contact.merged_into_id.is_not(None)))
        assert absorbed is not None
        svc = StageService(s, wh)
        assert sum(svc.distribution().values()) == 2
        with pytest.raises(StageError, match="was merged into"):
            svc.set_stage(absorbed, "advocacy", "x")
