"""WeComAdapter against the local WeCom emulator: tokens, 1:1 / group / moments / welcome sends,
limits, exactly-once lookup, receipts and tags."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.emulators.wecom import EC, WeComEmulator

from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.http import ProviderError
from siyu.channels.wecom import WeComAdapter

STAFF = "zhangsan"
CUSTOMERS = ["wmAAA", "wmBBB", "wmCCC"]


@pytest.fixture
def emu() -> Iterator[WeComEmulator]:
    emulator = WeComEmulator()
    for customer in CUSTOMERS:
        emulator.add_customer(STAFF, customer)
    with emulator.running():
        yield emulator


def make_adapter(emu: WeComEmulator, secret: str = "s3cret") -> WeComAdapter:
    config = {"base_url": emu.base_url, "corp_id": emu.corp_id, "backoff_s": 0.001, "retries": 2}
    return WeComAdapter(config, {"corp_secret": secret})


@pytest.fixture
def adapter(emu: WeComEmulator) -> Iterator[WeComAdapter]:
    a = make_adapter(emu)
    yield a
    a.close()


def msg(key: str, text: str, customer: str | None = "wmAAA", channel: str = "wecom_private", **content: Any):
    recipient = Recipient(contact_id=1, wecom_external_userid=customer, wecom_staff_userid=STAFF)
    return OutboundMessage(key, channel, recipient, {"text": text, **content})


def calls(emu: WeComEmulator, name: str) -> int:
    return sum(1 for r in emu.requests if r.path == f"{EC}/{name}")


def since() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)


def test_token_is_fetched_once_and_reused(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    results = adapter.send([msg("k1", "hello 1")]) + adapter.send([msg("k2", "hello 2")])
    assert [r.status for r in results] == ["sent", "sent"]
    assert emu.gettoken_calls == 1


@pytest.mark.parametrize("expire", ["clock", "revoked"])
def test_expired_or_invalid_token_is_refreshed_once(
    emu: WeComEmulator, adapter: WeComAdapter, expire: str
) -> None:
    assert adapter.send([msg("k1", "first")])[0].status == "sent"
    if expire == "clock":
        emu.now += emu.token_ttl_s + 1  # WeCom now answers 42001 while our cache still trusts the token
    else:
        emu.tokens.clear()  # 40014
    assert adapter.send([msg("k2", "second")])[0].status == "sent"
    assert emu.gettoken_calls == 2
    assert emu.tasks_with_text("second") == 1


def test_identical_private_messages_share_one_task(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    promo = {"attachments": [{"msgtype": "link", "link": {"title": "Sale", "url": "https://s.example/x"}}]}
    messages = [msg(f"k{i}", "Spring sale", customer=c, **promo) for i, c in enumerate(CUSTOMERS)]
    messages.append(msg("other", "Something else", customer="wmAAA"))
    results = adapter.send(messages)
    assert [r.status for r in results] == ["sent"] * 4
    assert len(emu.tasks) == 2
    batch = {r.detail["msgid"] for r in results[:3]}
    assert len(batch) == 1 and results[3].detail["msgid"] not in batch
    assert emu.tasks[batch.pop()].targets == CUSTOMERS
    assert [r.provider_message_id for r in results[:3]] == [
        f"{results[0].detail['msgid']}:{c}" for c in CUSTOMERS
    ]


def test_same_customer_twice_in_a_batch_gets_two_tasks(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    results = adapter.send([msg("k1", "Same"), msg("k2", "Same")])
    assert [r.status for r in results] == ["sent", "sent"]
    assert results[0].detail["msgid"] != results[1].detail["msgid"]
    assert emu.sent_by_external_userid() == {"wmAAA": 2}


def test_fail_list_customer_fails_and_the_rest_are_sent(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    results = adapter.send([msg("k1", "Hi", customer="wmAAA"), msg("k2", "Hi", customer="wmSTRANGER")])
    assert results[0].status == "sent"
    assert results[1].status == "failed" and results[1].error.startswith("wecom_unreachable")


def test_group_message_goes_to_the_owner_and_is_delivered_on_confirmation(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    emu.add_group_chat(STAFF, "wrGROUP1")
    emu.add_group_chat(STAFF, "wrGROUP2")
    result = adapter.send(
        [msg("g1", "Hello group", customer=None, channel="wecom_group", chat_id_list=["wrGROUP1"])]
    )[0]
    assert result.status == "sent"
    task = emu.tasks[result.provider_message_id]
    assert (task.chat_type, task.sender, task.targets) == ("group", STAFF, ["wrGROUP1"])
    assert adapter.poll_results([result.provider_message_id], STAFF) == []
    emu.confirm_send(result.provider_message_id)
    [receipt] = adapter.poll_results([result.provider_message_id], STAFF)
    assert (receipt.provider_message_id, receipt.status) == (result.provider_message_id, "delivered")


def test_moment_task_returns_the_jobid_and_sets_visibility(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    images = [{"msgtype": "image", "image": {"media_id": f"MEDIA{i}"}} for i in range(3)]
    m = msg(
        "m1", "New season", customer=None, channel="wecom_moment", attachments=images, visible_tags=["etVIP"]
    )
    result = adapter.send([m])[0]
    assert result.status == "sent" and result.provider_message_id in emu.jobs
    [moment] = emu.moments.values()
    assert moment["body"]["visible_range"] == {
        "sender_list": {"user_list": [STAFF]},
        "external_contact_list": {"tag_list": ["etVIP"]},
    }
    job = adapter.moment_task_result(result.provider_message_id)
    assert job["status"] == 3 and job["result"]["moment_id"] in emu.moments


def test_moment_text_over_2000_characters_is_refused_before_calling(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    result = adapter.send([msg("m1", "好" * 2001, customer=None, channel="wecom_moment")])[0]
    assert result.status == "failed" and result.detail["field"] == "text"
    assert calls(emu, "add_moment_task") == 0


@pytest.mark.parametrize("errcode", [41051, 41096])
def test_welcome_message_is_sent_once_and_a_second_sender_is_told_why(
    emu: WeComEmulator, adapter: WeComAdapter, errcode: int
) -> None:
    emu.welcome_taken_errcode = errcode
    code = emu.issue_welcome_code(STAFF, "wmAAA")
    first = adapter.send([msg("w1", "Welcome!", channel="wecom_welcome", welcome_code=code)])[0]
    again = adapter.send([msg("w2", "Welcome!", channel="wecom_welcome", welcome_code=code)])[0]
    assert first.status == "sent" and len(emu.welcomes_sent) == 1
    assert again.status == "failed" and again.error.startswith("wecom_welcome_taken")
    assert str(errcode) in again.error


def test_welcome_code_older_than_20_seconds_fails(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    code = emu.issue_welcome_code(STAFF, "wmAAA")
    emu.now += 21
    result = adapter.send([msg("w1", "Welcome!", channel="wecom_welcome", welcome_code=code)])[0]
    assert result.status == "failed" and result.error.startswith("wecom_welcome_code_expired")


def test_more_than_nine_attachments_are_refused_before_calling(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    images = [{"msgtype": "image", "image": {"media_id": f"M{i}"}} for i in range(10)]
    result = adapter.send([msg("k1", "Too many", attachments=images)])[0]
    assert result.status == "failed" and result.detail["field"] == "attachments"
    assert "attachments" in result.error and "at most 9" in result.error
    assert calls(emu, "add_msg_template") == 0


def test_customer_over_the_monthly_quota_fails_with_wecom_monthly_limit(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    emu.now = datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp()  # June: 30 bulk messages a customer
    emu.seed_received("wmAAA", 30)
    results = adapter.send(
        [msg("k1", "June news", customer="wmAAA"), msg("k2", "June news", customer="wmBBB")]
    )
    emu.confirm_send(results[0].detail["msgid"])
    receipts = {
        r.provider_message_id: r for r in adapter.poll_results([results[0].provider_message_id], STAFF)
    }
    assert receipts[results[0].provider_message_id].status == "failed"
    assert receipts[results[0].provider_message_id].error == "wecom_monthly_limit"
    assert receipts[results[1].provider_message_id].status == "delivered"


def test_monthly_quota_follows_the_shanghai_calendar_month(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    emu.now = datetime(2025, 6, 30, 15, 59, 59, tzinfo=UTC).timestamp()  # 23:59:59 on 30 June in Shanghai
    emu.seed_received("wmAAA", 30)
    june = adapter.send([msg("k1", "Last of June")])[0]
    emu.confirm_send(june.detail["msgid"])
    emu.now += 1  # 00:00:00 on 1 July in Shanghai, still 30 June in UTC
    july = adapter.send([msg("k2", "First of July")])[0]
    emu.confirm_send(july.detail["msgid"])
    statuses = {r.provider_message_id: r.status for r in adapter.poll_results([june.detail["msgid"]], STAFF)}
    statuses |= {r.provider_message_id: r.status for r in adapter.poll_results([july.detail["msgid"]], STAFF)}
    assert statuses == {june.provider_message_id: "failed", july.provider_message_id: "delivered"}


def test_frequency_limit_is_retried_and_then_succeeds(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    emu.fail_next(1, 45009, path=f"{EC}/add_msg_template")
    result = adapter.send([msg("k1", "Retry me")])[0]
    assert result.status == "sent"
    assert calls(emu, "add_msg_template") == 2 and emu.tasks_with_text("Retry me") == 1


def test_per_minute_limit_still_hit_after_retries_asks_to_retry_later(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    emu.per_minute_limit = 1
    assert adapter.send([msg("k1", "One")])[0].status == "sent"
    result = adapter.send([msg("k2", "Two")])[0]
    assert result.status == "retry" and result.retry_after_s == 60
    assert result.error.startswith("wecom_rate_limited")
    assert emu.tasks_with_text("Two") == 0


def test_a_create_with_unknown_outcome_is_not_repeated_by_the_client(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    emu.fail_next(1, -1, path=f"{EC}/add_msg_template")  # system busy: WeCom may or may not have acted
    result = adapter.send([msg("k1", "Maybe")])[0]
    assert result.status == "retry" and result.detail["outcome_unknown"]
    assert calls(emu, "add_msg_template") == 1


def test_a_lost_answer_is_not_resent_and_lookup_finds_the_task(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    emu.drop_next_response(f"{EC}/add_msg_template")  # WeCom created the task; the answer never came
    first = adapter.send([msg("j:1:1:1", "Lost answer https://s.example/t/q1")])[0]
    assert first.status == "retry" and first.detail["outcome_unknown"]
    assert calls(emu, "add_msg_template") == 1  # the HTTP client did not repeat the create on a 502
    found = adapter.lookup(msg("j:1:1:1", "Lost answer https://s.example/t/q1"), since())
    assert found is not None and found.status == "sent" and found.detail["msgid"] in emu.tasks
    assert emu.tasks_with_text("Lost answer https://s.example/t/q1") == 1


def test_lookup_finds_the_earlier_task_by_text_and_customer(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    text = "Your coupon https://s.example/t/abc123"
    sent = adapter.send([msg("j:1:1:1", text, customer="wmAAA")])[0]
    # the worker died before recording ``sent``: the dispatcher asks before sending again
    found = adapter.lookup(msg("j:1:1:1", text, customer="wmAAA"), since())
    assert found is not None and found.status == "sent"
    assert found.provider_message_id == sent.provider_message_id
    assert adapter.lookup(msg("j:2:1:1", text, customer="wmBBB"), since()) is None
    assert adapter.lookup(msg("j:1:1:2", "Another text", customer="wmAAA"), since()) is None
    assert emu.tasks_with_text(text) == 1


def test_lookup_finds_a_group_task_and_ignores_other_owners(
    emu: WeComEmulator, adapter: WeComAdapter
) -> None:
    emu.add_group_chat(STAFF, "wrGROUP1")
    sent = adapter.send([msg("g1", "Group news", customer=None, channel="wecom_group")])[0]
    found = adapter.lookup(msg("g1", "Group news", customer=None, channel="wecom_group"), since())
    assert found is not None and found.provider_message_id == sent.provider_message_id
    other = OutboundMessage(
        "g2", "wecom_group", Recipient(2, wecom_staff_userid="lisi"), {"text": "Group news"}
    )
    assert adapter.lookup(other, since()) is None


def test_receipts_follow_the_staff_confirmation(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    results = adapter.send([msg("k1", "Hello", customer="wmAAA"), msg("k2", "Hello", customer="wmBBB")])
    assert adapter.receipts(since()) == []  # not confirmed yet: nothing was delivered
    emu.remove_customer(STAFF, "wmBBB")  # the customer deleted the staff member meanwhile
    emu.confirm_send(results[0].detail["msgid"])
    by_id = {r.provider_message_id: r for r in adapter.receipts(since())}
    assert by_id[results[0].provider_message_id].status == "delivered"
    assert (by_id[results[1].provider_message_id].status, by_id[results[1].provider_message_id].error) == (
        "failed",
        "wecom_not_customer",
    )
    assert set(by_id) == {r.provider_message_id for r in results}


def test_mark_tag_and_corp_tags(emu: WeComEmulator, adapter: WeComAdapter) -> None:
    vip = emu.add_corp_tag("Tier", "VIP")
    new = emu.add_corp_tag("Tier", "New")
    [group] = adapter.corp_tags()
    assert group["group_name"] == "Tier" and {t["name"] for t in group["tag"]} == {"VIP", "New"}
    adapter.mark_tag(STAFF, "wmAAA", add_tag=[vip, new], remove_tag=[])
    adapter.mark_tag(STAFF, "wmAAA", add_tag=[], remove_tag=[new])
    assert emu.contact_tags[(STAFF, "wmAAA")] == {vip}
    with pytest.raises(ProviderError) as err:
        adapter.mark_tag(STAFF, "wmAAA", add_tag=["etNOPE"], remove_tag=[])
    assert err.value.errcode == 40068 and not err.value.temporary  # type: ignore[attr-defined]


def test_wrong_secret_fails_with_a_clear_error(emu: WeComEmulator) -> None:
    adapter = make_adapter(emu, secret="wrong")
    try:
        result = adapter.send([msg("k1", "Hello")])[0]
    finally:
        adapter.close()
    assert result.status == "failed"
    assert result.error.startswith("wecom_auth") and "40001" in result.error and "corp_secret" in result.error
    assert not emu.tasks


def test_missing_corp_id_or_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="corp_id"):
        WeComAdapter({}, {"corp_secret": "x"})
    with pytest.raises(ValueError, match="corp_secret"):
        WeComAdapter({"corp_id": "ww1"}, {})
