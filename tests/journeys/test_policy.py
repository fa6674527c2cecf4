"""Time policies in the contact's calendar (src/siyu/journeys/policy.py): pure functions, no
database. Every expected instant is worked out by hand from the zone's rules (offsets and the
2026 DST changes: Europe/Berlin 29 Mar / 25 Oct at 01:00 UTC, America/Los_Angeles 8 Mar at
10:00 UTC / 1 Nov at 09:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.journeys.policy import cap_windows, day_at, local_keys, quiet_until, wecom_monthly_cap, zone
from siyu.journeys.schemas import Cap, QuietHours

SH, BER, LA = zone("Asia/Shanghai"), zone("Europe/Berlin"), zone("America/Los_Angeles")
NIGHT = QuietHours()  # 22:00–08:00, hold


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- local day and week keys ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tz", "before", "after"),
    [
        (SH, utc(2026, 5, 3, 15, 59, 59), utc(2026, 5, 3, 16, 0)),  # UTC+8
        (BER, utc(2026, 5, 3, 21, 59, 59), utc(2026, 5, 3, 22, 0)),  # CEST, UTC+2
        (LA, utc(2026, 5, 4, 6, 59, 59), utc(2026, 5, 4, 7, 0)),  # PDT, UTC-7
    ],
    ids=["shanghai", "berlin", "los-angeles"],
)
def test_local_keys_turn_over_at_local_midnight(tz, before: datetime, after: datetime) -> None:
    # Sunday 3 May 2026 is the last day of ISO week 18; Monday 4 May starts week 19.
    assert local_keys(before, tz) == ("2026-05-03", "2026-W18")
    assert local_keys(after, tz) == ("2026-05-04", "2026-W19")


def test_the_same_instant_is_a_different_day_in_each_zone() -> None:
    instant = utc(2026, 5, 3, 20, 0)  # Shanghai 04:00 on the 4th, Berlin 22:00 and LA 13:00 on the 3rd
    assert [local_keys(instant, tz)[0] for tz in (SH, BER, LA)] == ["2026-05-04", "2026-05-03", "2026-05-03"]


@pytest.mark.parametrize(
    ("instant", "tz", "keys"),
    [
        (utc(2026, 12, 31, 16, 30), SH, ("2027-01-01", "2026-W53")),  # 2026 has 53 ISO weeks
        (utc(2027, 1, 1, 7, 30), LA, ("2026-12-31", "2026-W53")),
        (utc(2027, 1, 3, 16, 0), SH, ("2027-01-04", "2027-W01")),
        (utc(2024, 12, 29, 23, 30), BER, ("2024-12-30", "2025-W01")),  # Monday of 2025's week 1
    ],
)
def test_iso_week_at_the_year_boundary(instant: datetime, tz, keys: tuple[str, str]) -> None:
    assert local_keys(instant, tz) == keys


def test_unknown_zone_falls_back_to_the_default() -> None:
    assert zone("Mars/Olympus") == SH
    assert zone(None, "Europe/Berlin") == BER


# --- quiet hours ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("instant", "until"),
    [
        (utc(2026, 5, 4, 13, 59), None),  # 21:59 local
        (utc(2026, 5, 4, 14, 0), utc(2026, 5, 5, 0, 0)),  # 22:00: the window starts
        (utc(2026, 5, 4, 15, 30), utc(2026, 5, 5, 0, 0)),  # 23:30
        (utc(2026, 5, 4, 23, 0), utc(2026, 5, 5, 0, 0)),  # 07:00 the next morning
        (utc(2026, 5, 5, 0, 0), None),  # 08:00: the window is over
        (utc(2026, 5, 5, 4, 0), None),  # noon
    ],
)
def test_overnight_window_in_shanghai(instant: datetime, until: datetime | None) -> None:
    assert quiet_until(instant, SH, NIGHT) == until


@pytest.mark.parametrize(
    ("instant", "until"),
    [
        (utc(2026, 5, 4, 3, 59), None),  # 11:59 local
        (utc(2026, 5, 4, 4, 0), utc(2026, 5, 4, 6, 0)),  # 12:00
        (utc(2026, 5, 4, 5, 30), utc(2026, 5, 4, 6, 0)),  # 13:30
        (utc(2026, 5, 4, 6, 0), None),  # 14:00
        (utc(2026, 5, 4, 15, 0), None),  # 23:00
    ],
)
def test_same_day_window(instant: datetime, until: datetime | None) -> None:
    assert quiet_until(instant, SH, QuietHours(start="12:00", end="14:00")) == until


def test_disabled_or_empty_window_never_holds() -> None:
    late = utc(2026, 5, 4, 15, 30)  # 23:30 in Shanghai
    assert quiet_until(late, SH, QuietHours(enabled=False)) is None
    assert quiet_until(late, SH, QuietHours(start="23:00", end="23:00")) is None
    assert quiet_until(late, SH, QuietHours(mode="drop")) == utc(2026, 5, 5, 0, 0)


@pytest.mark.parametrize(
    ("tz", "instant", "until"),
    [
        # 23:30 CET on Sat 28 Mar → 08:00 CEST on Sun 29 Mar (UTC+2)
        (BER, utc(2026, 3, 28, 22, 30), utc(2026, 3, 29, 6, 0)),
        # 03:30 CEST right after the jump → same morning
        (BER, utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 6, 0)),
        # 23:30 CEST on Sat 24 Oct → 08:00 CET on Sun 25 Oct (UTC+1)
        (BER, utc(2026, 10, 24, 21, 30), utc(2026, 10, 25, 7, 0)),
        # 02:30 CET, the second time the clock shows 02:30 that night
        (BER, utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 7, 0)),
        # 23:30 PST on Sat 7 Mar → 08:00 PDT on Sun 8 Mar (UTC-7)
        (LA, utc(2026, 3, 8, 7, 30), utc(2026, 3, 8, 15, 0)),
        # 23:30 PDT on Sat 31 Oct → 08:00 PST on Sun 1 Nov (UTC-8)
        (LA, utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 16, 0)),
    ],
    ids=[
        "berlin-spring",
        "berlin-after-jump",
        "berlin-autumn",
        "berlin-repeated-hour",
        "la-spring",
        "la-autumn",
    ],
)
def test_hold_across_dst_changes_ends_at_local_0800(tz, instant: datetime, until: datetime) -> None:
    assert quiet_until(instant, tz, NIGHT) == until


def test_a_hold_whose_end_falls_in_the_spring_gap_ends_after_the_jump() -> None:
    quiet = QuietHours(start="01:00", end="02:30")
    instant = utc(2026, 3, 29, 0, 30)  # 01:30 CET: inside the window
    until = quiet_until(instant, BER, quiet)
    assert until is not None and until > instant
    assert until in (utc(2026, 3, 29, 1, 0), utc(2026, 3, 29, 1, 30))  # 03:00 or 03:30 CEST


# --- day N at HH:MM -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tz", "entered", "expected"),
    [
        # Fri 27 Mar 13:00 CET; Berlin goes to CEST on Sunday the 29th
        (
            BER,
            utc(2026, 3, 27, 12, 0),
            [utc(2026, 3, 27, 9, 0), utc(2026, 3, 28, 9, 0), utc(2026, 3, 30, 8, 0)],
        ),
        # Fri 23 Oct 13:00 CEST; CET from the 25th
        (
            BER,
            utc(2026, 10, 23, 11, 0),
            [utc(2026, 10, 23, 8, 0), utc(2026, 10, 24, 8, 0), utc(2026, 10, 26, 9, 0)],
        ),
        # Fri 6 Mar 12:00 PST; PDT from Sunday the 8th
        (
            LA,
            utc(2026, 3, 6, 20, 0),
            [utc(2026, 3, 6, 18, 0), utc(2026, 3, 7, 18, 0), utc(2026, 3, 9, 17, 0)],
        ),
        # Fri 30 Oct 13:00 PDT; PST from Sunday 1 Nov
        (
            LA,
            utc(2026, 10, 30, 20, 0),
            [utc(2026, 10, 30, 17, 0), utc(2026, 10, 31, 17, 0), utc(2026, 11, 2, 18, 0)],
        ),
        (SH, utc(2026, 5, 4, 2, 0), [utc(2026, 5, 4, 2, 0), utc(2026, 5, 5, 2, 0), utc(2026, 5, 7, 2, 0)]),
    ],
    ids=["berlin-spring", "berlin-autumn", "la-spring", "la-autumn", "shanghai"],
)
def test_day_at_keeps_the_local_wall_clock_across_dst(
    tz, entered: datetime, expected: list[datetime]
) -> None:
    assert [day_at(entered, d, "10:00", tz) for d in (0, 1, 3)] == expected
    assert {day_at(entered, d, "10:00", tz).astimezone(tz).strftime("%H:%M") for d in (0, 1, 3)} == {"10:00"}


def test_day_zero_is_the_local_entry_day_not_the_utc_one() -> None:
    entered = utc(2026, 5, 4, 6, 30)  # Sun 3 May 23:30 in Los Angeles, Mon 4 May in UTC
    assert day_at(entered, 0, "10:00", LA) == utc(2026, 5, 3, 17, 0)
    assert day_at(entered, 1, "10:00", LA) == utc(2026, 5, 4, 17, 0)


def test_ambiguous_autumn_time_takes_the_first_occurrence() -> None:
    # 02:30 happens twice in Berlin on 25 Oct: first at 00:30 UTC (CEST), again at 01:30 UTC (CET).
    assert day_at(utc(2026, 10, 24, 12, 0), 1, "02:30", BER) == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("tz", "entered", "jump"),
    [
        (BER, utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 0)),
        (LA, utc(2026, 3, 7, 20, 0), utc(2026, 3, 8, 10, 0)),
    ],
    ids=["berlin", "los-angeles"],
)
def test_nonexistent_spring_forward_time_resolves_at_or_after_the_jump(tz, entered, jump) -> None:
    got = day_at(entered, 1, "02:30", tz)
    assert jump <= got <= jump.replace(minute=30)
    assert got.astimezone(tz).hour == 3


# --- caps -----------------------------------------------------------------------------------------
def test_cap_windows_pick_the_caps_of_the_channel_and_their_keys() -> None:
    caps = [
        Cap(channel="any", per="day", max=3),
        Cap(channel="sms", per="week", max=5),
        Cap(channel="email", per="day", max=1),
        Cap(channel="any", per="month", max=20),
    ]
    got = [(w.channel, w.per, w.key, w.max) for w in cap_windows(caps, "sms", "2026-05-04", "2026-W19")]
    assert got == [
        ("any", "day", "2026-05-04", 3),
        ("sms", "week", "2026-W19", 5),
        ("any", "month", "2026-05", 20),
    ]
    assert [w.channel for w in cap_windows(caps, "email", "2026-05-04", "2026-W19")] == [
        "any",
        "email",
        "any",
    ]


@pytest.mark.parametrize(
    ("day", "days"),
    [("2026-02-10", 28), ("2028-02-01", 29), ("2100-02-28", 28), ("2026-04-30", 30), ("2026-05-31", 31)],
)
def test_wecom_monthly_cap_is_the_number_of_days_in_the_month(day: str, days: int) -> None:
    cap = wecom_monthly_cap(day)
    assert (cap.channel, cap.per, cap.max) == ("wecom_private", "month", days)
