"""AliyunSmsAdapter against the local dysmsapi emulator (signatures, batches, limits, lookup, pushes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from tests.channels.clock import START, Clock
from tests.emulators.aliyun_sms import AliyunSmsEmulator

from siyu.channels.aliyun_sms import (
    AliyunSmsAdapter,
    parse_aliyun_report,
    parse_aliyun_uplink,
    percent_encode,
    rpc_signature,
)
from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.http import ProviderError
from siyu.channels.sms_common import CHINA_TZ

KEY_ID, SECRET = "LTAI5tEXAMPLE", "emulator-secret"
TEMPLATES = {"SMS_100001": "${name}您好，会员日全场8折，拒收请回复R", "SMS_200002": "您的订单${order}已发货"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def emu(clock: Clock) -> Iterator[AliyunSmsEmulator]:
    emulator = AliyunSmsEmulator(KEY_ID, SECRET, templates=TEMPLATES, clock=clock)
    with emulator.running():
        yield emulator


def make_adapter(emu: AliyunSmsEmulator, clock: Clock, **secrets: str) -> AliyunSmsAdapter:
    adapter = AliyunSmsAdapter(
        {"base_url": emu.base_url, "sign_name": "思域商城", "rate_per_s": 1000},
        {"access_key_id": KEY_ID, "access_key_secret": SECRET, **secrets},
    )
    adapter.clock = clock
    adapter.http.backoff_s = 0.01
    return adapter


@pytest.fixture
def adapter(emu: AliyunSmsEmulator, clock: Clock) -> Iterator[AliyunSmsAdapter]:
    a = make_adapter(emu, clock)
    yield a
    a.close()


def sms(key: str, phone: str, template: str = "SMS_100001", **params: str) -> OutboundMessage:
    content = {"template_code": template, "params": params or {"name": "张三"}, "text": "预览"}
    return OutboundMessage(key, "sms", Recipient(1, phone=phone), content)


def actions(emu: AliyunSmsEmulator) -> list[str]:
    return [r.query.get("Action", "") for r in emu.requests]


def since() -> datetime:
    return datetime.fromtimestamp(START, UTC) - timedelta(minutes=5)


def test_signature_matches_aliyuns_worked_example() -> None:
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert rpc_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert percent_encode("a b*c~d/思") == "a%20b%2Ac~d%2F%E6%80%9D"


def test_a_signed_send_is_accepted_once_with_the_key_as_out_id(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    [result] = adapter.send([sms("j1:c1:e1:s1", "+8613800138000")])
    assert result.status == "sent" and result.provider_message_id
    assert emu.sent_by_key() == {"j1:c1:e1:s1": 1}
    [request] = emu.requests
    assert "Signature" in request.query and request.query["Action"] == "SendSms"
    form = request.form()
    assert form["OutId"] == "j1:c1:e1:s1" and form["PhoneNumbers"] == "13800138000"
    assert orjson.loads(form["TemplateParam"]) == {"name": "张三"}
    assert emu.records[0]["Content"] == "【思域商城】张三您好，会员日全场8折，拒收请回复R"


def test_an_international_number_is_sent_with_its_country_code(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    assert adapter.send([sms("k", "+85291234567")])[0].status == "sent"
    assert emu.requests[0].form()["PhoneNumbers"] == "85291234567"


@pytest.mark.parametrize(
    ("secrets", "code"),
    [
        ({"access_key_secret": "wrong"}, "SignatureDoesNotMatch"),
        ({"access_key_id": "LTAI-unknown"}, "InvalidAccessKeyId.NotFound"),
    ],
)
def test_rejected_credentials_fail_with_a_clear_error(
    emu: AliyunSmsEmulator, clock: Clock, secrets: dict[str, str], code: str
) -> None:
    adapter = make_adapter(emu, clock, **secrets)
    [result] = adapter.send([sms("k", "+8613800138000")])
    assert result.status == "failed"
    assert code in (result.error or "") and "access_key" in (result.error or "")
    assert emu.sent_by_key() == {}
    with pytest.raises(ProviderError) as info:
        adapter.lookup(sms("k", "+8613800138000"), since())
    assert not info.value.temporary


def test_a_clock_more_than_15_minutes_off_is_rejected(emu: AliyunSmsEmulator, clock: Clock) -> None:
    adapter = make_adapter(emu, clock)
    adapter.clock = lambda: clock() - 16 * 60
    [result] = adapter.send([sms("k", "+8613800138000")])
    assert result.status == "failed" and "InvalidTimeStamp.Expired" in (result.error or "")
    adapter.clock = lambda: clock() - 14 * 60
    assert adapter.send([sms("k", "+8613800138000")])[0].status == "sent"


def test_a_replayed_signature_nonce_is_refused(emu: AliyunSmsEmulator, clock: Clock) -> None:
    params = {
        "AccessKeyId": KEY_ID,
        "Action": "QuerySendDetails",
        "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "fixed-nonce",
        "SignatureVersion": "1.0",
        "Timestamp": datetime.fromtimestamp(clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Version": "2017-05-25",
        "PhoneNumber": "13800138000",
        "SendDate": datetime.fromtimestamp(clock(), CHINA_TZ).strftime("%Y%m%d"),
        "PageSize": "10",
        "CurrentPage": "1",
    }
    params["Signature"] = rpc_signature("GET", params, SECRET)
    first = httpx.get(emu.base_url + "/", params=params)
    again = httpx.get(emu.base_url + "/", params=params)
    assert first.status_code == 200 and first.json()["Code"] == "OK"
    assert again.status_code == 400 and again.json()["Code"] == "SignatureNonceUsed"


def test_messages_with_one_template_go_in_one_batch_call(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    messages = [
        sms("a", "+8613800138001", name="甲"),
        sms("b", "+8613800138002", name="乙"),
        sms("c", "+85291234567", name="丙"),
        sms("d", "+8613800138003", "SMS_200002", order="A1"),
    ]
    results = adapter.send(messages)
    assert [r.status for r in results] == ["sent"] * 4
    assert sorted(actions(emu)) == ["SendBatchSms", "SendSms"]
    batch = next(r.form() for r in emu.requests if r.query["Action"] == "SendBatchSms")
    assert orjson.loads(batch["PhoneNumberJson"]) == ["13800138001", "13800138002", "85291234567"]
    assert orjson.loads(batch["TemplateParamJson"]) == [{"name": "甲"}, {"name": "乙"}, {"name": "丙"}]
    assert batch["OutId"] == "a|b|c"
    assert results[1].provider_message_id and results[1].provider_message_id.endswith("#+8613800138002")
    assert emu.sent_by_key() == {"a": 1, "b": 1, "c": 1, "d": 1}
    found = adapter.lookup(messages[1], since())
    assert found is not None and found.status == "sent"


def test_a_batch_refused_for_one_number_is_resent_singly(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    results = adapter.send(
        [sms("a", "+8613800138001"), sms("bad", "+8612345678901"), sms("c", "+8613800138003")]
    )
    assert [r.status for r in results] == ["sent", "failed", "sent"]
    assert "isv.MOBILE_NUMBER_ILLEGAL" in (results[1].error or "")
    assert actions(emu) == ["SendBatchSms", "SendSms", "SendSms", "SendSms"]
    assert emu.sent_by_key() == {"a": 1, "c": 1}


def test_batches_keep_the_joined_keys_within_out_id(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    keys = [f"{i}" + "k" * 99 for i in range(3)]  # 100 characters each: two fit in 255, three do not
    results = adapter.send([sms(k, f"+861380013800{i}") for i, k in enumerate(keys)])
    assert [r.status for r in results] == ["sent"] * 3
    assert actions(emu) == ["SendBatchSms", "SendSms"]
    assert emu.sent_by_key() == dict.fromkeys(keys, 1)


def test_minute_frequency_control_is_retried_after_its_window(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator, clock: Clock
) -> None:
    assert adapter.send([sms("first", "+8613800138000")])[0].status == "sent"
    [limited] = adapter.send([sms("second", "+8613800138000")])
    assert limited.status == "retry" and limited.retry_after_s == 60
    assert "isv.BUSINESS_LIMIT_CONTROL" in (limited.error or "")
    clock.advance(31)
    assert adapter.send([sms("second", "+8613800138000")])[0].status == "sent"
    assert emu.sent_by_key() == {"first": 1, "second": 1}


def test_daily_frequency_control_fails(adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator) -> None:
    emu.rate_limit = (1, 86400)
    adapter.send([sms("first", "+8613800138000")])
    [limited] = adapter.send([sms("second", "+8613800138000")])
    assert limited.status == "failed" and "daily" in (limited.error or "")


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ({"template_code": "SMS_404", "params": {"name": "x"}}, "isv.SMS_TEMPLATE_ILLEGAL"),
        (
            {"template_code": "SMS_100001", "params": {"name": "x"}, "sign_name": "别家"},
            "isv.SMS_SIGNATURE_ILLEGAL",
        ),
        ({"template_code": "SMS_100001", "params": {}}, "isv.TEMPLATE_MISSING_PARAMETERS"),
    ],
)
def test_template_and_signature_errors_fail(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator, content: dict[str, object], code: str
) -> None:
    message = OutboundMessage("k", "sms", Recipient(1, phone="+8613800138000"), content)
    [result] = adapter.send([message])
    assert result.status == "failed" and (result.error or "").startswith(code)
    assert emu.sent_by_key() == {}


def test_content_without_a_template_fails_before_calling_aliyun(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    message = OutboundMessage("k", "sms", Recipient(1, phone="+8613800138000"), {"text": "hi"})
    assert adapter.send([message])[0].status == "failed"
    assert emu.requests == []


def test_a_429_is_retried_with_a_fresh_signature_and_sent_once(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    emu.fail_next(2, 429)
    assert adapter.send([sms("k", "+8613800138000")])[0].status == "sent"
    assert emu.sent_by_key() == {"k": 1}
    nonces = [r.query["SignatureNonce"] for r in emu.requests]
    assert len(nonces) == 3 and len(set(nonces)) == 3


def test_a_503_on_send_is_left_to_lookup_then_resent_once(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    """A 5xx may come after Aliyun accepted the message, so the send is not repeated blindly: the
    result says retry, lookup finds nothing, and the next send goes through exactly once."""
    emu.fail_next(1, 503)
    message = sms("k", "+8613800138000")
    [result] = adapter.send([message])
    assert result.status == "retry" and "503" in (result.error or "")
    assert actions(emu) == ["SendSms"]
    assert adapter.lookup(message, since()) is None
    assert adapter.send([message])[0].status == "sent"
    assert emu.sent_by_key() == {"k": 1}


def test_a_failing_query_is_retried_by_provider_http(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    message = sms("k", "+8613800138000")
    adapter.send([message])
    emu.fail_next(2, 503, actions=("QuerySendDetails",))
    assert adapter.lookup(message, since()) is not None
    emu.fail_next(10, 503, actions=("QuerySendDetails",))
    with pytest.raises(ProviderError) as info:
        adapter.lookup(message, since())
    assert info.value.temporary


def test_throttling_maps_to_retry_and_the_next_send_succeeds(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    emu.fail_next(1, "Throttling.User")
    [throttled] = adapter.send([sms("k", "+8613800138000")])
    assert throttled.status == "retry" and throttled.retry_after_s == 1.0
    assert adapter.send([sms("k", "+8613800138000")])[0].status == "sent"
    assert emu.sent_by_key() == {"k": 1}


def test_lookup_finds_a_sent_message_and_none_for_an_unknown_key(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator
) -> None:
    message = sms("j1:c1:e1:s1", "+8613800138000")
    adapter.send([message])
    found = adapter.lookup(message, since())
    assert found is not None and found.status == "sent" and found.detail["out_id"] == message.key
    assert adapter.lookup(sms("j1:c1:e1:s2", "+8613800138000"), since()) is None
    assert adapter.lookup(sms("j1:c1:e1:s1", "+8613900000000"), since()) is None


def test_lookup_pages_through_the_query_results(adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator) -> None:
    emu.rate_limit = None
    for i in range(60):
        adapter.send([sms(f"key-{i}", "+8613800138000")])
    assert adapter.lookup(sms("key-55", "+8613800138000"), since()) is not None
    pages = [r.form()["CurrentPage"] for r in emu.requests if r.query["Action"] == "QuerySendDetails"]
    assert pages == ["1", "2"]


def test_receipts_by_query_and_by_report_push(
    adapter: AliyunSmsAdapter, emu: AliyunSmsEmulator, clock: Clock
) -> None:
    adapter.send([sms("one", "+8613800138000")])
    adapter.send([sms("a", "+8613800138001"), sms("b", "+8613800138002")])
    assert adapter.receipts_for_phone("+8613800138000", since()) == []  # still waiting for the carrier
    clock.advance(3)
    emu.deliver()
    [polled] = adapter.receipts_for_phone("+8613800138000", since())
    assert polled.key == "one" and polled.status == "delivered"
    pushed = {r.provider_message_id: r for r in parse_aliyun_report(emu.report_body())}
    single = next(r for r in pushed.values() if r.key == "one")
    assert single.status == "delivered" and single.at == datetime.fromtimestamp(START + 3, UTC)
    batched = [r for r in pushed.values() if r.key is None]
    assert {r.provider_message_id.split("#")[1] for r in batched if r.provider_message_id} == {
        "+8613800138001",
        "+8613800138002",
    }


def test_parse_the_documented_report_and_uplink_samples() -> None:
    sample = {
        "phone_number": "1381111****",
        "send_time": "2017-01-01 00:00:00",
        "report_time": "2017-01-01 00:00:00",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "12345",
        "out_id": "67890",
    }
    batched = {**sample, "phone_number": "13811110000", "success": False, "err_code": "MK:0001"}
    batched |= {"err_msg": "blocked", "biz_id": "12346", "out_id": "k1|k2"}
    report = orjson.dumps([sample, batched])
    ok, failed = parse_aliyun_report(report)
    assert (ok.key, ok.provider_message_id, ok.status) == ("67890", "12345", "delivered")
    assert ok.at == datetime(2016, 12, 31, 16, 0, tzinfo=UTC)
    assert failed.status == "failed" and failed.error == "MK:0001: blocked" and failed.key is None
    assert failed.provider_message_id == "12346#+8613811110000"
    uplink = b'[{"phone_number":"13800138000","send_time":"2017-09-01 00:00:00","content":"TD",'
    uplink += b'"sign_name":"\xe6\x80\x9d\xe5\x9f\x9f","dest_code":"1234","sequence_id":1234567890}]'
    [reply] = parse_aliyun_uplink(uplink)
    assert (reply.phone, reply.text, reply.provider_message_id) == ("+8613800138000", "TD", "1234567890")
    assert reply.channel == "sms" and reply.at == datetime(2017, 8, 31, 16, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_aliyun_report(b"not json")
