"""The demo brand's orders, membership, ledger and coupons: every ``Order Completed`` event is one
order; refunds add up; the points ledger holds what ``siyu loyalty verify`` checks (re-stated
here independently: remaining = points − draws, every movement is its draws, draws within the
award's life, balances are sums of entries); tiers follow their history; coupons and the holdout
agree with the orders; the same seed gives the same rows; the analyses run on it."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from tests.demo.test_generator import fresh_context

from siyu.analytics.base import run_analysis
from siyu.context import AppContext
from siyu.demo.generator import DemoConfig, generate
from siyu.store.models import (
    Coupon,
    CouponHoldout,
    CouponTemplate,
    Event,
    LoyaltyMember,
    LoyaltyTier,
    Order,
    OrderRefund,
    PointsDraw,
    PointsEntry,
    TierChange,
)

END = datetime(2024, 6, 1, tzinfo=UTC)
CONFIG = DemoConfig(contacts=800, days=60, seed=9, end=END)


def rows(ctx: AppContext, *columns: Any) -> list[tuple[Any, ...]]:
    with ctx.db.session() as s:
        return [tuple(r) for r in s.execute(select(*columns).order_by(*columns[:1]))]


@pytest.fixture
def demo(ctx: AppContext) -> dict[str, Any]:
    return generate(ctx, CONFIG)


def test_orders_are_the_order_events_and_refunds_add_up(ctx: AppContext, demo: dict[str, Any]) -> None:
    with ctx.db.session() as s:
        events = {
            e.properties["order_id"]: e
            for e in s.scalars(select(Event).where(Event.event == "Order Completed"))
        }
        orders = list(s.scalars(select(Order)))
        refunds = defaultdict(list)
        for r in s.scalars(select(OrderRefund)):
            refunds[r.order_id].append(r.amount)
    assert len(orders) == len(events) == demo["orders"] == demo["loyalty"]["orders"]
    for o in orders:
        e = events[o.order_no]
        assert o.contact_id == e.contact_id and o.ordered_at == e.timestamp.replace(tzinfo=UTC)
        assert float(o.total) == pytest.approx(e.properties["amount"])
        assert o.refunded == sum(refunds.get(o.id, []))
        expected = (
            "completed" if not o.refunded else ("refunded" if o.refunded == o.total else "partially_refunded")
        )
        assert o.status == expected
    assert 0 < demo["loyalty"]["refunds"] < len(orders) * 0.1


def test_the_ledger_holds_what_verify_checks(ctx: AppContext, demo: dict[str, Any]) -> None:
    with ctx.db.session() as s:
        entries = {e.id: e for e in s.scalars(select(PointsEntry))}
        draws = list(s.scalars(select(PointsDraw)))
        members = {m.contact_id: m for m in s.scalars(select(LoyaltyMember))}
    assert len(members) == demo["loyalty"]["members"] > 50
    from_award: dict[int, int] = defaultdict(int)
    of_entry: dict[int, int] = defaultdict(int)
    for d in draws:
        entry, award = entries[d.entry_id], entries[d.award_id]
        assert d.points > 0 and award.kind == "award" and entry.kind != "award"
        assert d.contact_id == entry.contact_id == award.contact_id
        if entry.kind == "spend":  # released, not expired, when spent
            assert award.available_at <= entry.created_at < award.expires_at
        if entry.kind == "expire":
            assert award.expires_at <= entry.created_at
        from_award[award.id] += d.points
        of_entry[entry.id] += d.points
    kinds: dict[str, int] = defaultdict(int)
    balance: dict[int, int] = defaultdict(int)
    held: dict[int, int] = defaultdict(int)
    for e in entries.values():
        kinds[e.kind] += 1
        balance[e.contact_id] += e.points
        assert e.contact_id in members
        if e.kind == "award":
            assert e.remaining == e.points - from_award[e.id] and 0 <= e.remaining <= e.points
            assert e.status in ("active", "pending", "expired", "voided")
            if e.status in ("expired", "voided"):
                assert e.remaining == 0
            if e.status == "pending":
                assert e.available_at > END
            held[e.contact_id] += e.remaining
        else:
            assert e.points < 0 and -e.points == of_entry[e.id], e.id
    assert balance == held  # every balance is the sum of its entries
    assert all(kinds[k] > 0 for k in ("award", "spend", "expire", "clawback")), kinds


def test_tiers_follow_their_history_and_coupons_their_orders(ctx: AppContext, demo: dict[str, Any]) -> None:
    with ctx.db.session() as s:
        tiers = {t.id: t.key for t in s.scalars(select(LoyaltyTier))}
        last: dict[int, int | None] = {}
        for c in s.scalars(select(TierChange).order_by(TierChange.at, TierChange.id)):
            last[c.contact_id] = c.to_tier_id
        members = list(s.scalars(select(LoyaltyMember)))
        templates = {t.id: t.key for t in s.scalars(select(CouponTemplate))}
        coupons = list(s.scalars(select(Coupon)))
        orders = {(o.source, o.order_no): o for o in s.scalars(select(Order))}
        held_out = {h.contact_id for h in s.scalars(select(CouponHoldout))}
    assert sorted(tiers.values()) == ["gold", "normal", "silver"]
    assert all(last[m.contact_id] == m.tier_id for m in members)
    counts = defaultdict(int, {tiers[m.tier_id]: 1 for m in members})
    assert counts["normal"] and counts["silver"]
    redeemed = [c for c in coupons if c.status == "redeemed"]
    assert redeemed and len({c.code for c in coupons}) == len(coupons)
    for c in redeemed:
        o = orders[(c.order_source, c.order_no)]
        assert o.coupon_code == c.code and o.discount == c.discount and c.issued_at < o.ordered_at
    spring = {c.contact_id for c in coupons if templates[c.template_id] == "spring5"}
    assert held_out and spring and not held_out & spring


def test_the_analyses_run_on_the_demo_and_agree_with_the_ledger(
    ctx: AppContext, demo: dict[str, Any]
) -> None:
    with ctx.db.session() as s:
        held = sum(
            s.scalars(select(PointsEntry.remaining).where(PointsEntry.status.in_(("active", "pending"))))
        )
        liability = run_analysis("points_liability", {"timezone": "Asia/Shanghai"}, None, s).to_dict()
        coupons = run_analysis("coupons", {"timezone": "Asia/Shanghai"}, None, s).to_dict()
        tiers = run_analysis("tiers", {"to": "2024-05-31"}, None, s).to_dict()
    assert liability["outstanding"]["points"] == held > 0
    assert liability["breakage"]["breakage_rate"] is not None
    spring = next(r for r in coupons["rows"] if r["template"] == "spring5")
    assert spring["holdout_contacts"] > 0 and spring["roi"] is not None
    assert sum(r["members"] for r in tiers["distribution"]) == demo["loyalty"]["members"]


def test_the_same_seed_gives_the_same_loyalty_rows(ctx: AppContext, tmp_path: Path) -> None:
    config = DemoConfig(contacts=300, days=30, seed=4, end=END)
    columns = (
        PointsEntry.id,
        PointsEntry.contact_id,
        PointsEntry.kind,
        PointsEntry.points,
        PointsEntry.remaining,
    )
    generate(ctx, config)
    first = (
        rows(ctx, *columns),
        rows(ctx, Coupon.id, Coupon.code, Coupon.status),
        rows(ctx, Order.id, Order.total),
    )
    with fresh_context(ctx.db.dialect, tmp_path / "again", ctx.settings.secret_key) as other:
        generate(other, config)
        second = (
            rows(other, *columns),
            rows(other, Coupon.id, Coupon.code, Coupon.status),
            rows(other, Order.id, Order.total),
        )
    assert first == second and first[0] and first[1]
