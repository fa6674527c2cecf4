"""Programme settings: Talon.One validity strings in the brand's time zone, and validation that
names the field and applies nothing when one value is bad."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from siyu.context import AppContext
from siyu.loyalty.programme import LoyaltyError, check_validity, expiry_for, get_programme, update_programme


@pytest.mark.parametrize(
    ("validity", "start", "tz", "expected"),
    [
        ("30D", datetime(2026, 1, 1, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 1, 31, tzinfo=UTC)),
        # a month from 31 January in Beijing is the last day of February
        ("1M", datetime(2026, 1, 31, 4, tzinfo=UTC), "Asia/Shanghai", datetime(2026, 2, 28, 4, tzinfo=UTC)),
        ("12M", datetime(2024, 2, 29, 12, tzinfo=UTC), "UTC", datetime(2025, 2, 28, 12, tzinfo=UTC)),
        # 2026-12-31 20:00 UTC is already 2027 in Beijing: the end of *2028* there
        (
            "end_of_next_year",
            datetime(2026, 12, 31, 20, tzinfo=UTC),
            "Asia/Shanghai",
            datetime(2028, 12, 31, 15, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            "end_of_next_year",
            datetime(2026, 12, 31, 20, tzinfo=UTC),
            "America/Los_Angeles",
            datetime(2028, 1, 1, 7, 59, 59, 999999, tzinfo=UTC),
        ),
        ("never", datetime(2026, 1, 1, tzinfo=UTC), "UTC", None),
    ],
)
def test_validity(validity: str, start: datetime, tz: str, expected: datetime | None) -> None:
    assert expiry_for(check_validity(validity), start, tz) == expected


@pytest.mark.parametrize("bad", ["", "0D", "30", "1W", "-5D", "99999D", "end of next year", "1Y2M"])
def test_bad_validity_is_refused(bad: str) -> None:
    with pytest.raises(LoyaltyError) as err:
        check_validity(bad)
    assert err.value.code == "invalid_validity"


def test_normalised_validity() -> None:
    assert check_validity(" 30d ") == "30D" and check_validity("END_OF_NEXT_YEAR") == "end_of_next_year"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"pending_days": 366}, "pending_days"),
        ({"earn_per_yuan": "NaN"}, "earn_per_yuan"),
        ({"earn_per_yuan": "-1"}, "earn_per_yuan"),
        ({"signup_points": 1.5}, "signup_points"),
        ({"signup_points": True}, "signup_points"),
        ({"allow_negative": "maybe"}, "allow_negative"),
        ({"tier_basis": "balance"}, "tier_basis"),
        ({"downgrade_policy": "balance_based"}, "downgrade_policy"),
        ({"member_no_prefix": "会员"}, "member_no_prefix"),
        ({"validity_by_source": {"coupon": "1Y"}}, "validity_by_source.coupon"),
        ({"validity_by_source": {"order": "soon"}}, "validity_by_source.order"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_setting_names_its_field_and_changes_nothing(
    ctx: AppContext, changes: dict, field: str
) -> None:
    with ctx.db.session() as s:
        with pytest.raises(LoyaltyError) as err:
            update_programme(s, {"signup_points": 99, **changes})
        assert err.value.field == field
        assert get_programme(s).signup_points == 0


def test_settings_are_saved_normalised(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        update_programme(s, {"earn_per_yuan": "1.5", "validity_by_source": {"signup": "30d", "order": ""}})
    with ctx.db.session() as s:
        prog = get_programme(s)
        assert prog.earn_per_yuan == Decimal("1.5") and prog.validity_by_source == {"signup": "30D"}
