"""Segment leaves over the loyalty programme (``tier``, ``points``, ``points_expiring``,
``coupons``) through the warehouse mirror, on SQLite and PostgreSQL. State is written the way
the ledger and the coupon service write it (rows plus ``note_changed``), then fed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from tests.segments.conftest import AS_OF

from siyu.loyalty.ledger import Ledger
from siyu.segments.schemas import SegmentDefinitionError
from siyu.store.changes import note_changed
from siyu.store.models import Contact, Coupon, CouponTemplate, LoyaltyMember, LoyaltyTier, PointsEntry

DAY = timedelta(days=1)


def award(
    cid: int, points: int, *, status: str = "active", expires: timedelta | None = None, n: int = 0
) -> Any:
    """Active awards were released a month before AS_OF; pending ones are released 5 days after."""
    return PointsEntry(
        available_at=AS_OF + (5 * DAY if status == "pending" else -30 * DAY),
        contact_id=cid,
        kind="award",
        points=points,
        remaining=points,
        status=status,
        source="manual",
        reason="test",
        external_id=f"t:{cid}:{points}:{status}:{n}",
        expires_at=AS_OF + expires if expires is not None else None,
    )


@pytest.fixture
def loyal(env: Any) -> dict[str, Any]:
    """c1 gold, c2 silver, c3 basic, c4 a member without a tier, c5 not a member, c6 a gold
    member whose card is frozen."""
    with env.session() as s:
        ids = []
        for _ in range(6):
            c = Contact()
            s.add(c)
            s.flush()
            ids.append(c.id)
        c1, c2, c3, c4, _c5, c6 = ids
        tiers = {}
        for rank, key in enumerate(["basic", "silver", "gold"]):
            t = LoyaltyTier(key=key, name=key, rank=rank, threshold=Decimal(rank * 1000))
            s.add(t)
            s.flush()
            tiers[key] = t.id
        for n, (cid, tier, status) in enumerate(
            [
                (c1, "gold", "active"),
                (c2, "silver", "active"),
                (c3, "basic", "active"),
                (c4, None, "active"),
                (c6, "gold", "frozen"),
            ]
        ):
            s.add(
                LoyaltyMember(contact_id=cid, member_no=f"M{n}", tier_id=tiers.get(tier or ""), status=status)
            )
        s.add_all(
            [
                award(c1, 200, expires=10 * DAY),
                award(c1, 300),
                award(c1, 100, status="pending", expires=400 * DAY),
                award(c2, 50, expires=40 * DAY),
                award(c2, 70, status="expired", expires=-DAY),  # gone: counts nowhere
                award(c4, 5, expires=-DAY),  # past its date, not yet expired by the job: gone
            ]
        )
        spent = award(c3, 80, expires=5 * DAY)
        spent.remaining = 0
        s.add(spent)
        t1 = CouponTemplate(key="welcome", name="Welcome", kind="fixed", amount=Decimal(10))
        t2 = CouponTemplate(key="birthday", name="Birthday", kind="fixed", amount=Decimal(20))
        s.add_all([t1, t2])
        s.flush()
        coupon = 0

        def cp(cid: int | None, t: CouponTemplate, status: str, expires: timedelta | None) -> Coupon:
            nonlocal coupon
            coupon += 1
            return Coupon(
                template_id=t.id,
                code=f"C{coupon:04d}",
                contact_id=cid,
                status=status,
                expires_at=AS_OF + expires if expires is not None else None,
            )

        s.add_all(
            [
                cp(c1, t1, "issued", 30 * DAY),
                cp(c1, t1, "issued", None),
                cp(c2, t1, "redeemed", 30 * DAY),
                cp(c3, t1, "issued", -DAY),  # past its date: expired, not unused
                cp(c4, t2, "issued", 3 * DAY),
                cp(c4, t2, "expired", -DAY),
                cp(None, t1, "unassigned", 30 * DAY),
            ]
        )
        note_changed(s, ids)
    return {"ids": ids, **dict(zip(["c1", "c2", "c3", "c4", "c5", "c6"], ids, strict=True))}


def test_tier_conditions(env: Any, loyal: dict[str, Any]) -> None:
    c1, c2, c3, c4 = loyal["c1"], loyal["c2"], loyal["c3"], loyal["c4"]
    assert env.preview_ids({"type": "tier", "tiers": ["gold"]}) == [c1]
    assert env.preview_ids({"type": "tier", "at_least": "silver"}) == [c1, c2]
    assert env.preview_ids({"type": "tier"}) == sorted([c1, c2, c3, c4])  # any active member
    everyone = set(loyal["ids"])
    assert set(env.preview_ids({"type": "not", "condition": {"type": "tier"}})) == everyone - {c1, c2, c3, c4}


def test_points_conditions(env: Any, loyal: dict[str, Any]) -> None:
    c1, c2, c3, c4, c5, c6 = (loyal[k] for k in ("c1", "c2", "c3", "c4", "c5", "c6"))
    assert env.preview_ids({"type": "points", "op": "gte", "value": 500}) == [c1]
    assert env.preview_ids({"type": "points", "op": "gt", "value": 0}) == sorted([c1, c2])
    assert env.preview_ids({"type": "points", "balance": "pending", "op": "eq", "value": 100}) == [c1]
    # no points at all reads as 0: non-members match "below 10" unless combined with tier
    assert env.preview_ids({"type": "points", "op": "lt", "value": 10}) == sorted([c3, c4, c5, c6])
    both = {"type": "and", "conditions": [{"type": "tier"}, {"type": "points", "op": "lt", "value": 10}]}
    assert env.preview_ids(both) == sorted([c3, c4])
    # a week on, c1's pending 100 is released (before the job runs) and 200 have expired
    later = AS_OF + 7 * DAY
    assert env.preview_ids({"type": "points", "op": "eq", "value": 300}, as_of=later) == []
    assert env.preview_ids({"type": "points", "op": "eq", "value": 600}, as_of=later) == [c1]
    assert env.preview_ids({"type": "points", "op": "eq", "value": 400}, as_of=later + 5 * DAY) == [c1]
    assert (
        env.preview_ids({"type": "points", "balance": "pending", "op": "gt", "value": 0}, as_of=later) == []
    )


def test_points_expiring_moves_with_the_calendar(env: Any, loyal: dict[str, Any]) -> None:
    c1, c2 = loyal["c1"], loyal["c2"]
    within = {"type": "points_expiring", "within_days": 30}
    assert env.preview_ids(within) == [c1]  # 200 in 10 days; c2's 50 in 40 days; c3's spent
    assert env.preview_ids({**within, "within_days": 45}) == [c1, c2]
    assert env.preview_ids({**within, "within_days": 45, "op": "gte", "value": 100}) == [c1]
    assert env.preview_ids({**within, "within_days": 9}) == []
    # 20 days later c1's points are past their date and c2's are now within 30 days
    assert env.preview_ids(within, as_of=AS_OF + 20 * DAY) == [c2]
    with env.ctx.db.session() as s:
        from siyu.segments.service import SegmentService

        assert SegmentService(s, env.wh).preview(within, as_of=AS_OF).incremental is False


def test_coupon_conditions(env: Any, loyal: dict[str, Any]) -> None:
    c1, c2, c3, c4 = loyal["c1"], loyal["c2"], loyal["c3"], loyal["c4"]
    assert env.preview_ids({"type": "coupons"}) == [c1, c4]  # unused
    assert env.preview_ids({"type": "coupons", "count": {"op": "gte", "value": 2}}) == [c1]
    assert env.preview_ids({"type": "coupons", "templates": ["birthday"]}) == [c4]
    assert env.preview_ids({"type": "coupons", "state": "redeemed"}) == [c2]
    assert env.preview_ids({"type": "coupons", "state": "expired"}) == [c3, c4]
    assert env.preview_ids({"type": "coupons", "state": "held"}) == [c1, c2, c3, c4]
    assert env.preview_ids({"type": "coupons", "state": "held", "count": {"op": "eq", "value": 0}}) == sorted(
        [loyal["c5"], loyal["c6"]]
    )
    # a week on, c4's birthday coupon has lapsed
    assert env.preview_ids({"type": "coupons"}, as_of=AS_OF + 7 * DAY) == [c1]


def test_changes_are_reshipped(env: Any, loyal: dict[str, Any]) -> None:
    c1, c2 = loyal["c1"], loyal["c2"]
    with env.session() as s:  # c1 spends through the ledger (earliest expiry first); c2 moves up
        Ledger(s, now=AS_OF, tz="Asia/Shanghai").spend(c1, 450, reason="gift", external_id="s1")
        gold = s.query(LoyaltyTier).filter_by(key="gold").one()
        s.execute(update(LoyaltyMember).where(LoyaltyMember.contact_id == c2).values(tier_id=gold.id))
        note_changed(s, [c2])
    assert env.preview_ids({"type": "points", "op": "eq", "value": 50}) == [c1, c2]  # c2 had 50
    assert env.preview_ids({"type": "points_expiring", "within_days": 30}) == []  # the 200 went first
    assert env.preview_ids({"type": "tier", "tiers": ["gold"]}) == [c1, c2]


@pytest.mark.parametrize(
    ("definition", "path", "message"),
    [
        ({"type": "tier", "tiers": ["platinum"]}, "definition.tiers[0]", "unknown tier"),
        ({"type": "tier", "at_least": "platinum"}, "definition.at_least", "unknown tier"),
        ({"type": "coupons", "templates": ["welcome", "nope"]}, "definition.templates[1]", "unknown coupon"),
        ({"type": "tier", "tiers": ["gold"], "at_least": "gold"}, "definition", "not both"),
        ({"type": "points", "value": 2**40}, "definition.value", "less than or equal"),
        ({"type": "points_expiring", "within_days": -1}, "definition.within_days", "greater than"),
        ({"type": "coupons", "state": "lost"}, "definition.state", "'unused'"),
    ],
)
def test_bad_conditions_name_the_node(
    env: Any, loyal: dict[str, Any], definition: Any, path: str, message: str
) -> None:
    with pytest.raises(SegmentDefinitionError) as err:
        env.preview_ids(definition)
    assert err.value.path == path
    assert message in err.value.message
