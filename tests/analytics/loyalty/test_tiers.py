"""``tiers``: the distribution now (every tier, empty ones too) and the migration matrix over
March in Beijing, read from a hand-made tier history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from tests.analytics.loyalty.rows import ZONE, bj, contacts, run, utc

from siyu.context import AppContext
from siyu.store.models import LoyaltyMember, LoyaltyTier, TierChange

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def history(ctx: AppContext) -> None:
    """Tier history (changes before Beijing midnight 03-01 = 02-28 16:00 UTC set the start):
    c1 normal (Jan), silver at 01:00 Beijing 03-01 (inside), gold 03-20 → normal → gold (up)
    c2 silver (Feb), normal 03-10, silver 03-25                     → silver → silver (same)
    c3 enrols 03-05                                                 → none → normal (joined)
    c4 silver (Feb 15), normal at 01:00 Beijing 04-01 (after the end) → silver → silver (same)
    c5 normal (Jan), tier removed 03-15                             → normal → none (left)
    c6 enrols in April                                              → not counted
    c7 enrol and upgrade at the same instant in January (ids order them) → silver → silver
    Members now: c1 gold, c2 silver, c3 and c4 normal, c5 without a tier; nobody is bronze."""
    with ctx.db.session() as s:
        tiers = {}
        for rank, (key, name, en) in enumerate(
            (("normal", "普通会员", "Member"), ("silver", "银卡", "Silver"), ("gold", "金卡", "Gold"))
        ):
            tiers[key] = LoyaltyTier(key=key, name=name, name_en=en, rank=rank + 1, threshold=rank * 1000)
        tiers["bronze"] = LoyaltyTier(key="bronze", name="铜卡", name_en=None, rank=0)
        s.add_all(tiers.values())
        s.flush()
        c = contacts(s, 7)
        t = {k: v.id for k, v in tiers.items()}
        for i, tier in enumerate(("gold", "silver", "normal", "normal", None)):
            s.add(LoyaltyMember(contact_id=c[i], member_no=f"M{i}", tier_id=t[tier] if tier else None))

        def change(i: int, frm: str | None, to: str | None, at: datetime, kind: str = "upgrade") -> None:
            s.add(
                TierChange(
                    contact_id=c[i],
                    from_tier_id=t[frm] if frm else None,
                    to_tier_id=t[to] if to else None,
                    kind=kind,
                    at=at,
                )
            )
            s.flush()

        jan = bj("2026-01-01 10:00")
        change(0, None, "normal", jan, "enrol")
        change(0, "normal", "silver", utc("2026-02-28 17:00"))
        change(0, "silver", "gold", bj("2026-03-20 10:00"))
        change(1, None, "normal", jan, "enrol")
        change(1, "normal", "silver", bj("2026-02-01 10:00"))
        change(1, "silver", "normal", bj("2026-03-10 10:00"), "downgrade")
        change(1, "normal", "silver", bj("2026-03-25 10:00"))
        change(2, None, "normal", bj("2026-03-05 10:00"), "enrol")
        change(3, None, "normal", jan, "enrol")
        change(3, "normal", "silver", bj("2026-02-15 10:00"))
        change(3, "silver", "normal", bj("2026-04-01 01:00"), "downgrade")
        change(4, None, "normal", jan, "enrol")
        change(4, "normal", None, bj("2026-03-15 10:00"), "manual")
        change(5, None, "gold", bj("2026-04-10 10:00"), "enrol")
        change(6, None, "normal", jan, "enrol")
        change(6, "normal", "silver", jan)
        s.commit()


def test_distribution_and_migration_matrix(ctx: AppContext, history: None, snapshot: Any) -> None:
    result = run(ctx, "tiers", **MARCH, timezone=ZONE)
    payload = result.to_dict()
    assert [(r["tier"], r["tier_name"], r["members"], r["share"]) for r in payload["distribution"]] == [
        ("bronze", "铜卡", 0, 0.0),
        ("normal", "普通会员", 2, 0.4),
        ("silver", "银卡", 1, 0.2),
        ("gold", "金卡", 1, 0.2),
        ("none", "无等级", 1, 0.2),
    ]
    assert payload["distribution"][0]["tier_name_en"] == "铜卡"  # no English name: the brand's name
    assert [(r["from_tier"], r["to_tier"], r["movement"], r["members"]) for r in payload["migration"]] == [
        ("normal", "gold", "up", 1),
        ("normal", "none", "left", 1),
        ("silver", "silver", "same", 3),
        ("none", "normal", "joined", 1),
    ]
    assert result.frame().column_names[:2] == ["tier", "tier_name"]  # the default main table
    snapshot(f"tiers_{ctx.db.dialect}", result.sql)
    zh = result.figure(lang="zh")
    assert list(zh.data[0].x) == ["铜卡", "普通会员", "银卡", "金卡", "无等级"]
    heat = zh.data[1]
    assert list(heat.y) == ["铜卡", "普通会员", "银卡", "金卡", "非会员"]
    assert heat.z[2][2] == 3 and heat.z[1][3] == 1 and heat.z[4][1] == 1


def test_migration_as_the_main_table_and_in_utc(ctx: AppContext, history: None) -> None:
    """In UTC the end is 04-01 00:00 UTC, after c4's downgrade (03-31 17:00 UTC): down."""
    result = run(ctx, "tiers", **MARCH, timezone="UTC", table="migration")
    assert result.frame().column_names[:2] == ["from_tier", "from_name"]
    moves = {(r["from_tier"], r["to_tier"]): r["members"] for r in result.frame().to_pylist()}
    assert moves[("silver", "normal")] == 1 and moves[("silver", "silver")] == 2
    # c1's upgrade to silver (03-01 01:00 Beijing) is still before the UTC start: silver → gold
    assert moves[("silver", "gold")] == 1 and ("normal", "gold") not in moves


def test_no_programme_yet(ctx: AppContext) -> None:
    payload = run(ctx, "tiers", **MARCH).to_dict()
    assert payload["distribution"] == [] and payload["migration"] == []
