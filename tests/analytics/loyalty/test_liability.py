"""``points_liability`` on a hand-made ledger: outstanding points by the brand's month of
expiry (an award expiring at Beijing midnight on 07-01 is July's in Beijing, June's in UTC),
liability at the programme's point value, and breakage over March."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session
from tests.analytics.loyalty.rows import ZONE, bj, contacts, run, utc

from siyu.context import AppContext
from siyu.store.models import LoyaltyProgramme, PointsDraw, PointsEntry

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def entry(
    s: Session,
    contact: int,
    kind: str,
    points: int,
    created: datetime,
    remaining: int = 0,
    status: str = "active",
    expires: datetime | None = None,
) -> PointsEntry:
    row = PointsEntry(
        contact_id=contact,
        kind=kind,
        points=points,
        remaining=remaining,
        status=status,
        source="order" if kind == "award" else "manual",
        reason="test",
        expires_at=expires,
        created_at=created,
    )
    s.add(row)
    s.flush()
    return row


@pytest.fixture
def ledger(ctx: AppContext) -> None:
    """Awards (created; points, remaining, status, expiry):
    A1 03-02 1000, 400 left, active, expires 2026-07-01 00:00 Beijing (06-30 16:00 UTC)
    A2 03-03  500, 500 left, pending, 06-15          A3 01-10 300, 300 left, active, 06-20
    A4 03-04  200, spent,    active, 08-01           A5 03-05 100, expired
    A6 03-06   50, voided (refunded while pending)   A7 03-07  70, 70 left, never expires
    → outstanding 2026-06: 300 active + 500 pending; 2026-07: 400 active; never: 70 active.
    Movements: spend −600 on 03-10 (from A1), spend −200 at 01:00 Beijing on 04-01 (A4), expire
    −100 on 03-15 (A5), expire −300 on 02-10, clawback −40 on 03-12.
    March: awarded 1000 + 500 + 200 + 100 + 70 = 1870, spent 600, expired 100, clawed back 40,
    breakage 100 / 700."""
    with ctx.db.session() as s:
        s.add(LoyaltyProgramme(point_value="0.05"))
        c = contacts(s, 1)[0]
        a1 = entry(s, c, "award", 1000, bj("2026-03-02 10:00"), 400, expires=utc("2026-06-30 16:00"))
        entry(s, c, "award", 500, bj("2026-03-03 10:00"), 500, "pending", utc("2026-06-15 00:00"))
        entry(s, c, "award", 300, bj("2026-01-10 10:00"), 300, expires=utc("2026-06-20 00:00"))
        a4 = entry(s, c, "award", 200, bj("2026-03-04 10:00"), 0, expires=utc("2026-08-01 00:00"))
        a5 = entry(s, c, "award", 100, bj("2026-03-05 10:00"), 0, "expired", utc("2026-03-15 00:00"))
        entry(s, c, "award", 50, bj("2026-03-06 10:00"), 0, "voided", utc("2026-09-01 00:00"))
        entry(s, c, "award", 70, bj("2026-03-07 10:00"), 70)
        for award, kind, points, at in (
            (a1, "spend", -600, bj("2026-03-10 10:00")),
            (a4, "spend", -200, bj("2026-04-01 01:00")),
            (a5, "expire", -100, bj("2026-03-15 10:00")),
        ):
            moved = entry(s, c, kind, points, at)
            s.add(PointsDraw(contact_id=c, entry_id=moved.id, award_id=award.id, points=-points))
        entry(s, c, "expire", -300, bj("2026-02-10 10:00"))
        entry(s, c, "clawback", -40, bj("2026-03-12 10:00"))
        s.commit()


def test_liability_by_month_of_expiry_and_breakage(ctx: AppContext, ledger: None, snapshot: Any) -> None:
    result = run(ctx, "points_liability", **MARCH, timezone=ZONE)
    payload = result.to_dict()
    assert payload["rows"] == [
        {"month": "2026-06", "active_points": 300, "pending_points": 500, "points": 800, "liability": 40.0},
        {"month": "2026-07", "active_points": 400, "pending_points": 0, "points": 400, "liability": 20.0},
        {"month": None, "active_points": 70, "pending_points": 0, "points": 70, "liability": 3.5},
    ]
    assert payload["outstanding"] == {
        "active_points": 770,
        "pending_points": 500,
        "points": 1270,
        "liability": 63.5,
    }
    assert payload["point_value"] == 0.05 and payload["programme"] is True
    assert payload["breakage"] == {
        "awarded_points": 1870,
        "spent_points": 600,
        "expired_points": 100,
        "clawed_back_points": 40,
        "breakage_rate": round(100 / 700, 6),
        "expired_value": 5.0,
        "spent_value": 30.0,
    }
    snapshot(f"points_liability_{ctx.db.dialect}", result.sql)
    zh = result.figure(lang="zh")
    assert [t.name for t in zh.data] == ["可用积分", "待生效积分"]
    assert list(zh.data[0].x) == ["2026-06", "2026-07", "永久有效"]
    assert list(zh.data[1].y) == [25.0, 0.0, 0.0]  # 500 pending points in June × ¥0.05


def test_utc_puts_the_midnight_expiry_in_june_and_the_april_spend_in_march(
    ctx: AppContext, ledger: None
) -> None:
    payload = run(ctx, "points_liability", **MARCH, timezone="UTC").to_dict()
    assert [(r["month"], r["active_points"]) for r in payload["rows"]] == [("2026-06", 700), (None, 70)]
    assert payload["breakage"]["spent_points"] == 800  # 01:00 Beijing on 04-01 is 03-31 in UTC
    assert payload["breakage"]["breakage_rate"] == round(100 / 900, 6)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London"])
def test_a_zone_with_daylight_saving_buckets_by_its_own_offsets(ctx: AppContext, zone: str) -> None:
    """New York is UTC−4 in summer, London UTC+1: 2026-07-01 02:00 UTC is June in New York and
    July in London (SQLite has no zone database: it buckets by hour and converts in Python)."""
    with ctx.db.session() as s:
        c = contacts(s, 1)[0]
        entry(s, c, "award", 10, utc("2026-01-01 00:00"), 10, expires=utc("2026-07-01 02:00"))
        entry(s, c, "award", 5, utc("2026-01-01 00:00"), 5, expires=utc("2026-12-01 03:00"))
        s.commit()
    rows = run(ctx, "points_liability", timezone=zone).to_dict()["rows"]
    july = "2026-06" if zone == "America/New_York" else "2026-07"
    assert [(r["month"], r["points"]) for r in rows] == [
        (july, 10),
        ("2026-11" if zone == "America/New_York" else "2026-12", 5),
    ]
    assert rows[0]["liability"] == 0.1  # no programme yet: the default ¥0.01 a point


def test_an_empty_ledger_reports_nothing_and_an_unknown_breakage(ctx: AppContext) -> None:
    payload = run(ctx, "points_liability", **MARCH).to_dict()
    assert payload["rows"] == [] and payload["outstanding"]["points"] == 0
    assert payload["programme"] is False and payload["point_value"] == 0.01
    assert payload["breakage"]["breakage_rate"] is None


def test_points_beyond_32_bits_and_a_large_point_value_do_not_overflow(ctx: AppContext) -> None:
    """Two awards near the Integer maximum sum past 2³¹ (PostgreSQL's sum of integers is a
    bigint); ¥1,000 a point makes a liability in the trillions, exact to the fen."""
    with ctx.db.session() as s:
        s.add(LoyaltyProgramme(point_value="1000.0001"))
        c = contacts(s, 2)
        for cid in c:
            entry(s, cid, "award", 2_000_000_000, utc("2026-03-01 00:00"), 2_000_000_000, expires=None)
        s.commit()
    payload = run(ctx, "points_liability", **MARCH).to_dict()
    assert payload["outstanding"]["points"] == 4_000_000_000
    assert payload["outstanding"]["liability"] == 4_000_000_400_000.0
    assert payload["breakage"]["awarded_points"] == 4_000_000_000
