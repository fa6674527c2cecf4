"""Unsubscribe keywords, phone formats and the sms content check shared by both SMS adapters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.sms_common import (
    CHINA_TZ,
    aliyun_phone,
    from_provider_phone,
    is_unsubscribe,
    parse_china_time,
    seconds_until_china_hour,
    sms_content,
    to_e164,
)


@pytest.mark.parametrize(
    "reply",
    [
        "退订",
        " td ",
        "ＴＤ",
        "TD",
        "t",
        "T。",
        "R",
        "拒收",
        "STOP",
        "ｓｔｏｐ",
        "取消",
        "n",
        "退订！",
        "TD 退订",
        "\tＲ\n",
    ],
)
def test_unsubscribe_replies(reply: str) -> None:
    assert is_unsubscribe(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "  ",
        "STD",
        "TDK",
        "好的，TD是什么意思？",
        "我想退订单",
        "Toyota TD",
        "r u there",
        "收到，谢谢",
        "TT",
    ],
)
def test_ordinary_replies_are_not_unsubscribes(reply: str) -> None:
    assert not is_unsubscribe(reply)


def test_phone_formats_for_each_provider() -> None:
    assert aliyun_phone("+8613800138000") == "13800138000"
    assert aliyun_phone("+852 9123 4567") == "85291234567"
    assert to_e164("+86 138-0013-8000") == "+8613800138000"
    with pytest.raises(ValueError):
        aliyun_phone("13800138000")  # not E.164: no country to tell a mainland number from others
    with pytest.raises(ValueError):
        to_e164(None)


@pytest.mark.parametrize(
    ("raw", "nation", "e164"),
    [
        ("13800138000", None, "+8613800138000"),
        ("85291234567", None, "+85291234567"),
        ("0085291234567", None, "+85291234567"),
        ("91234567", "852", "+85291234567"),
        ("+8613800138000", None, "+8613800138000"),
    ],
)
def test_numbers_in_pushes_back_to_e164(raw: str, nation: str | None, e164: str) -> None:
    assert from_provider_phone(raw, nation) == e164


def test_china_time_and_the_next_allowed_hour() -> None:
    assert parse_china_time("2017-01-01 08:00:00") == datetime(2017, 1, 1, 0, 0, tzinfo=UTC)
    assert parse_china_time("yesterday") is None
    assert seconds_until_china_hour(datetime(2025, 6, 1, 7, 0, tzinfo=CHINA_TZ), 8) == 3600
    assert seconds_until_china_hour(datetime(2025, 6, 1, 8, 0, tzinfo=CHINA_TZ), 8) == 24 * 3600


def test_sms_content_is_checked_and_params_keep_their_order() -> None:
    recipient = Recipient(1, phone="+8613800138000")
    content = {
        "template_code": "T1",
        "params": {"b": 2, "a": True, "c": "x"},
        "text": "hi",
        "sign_name": "签",
    }
    parsed = sms_content(OutboundMessage("k", "sms", recipient, content))
    assert list(parsed.params.items()) == [("b", "2"), ("a", "1"), ("c", "x")]
    assert parsed.sign_name == "签" and parsed.text == "hi"
    with pytest.raises(ValueError, match="template_code"):
        sms_content(OutboundMessage("k", "sms", recipient, {"params": {}}))
    with pytest.raises(ValueError, match="params"):
        sms_content(OutboundMessage("k", "sms", recipient, {"template_code": "T1", "params": ["x"]}))
    with pytest.raises(ValueError, match="channel"):
        sms_content(OutboundMessage("k", "email", recipient, content))
