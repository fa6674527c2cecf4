"""The console's formatting: brand-local times, ¥ amounts in 万/亿, durations in two units."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.console.format import code, duration, local_time, money, ticks, zone_label
from siyu.console.texts import audit


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


def test_code_marks_only_the_named_snippets_as_code() -> None:
    shown = str(code("如 手机=phone、姓名=name；phone_2 和 <b>", "phone", "name"))
    assert shown == (
        '如 手机=<code translate="no">phone</code>、姓名=<code translate="no">name</code>；'
        "phone_2 和 &lt;b&gt;"
    )
    assert str(code("tag:标签名 或 customer_no:编号", "tag:", "customer_no:")).count("<code") == 2
    assert str(code("no snippet")) == "no snippet"


def test_ticks_set_backquoted_parts_as_code() -> None:
    assert (
        str(ticks("默认 `v1`，见 `<x>`"))
        == '默认 <code translate="no">v1</code>，见 <code translate="no">&lt;x&gt;</code>'
    )


def test_audit_codes_read_as_labels() -> None:
    assert str(audit.action("channel.created", "zh")) == "创建渠道"
    assert str(audit.action("api_key.revoked", "zh")) == "吊销 API 密钥"
    assert str(audit.action("api_key.revoked", "en")) == "API key revoked"
    assert str(audit.action("pii.revealed", "zh")) == "查看个人信息明文"
    assert str(audit.action("thing.done", "zh")) == "thing.done"  # unknown: as it is, so the crawler names it
    assert audit.target("entry_code", "zh") == "活码" and audit.target("", "zh") == ""
    details = str(
        audit.details({"key": "ads", "added": 39, "ok": True, "ids": [1, 2], "raw": {"a": 1}}, "zh")
    )
    assert details == (
        '标识：<span translate="no">ads</span> · 新增：39 · <code translate="no">ok</code>：是 · '
        '<code translate="no">ids</code>：<span translate="no">1、2</span> · '
        '<code translate="no">raw</code>：<code translate="no">{&#34;a&#34;: 1}</code>'
    )
