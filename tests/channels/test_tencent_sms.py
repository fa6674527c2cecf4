"""TencentSmsAdapter against the local Tencent Cloud SMS emulator (TC3 signing, limits, lookup, pushes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from tests.channels.clock import START, Clock
from tests.emulators.tencent_sms import TencentSmsEmulator

from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.http import ProviderError
from siyu.channels.sms_common import CHINA_TZ
from siyu.channels.tencent_sms import (
    TencentSmsAdapter,
    map_tencent_code,
    parse_tencent_reply,
    parse_tencent_report,
    tc3_authorization,
    tc3_canonical_request,
)

SECRET_ID, SECRET_KEY, APP = "AKIDEXAMPLE0000000000", "emulator-secret-key", "1400006666"
TEMPLATES = {"449739": "{1}您好，会员日全场{2}折，拒收请回复R", "449740": "您的订单已发货"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[TencentSmsEmulator]:
    emulator = TencentSmsEmulator(SECRET_ID, SECRET_KEY, APP, templates=TEMPLATES, clock=clock)
    with emulator.running():
        yield emulator


def make_adapter(emu: TencentSmsEmulator, clock: Clock, **secrets: str) -> TencentSmsAdapter:
    adapter = TencentSmsAdapter(
        {"base_url": emu.base_url, "sdk_app_id": APP, "sign_name": "思域商城", "rate_per_s": 1000},
        {"secret_id": SECRET_ID, "secret_key": SECRET_KEY, **secrets},
    )
    adapter.clock = clock
    adapter.http.backoff_s = 0.01
    return adapter


@pytest.fixture
def adapter(emu: TencentSmsEmulator, clock: Clock) -> Iterator[TencentSmsAdapter]:
    a = make_adapter(emu, clock)
    yield a
    a.close()


def sms(key: str, phone: str, template: str = "449739", **params: str) -> OutboundMessage:
    content = {
        "template_code": template,
        "params": params or {"name": "张三", "discount": "8"},
        "text": "预览",
    }
    return OutboundMessage(key, "sms", Recipient(1, phone=phone), content)


def since() -> datetime:
    return datetime.fromtimestamp(START, UTC) - timedelta(minutes=5)


def test_signature_matches_tencents_worked_example() -> None:
    payload = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    headers = {"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"}
    canonical, signed = tc3_canonical_request("POST", "/", "", headers, payload)
    assert signed == "content-type;host"
    assert canonical.endswith("35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064")
    authorization = tc3_authorization(
        "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        1551113065,
        "cvm",
        canonical,
        signed,
    )
    assert authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_a_signed_send_is_accepted_once_with_the_key_as_session_context(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator
) -> None:
    [result] = adapter.send([sms("j1:c1:e1:s1", "+8613800138000", name="张三", discount="8")])
    assert result.status == "sent" and result.provider_message_id
    assert emu.sent_by_key() == {"j1:c1:e1:s1": 1}
    [request] = emu.requests
    assert request.headers["x-tc-action"] == "SendSms" and request.headers["x-tc-version"] == "2021-01-11"
    assert request.headers["x-tc-region"] == "ap-guangzhou"
    assert "SignedHeaders=content-type;host;x-tc-action" in request.headers["authorization"]
    body = orjson.loads(request.body)
    assert body["PhoneNumberSet"] == ["+8613800138000"] and body["SessionContext"] == "j1:c1:e1:s1"
    assert body["TemplateParamSet"] == ["张三", "8"] and body["SmsSdkAppId"] == APP


def test_each_message_is_its_own_request(adapter: TencentSmsAdapter, emu: TencentSmsEmulator) -> None:
    results = adapter.send([sms("a", "+8613800138001"), sms("b", "+8613800138002"), sms("c", "+85291234567")])
    assert [r.status for r in results] == ["sent"] * 3
    contexts = [orjson.loads(r.body)["SessionContext"] for r in emu.requests]
    assert contexts == ["a", "b", "c"]
    assert len({r.provider_message_id for r in results}) == 3


@pytest.mark.parametrize(
    ("secrets", "code"),
    [
        ({"secret_key": "wrong"}, "AuthFailure.SignatureFailure"),
        ({"secret_id": "AKIDnobody"}, "SecretIdNotFound"),
    ],
)
def test_rejected_credentials_fail_with_a_clear_error(
    emu: TencentSmsEmulator, clock: Clock, secrets: dict[str, str], code: str
) -> None:
    adapter = make_adapter(emu, clock, **secrets)
    [result] = adapter.send([sms("k", "+8613800138000")])
    assert result.status == "failed" and code in (result.error or "") and "secret_key" in (result.error or "")
    assert emu.sent_by_key() == {}
    with pytest.raises(ProviderError) as info:
        adapter.lookup(sms("k", "+8613800138000"), since())
    assert not info.value.temporary


def test_a_clock_more_than_5_minutes_off_is_rejected(emu: TencentSmsEmulator, clock: Clock) -> None:
    adapter = make_adapter(emu, clock)
    adapter.clock = lambda: clock() + 301
    [result] = adapter.send([sms("k", "+8613800138000")])
    assert result.status == "failed" and "AuthFailure.SignatureExpire" in (result.error or "")
    adapter.clock = lambda: clock() + 290
    assert adapter.send([sms("k", "+8613800138000")])[0].status == "sent"


def test_thirty_second_limit_retries_after_its_window(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator, clock: Clock
) -> None:
    assert adapter.send([sms("first", "+8613800138000")])[0].status == "sent"
    [limited] = adapter.send([sms("second", "+8613800138000")])
    assert limited.status == "retry" and limited.retry_after_s == 30
    assert "LimitExceeded.PhoneNumberThirtySecondLimit" in (limited.error or "")
    clock.advance(31)
    assert adapter.send([sms("second", "+8613800138000")])[0].status == "sent"
    assert emu.sent_by_key() == {"first": 1, "second": 1}


def test_hour_limit_retries_and_daily_limit_fails(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator, clock: Clock
) -> None:
    emu.limits.update(thirty_second=10, one_hour=1, daily=10)
    adapter.send([sms("a", "+8613800138000")])
    hour = adapter.send([sms("b", "+8613800138000")])[0]
    assert hour.status == "retry" and hour.retry_after_s == 3600
    emu.limits.update(one_hour=10, daily=1)
    day = adapter.send([sms("b", "+8613800138000")])[0]
    assert day.status == "failed" and "LimitExceeded.PhoneNumberDailyLimit" in (day.error or "")
    assert emu.sent_by_key() == {"a": 1}


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (sms("k", "+8612345678901"), "InvalidParameterValue.IncorrectPhoneNumber"),
        (sms("k", "+8613800138000", template="999999"), "FailedOperation.TemplateIncorrectOrUnapproved"),
        (
            OutboundMessage(
                "k",
                "sms",
                Recipient(1, phone="+8613800138000"),
                {"template_code": "449740", "sign_name": "别家"},
            ),
            "FailedOperation.SignatureIncorrectOrUnapproved",
        ),
        (
            sms("k", "+8613800138000", name="只有一个"),
            "FailedOperation.TemplateParamSetNotMatchApprovedTemplate",
        ),
    ],
)
def test_permanent_errors_fail(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator, message: OutboundMessage, code: str
) -> None:
    [result] = adapter.send([message])
    assert result.status == "failed" and (result.error or "").startswith(code)
    assert emu.sent_by_key() == {}


def test_a_429_is_retried_with_a_fresh_signature_and_sent_once(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator, clock: Clock
) -> None:
    emu.fail_next(1, 429)
    emu.fail_next(1, 429)
    assert adapter.send([sms("k", "+8613800138000")])[0].status == "sent"
    assert emu.sent_by_key() == {"k": 1} and len(emu.requests) == 3


def test_a_503_on_send_is_left_to_lookup_then_resent_once(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator
) -> None:
    emu.fail_next(1, 503)
    message = sms("k", "+8613800138000")
    [result] = adapter.send([message])
    assert result.status == "retry" and "503" in (result.error or "") and len(emu.requests) == 1
    assert adapter.lookup(message, since()) is None
    assert adapter.send([message])[0].status == "sent"
    assert emu.sent_by_key() == {"k": 1}


def test_request_limit_exceeded_is_retried_and_the_next_send_succeeds(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator
) -> None:
    emu.fail_next(1, "RequestLimitExceeded")
    [throttled] = adapter.send([sms("k", "+8613800138000")])
    assert throttled.status == "retry" and throttled.retry_after_s == 1.0
    assert adapter.send([sms("k", "+8613800138000")])[0].status == "sent"
    assert emu.sent_by_key() == {"k": 1}


def test_lookup_finds_a_sent_message_and_none_for_an_unknown_key(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator
) -> None:
    message = sms("j1:c1:e1:s1", "+8613800138000")
    [sent] = adapter.send([message])
    found = adapter.lookup(message, since())
    assert found is not None and found.provider_message_id == sent.provider_message_id
    assert adapter.lookup(sms("j1:c1:e1:s2", "+8613800138000"), since()) is None
    assert adapter.lookup(sms("j1:c1:e1:s1", "+8613900000000"), since()) is None
    emu.fail_next(2, 503, actions=("PullSmsSendStatusByPhoneNumber",))  # a read: ProviderHttp retries it
    assert adapter.lookup(message, since()) is not None


def test_lookup_needs_session_context_in_status_records(
    adapter: TencentSmsAdapter, emu: TencentSmsEmulator
) -> None:
    """Without the account option that echoes SessionContext, a sent message cannot be recognised."""
    emu.echo_session_context = False
    message = sms("k", "+8613800138000")
    adapter.send([message])
    assert adapter.lookup(message, since()) is None


def test_receipts_are_pulled_once(adapter: TencentSmsAdapter, emu: TencentSmsEmulator) -> None:
    adapter.send([sms("a", "+8613800138001"), sms("b", "+8613800138002")])
    receipts = adapter.receipts(since())
    assert {(r.key, r.status) for r in receipts} == {("a", "delivered"), ("b", "delivered")}
    assert receipts[0].at == datetime.fromtimestamp(START + 2, UTC)
    assert adapter.receipts(since()) == []


def test_parse_the_documented_callbacks() -> None:
    report = orjson.dumps(
        [
            {
                "user_receive_time": "2015-10-17 08:03:04",
                "nationcode": "86",
                "mobile": "13800138000",
                "report_status": "SUCCESS",
                "errmsg": "DELIVRD",
                "description": "用户短信送达成功",
                "sid": "2433:1",
                "ext": "j1:c1:e1:s1",
            },
            {"user_receive_time": "2015-10-17 08:03:09", "mobile": "13800138001", "report_status": "FAIL"}
            | {"errmsg": "MK:0001", "description": "用户拒收", "sid": "2433:2"},
        ]
    )
    ok, failed = parse_tencent_report(report)
    assert (ok.key, ok.provider_message_id, ok.status) == ("j1:c1:e1:s1", "2433:1", "delivered")
    assert ok.at == datetime(2015, 10, 17, 0, 3, 4, tzinfo=UTC)
    assert (failed.key, failed.status, failed.error) == (None, "failed", "MK:0001: 用户拒收")
    reply = {
        "nationcode": "86",
        "mobile": "13800138000",
        "text": "ＴＤ",
        "sign": "思域商城",
        "time": 1457336869,
    }
    [inbound] = parse_tencent_reply(orjson.dumps(reply | {"extend": ""}))
    assert (inbound.phone, inbound.text, inbound.channel) == ("+8613800138000", "ＴＤ", "sms")
    assert inbound.at == datetime.fromtimestamp(1457336869, UTC)
    with pytest.raises(ValueError):
        parse_tencent_reply(b"<xml/>")


def test_marketing_outside_8_to_22_waits_until_8_china_time() -> None:
    late = datetime(2025, 6, 1, 23, 30, tzinfo=CHINA_TZ)
    result = map_tencent_code("FailedOperation.MarketingSendTimeConstraint", "8-22 only", late)
    assert result.status == "retry" and result.retry_after_s == 8.5 * 3600
