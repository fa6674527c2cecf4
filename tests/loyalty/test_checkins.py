"""Daily check-ins: one per member per local day (the member's zone, else the brand's), streaks
reset by a missed day, points and milestone rewards booked once, bad settings named by field."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from siyu.context import AppContext
from siyu.loyalty.checkins import CheckinService, check_settings
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import LoyaltyError
from siyu.loyalty.service import LoyaltyService
from siyu.store.models import ContactAttribute, Event, PointsEntry

from .helpers import new_contact

# 15:30 UTC = 23:30 in Beijing; 16:30 UTC is already the next Beijing day
LATE = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def member(ctx: AppContext) -> int:
    cid = new_contact(ctx, "+8613800138021")
    with ctx.db.session() as s:
        LoyaltyService(s, now=LATE - 10 * DAY).enrol(cid)
        CheckinService(s).set_settings({"points": 2, "milestones": {"3": 10, "7": 50}})
    return cid


def check_in(ctx: AppContext, cid: int, at: datetime, tz: str = "Asia/Shanghai") -> dict:
    with ctx.db.session() as s:
        return CheckinService(s, now=at, tz=tz).check_in(cid).as_dict()


def test_streaks_milestones_and_one_checkin_a_day(ctx: AppContext, member: int) -> None:
    first = check_in(ctx, member, LATE)
    assert (first["day"], first["streak"], first["points"], first["new"]) == ("2026-03-01", 1, 2, True)
    again = check_in(ctx, member, LATE + timedelta(minutes=20))  # 23:50, same Beijing day
    assert (again["new"], again["streak"], again["points"]) == (False, 1, 2)
    second = check_in(ctx, member, LATE + timedelta(hours=1))  # 00:30 Beijing: the next day
    assert (second["day"], second["streak"]) == ("2026-03-02", 2)
    third = check_in(ctx, member, LATE + 2 * DAY)
    assert (third["streak"], third["points"], third["milestone"]) == (3, 12, 10)
    # a missed day resets the streak
    after_gap = check_in(ctx, member, LATE + 4 * DAY)
    assert (after_gap["streak"], after_gap["points"]) == (1, 2)
    with ctx.db.session() as s:
        assert Ledger(s, now=LATE + 4 * DAY).balance(member).active == 2 + 2 + 12 + 2
        assert s.scalar(select(func.count()).where(Event.event == "Checked In")) == 4
        sources = set(s.scalars(select(PointsEntry.source).where(PointsEntry.contact_id == member)))
        assert sources == {"checkin"}
        assert CheckinService(s, now=LATE + 5 * DAY).streak(member) == 1
        assert CheckinService(s, now=LATE + 6 * DAY).streak(member) == 0


def test_the_members_own_zone_decides_the_day(ctx: AppContext, member: int) -> None:
    with ctx.db.session() as s:
        s.add(ContactAttribute(contact_id=member, name="timezone", value="America/New_York"))
    # 15:30 UTC is 10:30 in New York and 23:30 in Beijing; 16:30 is still 1 March in New York
    assert check_in(ctx, member, LATE)["day"] == "2026-03-01"
    assert check_in(ctx, member, LATE + timedelta(hours=1))["new"] is False


def test_non_members_cannot_check_in(ctx: AppContext) -> None:
    cid = new_contact(ctx, "+8613800138022")
    with ctx.db.session() as s, pytest.raises(LoyaltyError) as err:
        CheckinService(s, now=LATE).check_in(cid)
    assert err.value.code == "not_a_member"


def test_zero_points_still_counts_the_streak(ctx: AppContext, member: int) -> None:
    with ctx.db.session() as s:
        CheckinService(s).set_settings({"points": 0})
    assert check_in(ctx, member, LATE)["points"] == 0
    assert check_in(ctx, member, LATE + DAY)["streak"] == 2
    with ctx.db.session() as s:
        assert Ledger(s, now=LATE + DAY).balance(member).active == 0


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"points": -1}, "checkin.points"),
        ({"points": True}, "checkin.points"),
        ({"points": 10**12}, "checkin.points"),
        ({"milestones": {"0": 5}}, "checkin.milestones.0"),
        ({"milestones": {"七": 5}}, "checkin.milestones.七"),
        ({"milestones": {"7": 1.5}}, "checkin.milestones.7"),
        ({"share": True}, "checkin.share"),
        ([], "checkin"),
    ],
)
def test_bad_settings_name_the_field(settings: object, field: str) -> None:
    with pytest.raises(LoyaltyError) as err:
        check_settings(settings)
    assert err.value.field == field


@pytest.mark.postgresql_only("SQLite has one writer at a time: the second check-in waits for the first")
def test_two_taps_at_once_count_once(ctx: AppContext, member: int) -> None:
    barrier = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def tap() -> None:
        s = ctx.db.sessionmaker()
        try:
            barrier.wait()
            results.append(CheckinService(s, now=LATE, tz="Asia/Shanghai").check_in(member).new)
            s.commit()
        except BaseException as exc:
            errors.append(exc)
            s.rollback()
        finally:
            s.close()

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert errors == [] and sorted(results) == [False, True]
    with ctx.db.session() as s:
        assert Ledger(s, now=LATE).balance(member).active == 2
        assert s.scalar(select(func.count()).where(Event.event == "Checked In")) == 1
