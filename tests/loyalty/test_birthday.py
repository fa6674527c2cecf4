"""The birthday gift: programme and tier points plus the tier's coupon, once a year, on the
member's birthday in the member's zone (card birthday, else the trait; 29 February on the 28th)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from siyu.context import AppContext
from siyu.coupons.templates import TemplateService
from siyu.loyalty.birthday import is_birthday, parse_birthday, run_birthdays
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import update_programme
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tiers import add_tier
from siyu.store.models import ContactAttribute, Coupon, LoyaltyMember

from .helpers import new_contact

# 2027-05-10 17:00 UTC: already 11 May in Beijing, still 10 May in New York
EVENING = datetime(2027, 5, 10, 17, 0, tzinfo=UTC)


def _members(ctx: AppContext) -> dict[str, int]:
    people = {
        n: new_contact(ctx, f"+86138001380{i:02d}") for i, n in enumerate(["card", "trait", "ny", "other"])
    }
    with ctx.db.session() as s:
        TemplateService(s, now=EVENING - timedelta(days=400)).create(
            {"key": "cake", "name": "生日券", "kind": "fixed", "amount": "20", "valid_days": 30}
        )
        update_programme(s, {"birthday_points": 50})
        add_tier(
            s, "basic", {"name": "普卡", "threshold": 0, "birthday_points": 25, "birthday_coupon": "cake"}
        )
        for cid in people.values():
            LoyaltyService(s, now=EVENING - timedelta(days=400)).enrol(cid)
        s.execute(
            update(LoyaltyMember)
            .where(LoyaltyMember.contact_id == people["card"])
            .values(birthday=date(1990, 5, 11))
        )
        s.add(ContactAttribute(contact_id=people["trait"], name="birthday", value="1992-05-11"))
        s.add(ContactAttribute(contact_id=people["ny"], name="birthday", value="05-11"))
        s.add(ContactAttribute(contact_id=people["ny"], name="timezone", value="America/New_York"))
        s.add(ContactAttribute(contact_id=people["other"], name="birthday", value="not a date"))
    return people


def test_gifts_once_a_year_on_the_local_birthday(ctx: AppContext) -> None:
    p = _members(ctx)
    with ctx.db.session() as s:
        run = run_birthdays(s, now=EVENING, tz="Asia/Shanghai")
    assert (run.gifted, run.points, run.coupons) == (2, 150, 2)
    with ctx.db.session() as s:  # the same day again, and New York's birthday a few hours later
        assert run_birthdays(s, now=EVENING + timedelta(hours=1), tz="Asia/Shanghai").gifted == 0
        assert run_birthdays(s, now=EVENING + timedelta(hours=12), tz="Asia/Shanghai").gifted == 1
    with ctx.db.session() as s:
        later = EVENING + timedelta(days=1)
        balances = {n: Ledger(s, now=later).balance(c).active for n, c in p.items()}
        assert balances == {"card": 75, "trait": 75, "ny": 75, "other": 0}
        coupons = s.scalar(
            select(func.count()).select_from(Coupon).where(Coupon.issued_by == "birthday:basic")
        )
        assert coupons == 3
        # a year later it is given again
        next_year = datetime(2028, 5, 10, 17, 0, tzinfo=UTC)
        assert run_birthdays(s, now=next_year, tz="Asia/Shanghai").gifted == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1990-02-29", None),
        ("2000-02-29", (2, 29)),
        ("05-11", (5, 11)),
        ("13-01", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_birthday(value: object, expected: tuple[int, int] | None) -> None:
    # 1990-02-29 does not exist, but only month and day are kept: 29 February is a real birthday
    assert parse_birthday(value) == (expected if value != "1990-02-29" else (2, 29))


def test_leap_day_birthdays_fall_on_the_28th_in_other_years() -> None:
    assert is_birthday((2, 29), date(2027, 2, 28))
    assert not is_birthday((2, 29), date(2028, 2, 28))
    assert is_birthday((2, 29), date(2028, 2, 29))


def test_the_serve_round_runs_the_job_at_most_hourly(ctx: AppContext) -> None:
    from siyu.loyalty.birthday import run_birthdays_if_due

    _members(ctx)
    with ctx.db.session() as s:
        assert run_birthdays_if_due(s, now=EVENING).gifted == 2  # type: ignore[union-attr]
    with ctx.db.session() as s:
        assert run_birthdays_if_due(s, now=EVENING + timedelta(minutes=59)) is None
        assert run_birthdays_if_due(s, now=EVENING + timedelta(hours=12)).gifted == 1  # type: ignore[union-attr]
