"""The console's formatting: brand-local times, ¥ amounts in 万/亿, durations in two units."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.console.format import duration, local_time, money, zone_label


def test_times_are_shown_in_the_brand_zone() -> None:
    # 16:30 UTC on 1 March is 00:30 on 2 March in Beijing
    assert local_time(datetime(2026, 3, 1, 16, 30, tzinfo=UTC), "Asia/Shanghai") == "2026-03-02 00:30"
    assert local_time(datetime(2026, 3, 1, 16, 30), "Asia/Shanghai") == "2026-03-02 00:30"  # naive = UTC
    assert local_time("2026-03-01T16:30:00Z", "Asia/Shanghai", "%m-%d %H:%M") == "03-02 00:30"
    assert local_time(None, "Asia/Shanghai") == ""
    assert zone_label("Asia/Shanghai", "zh") == "北京时间"
    assert zone_label("Asia/Kolkata", "en") == "UTC+05:30"


def test_money_reads_in_yuan() -> None:
    assert money(35.04, "zh") == "¥35.04"
    assert money(1234.5, "en") == "¥1,234.50"
    assert money(123_456.7, "zh") == "¥12.35万"
    assert money(123_456.7, "en") == "¥123,456.70"
    assert money(250_000_000, "zh") == "¥2.50亿"
    assert money(-12, "zh") == "-¥12.00"
    assert money(None, "zh") == "—"


def test_durations_read_in_two_units() -> None:
    assert duration(2 * 86_400 + 3 * 3_600 + 59, "zh") == "2天3小时"
    assert duration(2 * 86_400 + 3 * 3_600, "en") == "2d 3h"
    assert duration(86_400 + 300, "zh") == "1天"  # no "1天0小时5分钟"
    assert duration(90, "zh") == "1分钟30秒"
    assert duration(0, "en") == "0s"
