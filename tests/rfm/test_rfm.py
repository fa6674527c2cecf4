"""RFM scores: the service's scores and segments equal an independent pure-Python computation
(ties, junk amounts, windows, orders after as-of), recomputes write only the rows that changed,
rules are validated and editable, and a merge leaves one row for the survivor."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.rfm.schemas import DEFAULT_RULES, RfmSettingsError
from siyu.rfm.service import RfmResult, RfmService
from siyu.store.models import ContactChange, ContactRfm
from siyu.warehouse.store import Warehouse

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MISSING = object()
NUMERIC = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)$")

#: user → [(timestamp, amount)] of the orders sent (amount MISSING: no property)
Orders = dict[str, list[tuple[datetime, Any]]]


# --- an independent computation ------------------------------------------------------------------
def amount_of(value: Any) -> float | None:
    if isinstance(value, bool) or value is MISSING or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and NUMERIC.match(value):
        return float(value)
    return None


def expected_scores(
    orders: Orders, as_of: datetime, window_days: int | None = None, rules: list[dict[str, Any]] | None = None
) -> dict[str, tuple[float, int, float, int, int, int, str]]:
    """user → (recency_days, frequency, monetary, r, f, m, segment), written from the spec."""
    stats: dict[str, tuple[datetime, int, float]] = {}
    for user, rows in orders.items():
        kept = [
            (t, a)
            for t, a in rows
            if t <= as_of and (window_days is None or t >= as_of - timedelta(days=window_days))
        ]
        if kept:
            amounts = [x for _, a in kept if (x := amount_of(a)) is not None]
            stats[user] = (max(t for t, _ in kept), len(kept), round(sum(amounts), 6))
    n = len(stats)

    def score(user: str, i: int) -> int:
        mine = stats[user][i]
        rank = 1 + sum(1 for other in stats.values() if other[i] < mine)
        return 1 + (5 * (rank - 1)) // n

    out = {}
    for user, (last, freq, money) in stats.items():
        r, f, m = score(user, 0), score(user, 1), score(user, 2)
        seg = next(
            x["name"]
            for x in rules or DEFAULT_RULES
            if x["r"][0] <= r <= x["r"][1] and x["f"][0] <= f <= x["f"][1]
        )
        out[user] = ((as_of - last).total_seconds() / 86_400, freq, money, r, f, m, seg)
    return out


# --- helpers ------------------------------------------------------------------------------------
def send(ctx: AppContext, orders: Orders, event: str = "Order Completed", prop: str = "amount") -> None:
    calls = []
    for user, rows in orders.items():
        for k, (ts, amount) in enumerate(rows):
            calls.append(
                {
                    "type": "track",
                    "event": event,
                    "userId": user,
                    "messageId": f"{event}-{user}-{ts.isoformat()}-{k}",
                    "properties": {} if amount is MISSING else {prop: amount},
                    "timestamp": ts.isoformat(),
                }
            )
    result = Siyu(ctx).batch(calls)
    assert result.rejected == [] and result.accepted == len(calls)


def contact_of(ctx: AppContext, user: str) -> int:
    with ctx.db.session() as s:
        cid = ctx.profiles(s).resolve(ctx.parser.parse("customer_no", user))
    assert cid is not None
    return cid


def compute(ctx: AppContext, wh: Warehouse, as_of: datetime = T0) -> RfmResult:
    wh.feed(ctx.db)
    with ctx.db.session() as s:
        result = RfmService(s, wh).compute(as_of)
    wh.feed(ctx.db)
    return result


def stored(ctx: AppContext) -> dict[int, tuple[float, int, float, int, int, int, str]]:
    with ctx.db.session() as s:
        return {
            row.contact_id: (row.recency_days, row.frequency, row.monetary, row.r, row.f, row.m, row.segment)
            for row in s.scalars(select(ContactRfm))
        }


def assert_matches(ctx: AppContext, expected: dict[str, tuple[Any, ...]]) -> None:
    got = stored(ctx)
    want = {contact_of(ctx, user): row for user, row in expected.items()}
    assert sorted(got) == sorted(want)
    for cid, row in want.items():
        assert got[cid][0] == pytest.approx(row[0], abs=1e-9), cid
        assert got[cid][1:] == row[1:], cid


def changes(ctx: AppContext) -> list[int]:
    with ctx.db.session() as s:
        return list(s.scalars(select(ContactChange.contact_id).order_by(ContactChange.id)))


def random_orders(seed: int, users: int) -> Orders:
    rnd = random.Random(seed)
    days = [0.25, 1, 2, 2, 5, 10, 30, 30, 60, 100, 200, 400]  # repeats make recency ties
    out: Orders = {}
    for u in range(users):
        count = rnd.choice([1, 1, 2, 2, 3, 5, 8])
        out[f"u{u:03d}"] = [
            (T0 - timedelta(days=rnd.choice(days)), rnd.choice([10, 20, 20, 35.5, 99.99]))
            for _ in range(count)
        ]
    return out


@pytest.fixture
def orders() -> Iterator[Orders]:
    data = random_orders(7, 37)
    data["junk"] = [
        (T0 - timedelta(days=3), "abc"),
        (T0 - timedelta(days=4), MISSING),
        (T0 - timedelta(days=5), "n/a"),
        (T0 - timedelta(days=6), "30"),  # a numeric string counts
        (T0 - timedelta(days=7), True),
        (T0 - timedelta(days=8), None),
    ]
    data["all_junk"] = [(T0 - timedelta(days=9), "free"), (T0 - timedelta(days=9), MISSING)]
    data["old"] = [(T0 - timedelta(days=300), 500.0), (T0 - timedelta(days=250), 80.0)]
    data["future"] = [(T0 + timedelta(days=2), 42.0)]  # after as-of: not an order yet
    data["mixed"] = [(T0 - timedelta(days=1), 15.0), (T0 + timedelta(hours=1), 1000.0)]
    yield data


# --- scores ----------------------------------------------------------------------------------
def test_scores_and_segments_match_an_independent_computation(
    ctx: AppContext, wh: Warehouse, orders: Orders
) -> None:
    send(ctx, orders)
    Siyu(ctx).batch(  # other events, even with an amount, are not orders
        [{"type": "track", "event": "Page Viewed", "userId": "u000", "properties": {"amount": 1e6}}]
    )
    result = compute(ctx, wh)
    expected = expected_scores(orders, T0)
    assert "future" not in expected and "junk" in expected
    assert expected["junk"][1:3] == (6, 30.0) and expected["all_junk"][1:3] == (2, 0.0)
    assert_matches(ctx, expected)
    assert result.contacts == len(expected) and result.inserted == len(expected)
    assert result.updated == 0 and result.deleted == 0 and result.changed == len(expected)
    per_segment = {rule["name"]: 0 for rule in DEFAULT_RULES}
    for row in expected.values():
        per_segment[row[6]] += 1
    assert result.segments == per_segment
    # the data set exercises ties on every dimension and more than one segment
    for i in (0, 1, 2):
        values = [row[i] for row in expected.values()]
        assert len(set(values)) < len(values)
    assert sum(1 for v in per_segment.values() if v) >= 4


def test_ties_share_the_score_of_the_first_row_of_their_group(ctx: AppContext, wh: Warehouse) -> None:
    """Ten customers: six with one order, four with two. The six rank 1 → F 1; the four rank
    7 → F = 1 + floor(5 × 6 / 10) = 4. Recency: the oldest last order ranks first."""
    orders: Orders = {}
    for u in range(10):
        rows = [(T0 - timedelta(days=10 + u), 10.0)]
        if u >= 6:
            rows.append((T0 - timedelta(days=50), 10.0))
        orders[f"t{u}"] = rows
    send(ctx, orders)
    compute(ctx, wh)
    got = stored(ctx)
    f = [got[contact_of(ctx, f"t{u}")][4] for u in range(10)]
    m = [got[contact_of(ctx, f"t{u}")][5] for u in range(10)]
    r = [got[contact_of(ctx, f"t{u}")][3] for u in range(10)]
    assert f == [1] * 6 + [4] * 4
    assert m == [1] * 6 + [4] * 4
    # last orders 10..19 days ago; t9 is the oldest (rank 1), t0 the most recent (rank 10)
    assert r == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_a_window_drops_customers_whose_orders_are_all_older(
    ctx: AppContext, wh: Warehouse, orders: Orders
) -> None:
    send(ctx, orders)
    compute(ctx, wh)
    old = contact_of(ctx, "old")
    assert old in stored(ctx)
    with ctx.db.session() as s:
        RfmService(s, wh).set_config(
            {"event": "Order Completed", "amount_property": "amount", "window_days": 90}
        )
    before = len(changes(ctx))
    result = compute(ctx, wh)
    expected = expected_scores(orders, T0, window_days=90)
    assert "old" not in expected
    assert_matches(ctx, expected)
    assert result.deleted == sum(1 for u in orders if u != "future" and u not in expected) >= 1
    # exactly the contacts whose row changed were logged for the warehouse
    full = expected_scores(orders, T0)
    moved = {
        contact_of(ctx, u)
        for u in full
        if u not in expected or expected[u][1:] != full[u][1:] or abs(expected[u][0] - full[u][0]) > 1e-9
    }
    assert set(changes(ctx)[before:]) == moved and result.changed == len(moved)


def test_the_order_event_and_amount_property_are_configurable(ctx: AppContext, wh: Warehouse) -> None:
    send(
        ctx, {"a": [(T0 - timedelta(days=1), 5.0)], "b": [(T0 - timedelta(days=2), 7.0)]}, "Purchase", "total"
    )
    send(ctx, {"c": [(T0 - timedelta(days=1), 9.0)]})
    with ctx.db.session() as s:
        svc = RfmService(s, wh)
        with pytest.raises(RfmSettingsError, match=r"config.window_days"):
            svc.set_config({"event": "Purchase", "amount_property": "total", "window_days": 0})
        svc.set_config({"event": "Purchase", "amount_property": "total"})
    compute(ctx, wh)
    got = stored(ctx)
    assert sorted(got) == sorted([contact_of(ctx, "a"), contact_of(ctx, "b")])
    assert got[contact_of(ctx, "b")][2] == 7.0


# --- recompute ---------------------------------------------------------------------------------
def test_recompute_writes_only_the_rows_that_changed(ctx: AppContext, wh: Warehouse, orders: Orders) -> None:
    send(ctx, orders)
    compute(ctx, wh)
    before = stored(ctx)
    logged = len(changes(ctx))

    again = compute(ctx, wh)
    assert again.changed == 0 and stored(ctx) == before and len(changes(ctx)) == logged

    # time passing alone is not a change: ranks stay, recency is kept as of computed_at
    later = compute(ctx, wh, T0 + timedelta(minutes=30))  # before the next order ("mixed")
    assert later.changed == 0 and len(changes(ctx)) == logged
    junk = contact_of(ctx, "junk")
    with ctx.db.session() as s:
        seen = RfmService(s, wh).of(junk)
    assert seen is not None and seen["computed_at"] == T0.isoformat()
    assert datetime.fromisoformat(seen["last_order_at"]) == pytest.approx(
        T0 - timedelta(days=3), abs=timedelta(milliseconds=1)
    )

    # new orders for two customers (and one brand-new customer)
    extra: Orders = {
        "u001": [(T0 - timedelta(hours=2), 250.0)],
        "u002": [(T0 - timedelta(days=1), 10.0), (T0 - timedelta(days=1, hours=1), 10.0)],
        "newbie": [(T0 - timedelta(hours=1), 1.0)],
    }
    send(ctx, extra)
    combined = {u: orders.get(u, []) + extra.get(u, []) for u in {*orders, *extra}}
    old_expected = expected_scores(orders, T0)
    new_expected = expected_scores(combined, T0)
    result = compute(ctx, wh)
    assert_matches(ctx, new_expected)
    moved = {
        contact_of(ctx, u)
        for u, row in new_expected.items()
        if u not in old_expected or row[1:] != old_expected[u][1:] or abs(row[0] - old_expected[u][0]) > 1e-9
    }
    unmoved = {contact_of(ctx, u) for u in new_expected} - moved
    assert result.inserted == 1 and result.updated == len(moved) - 1 and result.deleted == 0
    assert set(changes(ctx)[logged:]) == moved
    after = stored(ctx)
    assert {c: after[c] for c in unmoved} == {c: before[c] for c in unmoved}
    assert len(unmoved) > len(orders) // 2  # most rows were left alone


def test_a_merge_leaves_one_row_for_the_survivor(ctx: AppContext, wh: Warehouse) -> None:
    client = Siyu(ctx)
    send(ctx, {"member-1": [(T0 - timedelta(days=3), 20.0)], "member-2": [(T0 - timedelta(days=9), 5.0)]})
    phone = "+8613912345678"
    client.batch(
        [
            {
                "type": "track",
                "event": "Order Completed",
                "identifiers": {"phone": phone},
                "properties": {"amount": amount},
                "timestamp": (T0 - timedelta(days=days)).isoformat(),
            }
            for days, amount in [(1, 30.0), (40, 12.5)]
        ]
    )
    compute(ctx, wh)
    assert len(stored(ctx)) == 3
    survivor = contact_of(ctx, "member-1")
    client.identify({"customer_no": "member-1", "phone": phone})
    result = compute(ctx, wh)
    rows = stored(ctx)
    assert sorted(rows) == sorted([survivor, contact_of(ctx, "member-2")])
    assert rows[survivor][1:3] == (3, 62.5)
    assert rows[survivor][0] == pytest.approx(1.0)
    assert result.deleted == 0 and result.contacts == 2
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ContactRfm)) == 2


# --- rules and reporting -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x"}, r"^rules: expected a list"),
        ([], r"^rules: List should have at least 1 item"),
        (
            [{"name": "Most", "r": [1, 5], "f": [1, 4]}, {"name": "Top", "r": [1, 4], "f": [5, 5]}],
            r"^rules: no rule covers the \(R, F\) cells r5 f5$",
        ),
        ([{"name": "All", "r": [0, 5], "f": [1, 5]}], r"^rules\[0\]\.r: must be \[low, high\]"),
        ([{"name": "All", "r": [1, 5], "f": [4, 2]}], r"^rules\[0\]\.f: must be \[low, high\]"),
        ([{"name": "All", "r": [1, 5]}], r"^rules\[0\]\.f: Field required"),
        ([{"name": "All", "r": [1, 5], "f": [1, 5], "m": [1, 5]}], r"^rules\[0\]\.m: Extra inputs"),
        ([{"name": "x" * 33, "r": [1, 5], "f": [1, 5]}], r"^rules\[0\]\.name: String should have at most 32"),
        (
            [{"name": "A", "r": [1, 5], "f": [1, 5]}, {"name": "A", "r": [1, 1], "f": [1, 1]}],
            r"^rules: rule names must be unique \(repeated: A\)",
        ),
    ],
)
def test_bad_rules_are_rejected_with_a_clear_message(
    ctx: AppContext, wh: Warehouse, raw: Any, message: str
) -> None:
    with ctx.db.session() as s:
        svc = RfmService(s, wh)
        with pytest.raises(RfmSettingsError, match=message):
            svc.set_rules(raw)
        assert svc.rules() == DEFAULT_RULES


def test_custom_rules_change_segments(ctx: AppContext, wh: Warehouse, orders: Orders) -> None:
    send(ctx, orders)
    compute(ctx, wh)
    custom = [
        {"name": "Fresh", "r": [4, 5], "f": [1, 5]},
        {"name": "Frequent", "r": [1, 3], "f": [3, 5]},
        {"name": "Fading", "r": [1, 3], "f": [1, 2]},
    ]
    with ctx.db.session() as s:
        assert RfmService(s, wh).set_rules(custom) == custom
    with ctx.db.session() as s:
        assert RfmService(s, wh).rules() == custom
    result = compute(ctx, wh)
    expected = expected_scores(orders, T0, rules=custom)
    assert_matches(ctx, expected)
    assert result.updated == len(expected)  # every old segment name is gone
    assert set(result.segments) == {"Fresh", "Frequent", "Fading"}
    with ctx.db.session() as s:
        dist = RfmService(s, wh).distribution()
    assert dist["segments"] == result.segments and dist["total"] == len(expected)


def test_distribution_and_one_contacts_scores(ctx: AppContext, wh: Warehouse, orders: Orders) -> None:
    send(ctx, orders)
    compute(ctx, wh)
    expected = expected_scores(orders, T0)
    junk_id, future_id = contact_of(ctx, "junk"), contact_of(ctx, "future")
    with ctx.db.session() as s:
        svc = RfmService(s, wh)
        dist = svc.distribution()
        junk = svc.of(junk_id)
        assert svc.of(future_id) is None
    grid = [[0] * 5 for _ in range(5)]
    segments = {rule["name"]: 0 for rule in DEFAULT_RULES}
    for row in expected.values():
        grid[row[3] - 1][row[4] - 1] += 1
        segments[row[6]] += 1
    assert dist == {"total": len(expected), "segments": segments, "grid": grid}
    assert junk is not None
    want = expected["junk"]
    assert (junk["frequency"], junk["monetary"], junk["r"], junk["f"], junk["m"], junk["segment"]) == want[1:]
    assert junk["recency_days"] == pytest.approx(3.0)
