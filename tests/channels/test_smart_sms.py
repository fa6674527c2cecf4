"""Smart SMS (5G message cards) against an emulated MaaP chatbot platform."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from tests.emulators.smart_sms import SmartSmsPlatform

from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.http import ProviderError
from siyu.channels.inbound import callback_parser
from siyu.channels.smart_sms import CARD_TYPE, CHIPS_TYPE, ContentError, SmartSmsAdapter, message_id_for
from siyu.channels.smart_sms_callbacks import (
    RESPONSE_TYPE,
    parse_delivery_notification,
    parse_message_notification,
    verify_notification,
)

CHATBOT = "sip:1065051234@botplatform.rcs.chinaunicom.cn"
PHONE, OLD_PHONE = "+8613800138000", "+8613900139000"


def card(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "card": {
            "title": "会员日 · 满 199 减 50",
            "body": "本周六全场满 199 减 50，点击领取优惠券。",
            "image": "https://cdn.brand.example/materials/member-day.png",
            "buttons": [
                {"label": "立即领券", "action": "url", "value": "https://brand.example/c/abc123"},
                {"label": "进入小程序", "action": "miniprogram", "value": "weixin://dl/business/?t=Qk9PSw"},
                {
                    "label": "更多服务",
                    "action": "reply",
                    "value": "MORE",
                    "children": [
                        {"label": "查积分", "action": "reply", "value": "POINTS"},
                        {"label": "门店地址", "action": "url", "value": "https://brand.example/stores"},
                        {"label": "退订", "action": "reply", "value": "TD"},
                    ],
                },
            ],
        },
        "fallback": {
            "text": "会员日满199减50，领券 https://s.brand.example/abc 回TD退订",
            "template_code": "SMS_1",
        },
    }
    content["card"] |= overrides
    return content


def message(
    key: str = "j1:7:1:0", phone: str = PHONE, content: dict[str, Any] | None = None
) -> OutboundMessage:
    return OutboundMessage(key, "smart_sms", Recipient(7, phone=phone), content or card())


@pytest.fixture
def platform() -> Iterator[tuple[SmartSmsPlatform, SmartSmsAdapter]]:
    emu = SmartSmsPlatform(CHATBOT, "app-123", "key-456", not_capable={OLD_PHONE})
    with emu.running() as base_url:
        adapter = SmartSmsAdapter(
            {"base_url": base_url, "chatbot_id": CHATBOT, "app_id": "app-123", "retries": 0},
            {"app_key": "key-456", "notify_token": "notify-tok"},
        )
        yield emu, adapter
        adapter.close()


def test_card_with_two_level_menu_is_accepted_with_the_spec_structure(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    [result] = adapter.send([message()])
    assert result.status == "sent", result.error
    message_id = message_id_for("j1:7:1:0", CHATBOT)
    assert result.provider_message_id == message_id and emu.sends[message_id] == 1
    body = emu.messages[message_id]
    assert body["destinationAddress"] == [f"tel:{PHONE}"] and body["senderAddress"] == CHATBOT
    assert body["smsSupported"] is False  # our own SMS provider does the fallback
    [card_part, chips_part] = body["messageList"]
    assert card_part["contentType"] == CARD_TYPE and chips_part["contentType"] == CHIPS_TYPE
    general = card_part["contentText"]["message"]["generalPurposeCard"]
    assert general["layout"] == {"cardOrientation": "VERTICAL"}
    content = general["content"]
    assert content["title"] == "会员日 · 满 199 减 50" and content["description"].startswith("本周六")
    assert content["media"]["mediaUrl"].endswith("member-day.png")
    assert content["media"]["mediaContentType"] == "image/png"
    first, mini, more = content["suggestions"]
    assert first["action"]["urlAction"]["openUrl"] == {
        "url": "https://brand.example/c/abc123",
        "application": "browser",
    }
    assert mini["action"]["urlAction"]["openUrl"]["url"].startswith("weixin://dl/business/")
    assert more == {"reply": {"displayText": "更多服务", "postback": {"data": "MORE"}}}
    chips = chips_part["contentText"]["suggestions"]
    assert [c.get("reply", c.get("action"))["displayText"] for c in chips] == ["查积分", "门店地址", "退订"]
    assert chips[2] == {"reply": {"displayText": "退订", "postback": {"data": "TD"}}}
    assert emu.capability_queries == [PHONE]


def test_content_library_button_shape_is_accepted(platform: tuple[SmartSmsPlatform, SmartSmsAdapter]) -> None:
    """The content library (docs/content.md) renders buttons as ``type`` url/reply/call/menu."""
    emu, adapter = platform
    buttons = [
        {"label": "领券", "type": "url", "url": "https://s.brand.example/abc"},
        {"label": "客服热线", "type": "call", "phone": "+864001234567"},
        {"label": "更多", "type": "menu", "buttons": [{"label": "退订", "type": "reply", "reply": "TD"}]},
    ]
    [result] = adapter.send([message(content=card(buttons=buttons))])
    assert result.status == "sent", result.error
    [card_part, chips_part] = emu.messages[result.provider_message_id or ""]["messageList"]
    url, call, more = card_part["contentText"]["message"]["generalPurposeCard"]["content"]["suggestions"]
    assert url["action"]["urlAction"]["openUrl"]["url"] == "https://s.brand.example/abc"
    assert call["action"]["dialerAction"] == {"dialPhoneNumber": {"phoneNumber": "+864001234567"}}
    assert more == {"reply": {"displayText": "更多", "postback": {"data": "更多"}}}
    assert chips_part["contentText"]["suggestions"] == [
        {"reply": {"displayText": "退订", "postback": {"data": "TD"}}}
    ]
    nested = [{"label": "a", "type": "menu", "buttons": [{"label": "b", "type": "menu", "buttons": []}]}]
    [refused] = adapter.send([message(key="k2", content=card(buttons=nested))])
    assert refused.status == "failed" and "card.buttons[0].children[0].children" in (refused.error or "")


def test_a_third_menu_level_is_rejected_naming_the_field(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    content = card()
    content["card"]["buttons"][2]["children"][0]["children"] = [
        {"label": "x", "action": "reply", "value": "X"}
    ]
    [result] = adapter.send([message(content=content)])
    assert result.status == "failed"
    assert "card.buttons[2].children[0].children" in (result.error or "")
    assert not emu.sends and not emu.capability_queries  # nothing reached the platform


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda c: c["card"]["buttons"][0].update(
                label="一二三四五六七八九十一二三四五六七八九十一二三四五六"
            ),
            "card.buttons[0].label",
        ),
        (lambda c: c["card"]["buttons"][0].update(action="dial"), "card.buttons[0].action"),
        (lambda c: c["card"]["buttons"][0].update(value="javascript:alert(1)"), "card.buttons[0].value"),
        (lambda c: c["card"].update(title=""), "card.title"),
        (lambda c: c["card"].update(body="长" * 2001), "card.body"),
        (
            lambda c: c["card"]["buttons"].extend([{"label": "a", "action": "reply", "value": "A"}] * 2),
            "card.buttons",
        ),
        (lambda c: c.pop("fallback"), "fallback"),
    ],
)
def test_invalid_content_is_refused_before_any_call(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter], mutate: Any, field: str
) -> None:
    emu, adapter = platform
    content = card()
    mutate(content)
    [result] = adapter.send([message(content=content)])
    assert result.status == "failed" and f"invalid content: {field}" in (result.error or "")
    assert not emu.sends


def test_handset_that_cannot_render_a_card_gets_the_fallback_without_a_send(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    results = adapter.send([message(phone=OLD_PHONE), message(key="j1:8:1:0")])
    assert results[0].status == "failed" and results[0].error == "not_capable"
    assert results[0].detail == {"fallback": True}
    assert results[1].status == "sent"
    assert emu.capability_queries == [OLD_PHONE, PHONE]
    assert list(emu.sends) == [message_id_for("j1:8:1:0", CHATBOT)]


def test_token_is_cached_and_renewed_when_the_platform_expires_it(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    adapter.send([message(key="k1"), message(key="k2")])
    assert emu.token_requests == 1
    emu.expire_token()
    [result] = adapter.send([message(key="k3")])
    assert result.status == "sent" and emu.token_requests == 2
    assert sum(emu.sends.values()) == 3


def test_wrong_app_key_fails(platform: tuple[SmartSmsPlatform, SmartSmsAdapter]) -> None:
    emu, adapter = platform
    adapter.app_key = "stolen?"
    [result] = adapter.send([message()])
    assert result.status == "failed" and "40001" in (result.error or "")
    assert not emu.sends


@pytest.mark.parametrize(
    ("code", "status"), [(30003, "retry"), (-1, "retry"), (30001, "failed"), (70001, "failed")]
)
def test_platform_error_codes_map_to_retry_or_failed(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter], code: int, status: str
) -> None:
    emu, adapter = platform
    emu.fail_next = [code]
    [result] = adapter.send([message()])
    assert result.status == status and result.detail["code"] == code
    assert not emu.sends


def test_gateway_5xx_is_a_retry_and_lookup_then_finds_nothing_to_resend(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    emu.http_fail_next = [503]
    [result] = adapter.send([message()])
    assert result.status == "retry" and "503" in (result.error or "")
    assert adapter.lookup(message(), datetime.now(UTC) - timedelta(minutes=5)) is None  # safe to send
    [again] = adapter.send([message()])
    assert again.status == "sent" and sum(emu.sends.values()) == 1


def test_sender_address_mismatch_is_permanent(platform: tuple[SmartSmsPlatform, SmartSmsAdapter]) -> None:
    emu, adapter = platform
    assert not emu.rejections
    payload = adapter.build_payload(message())
    assert payload["senderAddress"] == CHATBOT
    # the URL names our chatbot but the body another one: the platform refuses with 30008
    adapter.build_payload = lambda m: payload | {"senderAddress": "sip:106500@other"}  # type: ignore[method-assign]
    [result] = adapter.send([message()])
    assert result.status == "failed" and result.detail["code"] == 30008
    assert [code for code, _ in emu.rejections] == [30008] and not emu.sends


def test_lookup_finds_an_accepted_send_by_key(platform: tuple[SmartSmsPlatform, SmartSmsAdapter]) -> None:
    _, adapter = platform
    since = datetime.now(UTC) - timedelta(minutes=5)
    assert adapter.lookup(message(), since) is None
    adapter.send([message()])
    found = adapter.lookup(message(), since)
    assert found is not None and found.status == "sent"
    assert found.provider_message_id == message_id_for("j1:7:1:0", CHATBOT)
    assert adapter.lookup(message(key="j1:7:1:1"), since) is None
    assert adapter.lookup(message(), datetime.now(UTC) + timedelta(hours=1)) is None  # older than `since`
    assert adapter.lookup(message(), since.replace(tzinfo=None)) is not None  # naive = UTC


def test_lookup_raises_when_the_platform_cannot_answer() -> None:
    adapter = SmartSmsAdapter(
        {"base_url": "http://127.0.0.1:9", "chatbot_id": CHATBOT, "app_id": "a", "retries": 0},
        {"app_key": "k"},
    )
    with pytest.raises(ProviderError):
        adapter.lookup(message(), datetime.now(UTC))
    [result] = adapter.send([message()])
    assert result.status == "retry"


def test_persistent_menu_has_two_levels_of_at_most_three_by_five(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    adapter.set_persistent_menu(
        [
            {"label": "领券中心", "action": "url", "value": "https://brand.example/coupons"},
            {
                "label": "会员服务",
                "action": "reply",
                "value": "MEMBER",
                "children": [{"label": f"服务{i}", "action": "reply", "value": f"S{i}"} for i in range(5)],
            },
        ]
    )
    assert emu.menu is not None
    entries = emu.menu["menu"]["entries"]
    assert entries[1]["menu"]["displayText"] == "会员服务" and len(entries[1]["menu"]["entries"]) == 5
    with pytest.raises(ContentError, match=r"menu\[0\].children"):
        adapter.set_persistent_menu(
            [
                {
                    "label": "x",
                    "action": "reply",
                    "value": "X",
                    "children": [{"label": "y", "action": "reply", "value": "Y"}] * 6,
                }
            ]
        )


def test_delivery_notification_becomes_receipts(platform: tuple[SmartSmsPlatform, SmartSmsAdapter]) -> None:
    emu, _ = platform
    mid = message_id_for("j1:7:1:0", CHATBOT)
    body = emu.delivery_notification(
        [
            (mid, PHONE, "sent"),
            (mid, PHONE, "delivered"),
            (mid, PHONE, "displayed"),
            ("m2", OLD_PHONE, "failed"),
            ("m3", PHONE, "deliveredToNetwork"),
            ("m4", PHONE, "revokeOk"),
        ],
        error=(2, "非5G消息终端"),
    )
    assert callback_parser("smart_sms", "receipts") is parse_delivery_notification  # what the API calls
    assert callback_parser("smart_sms", "inbound") is parse_message_notification
    receipts = parse_delivery_notification(orjson.dumps(body))
    assert [(r.provider_message_id, r.status) for r in receipts] == [
        (mid, "delivered"),
        (mid, "read"),
        ("m2", "failed"),
        ("m3", "delivered"),
    ]
    assert receipts[2].error == "2: 非5G消息终端" and receipts[0].error is None
    assert receipts[0].at == datetime(2025, 3, 17, 6, 42, 20, 840000, tzinfo=UTC)


def test_postbacks_and_typed_replies_become_inbound(
    platform: tuple[SmartSmsPlatform, SmartSmsAdapter],
) -> None:
    emu, adapter = platform
    tapped = {"response": {"reply": {"displayText": "退订", "postback": {"data": "TD"}}}}
    body = emu.message_notification(
        PHONE,
        [
            {"contentType": RESPONSE_TYPE, "contentEncoding": "utf8", "contentText": tapped},
            {"contentType": "text/plain", "contentText": "周六几点开门？"},
            {
                "contentType": "text/plain",
                "contentEncoding": "base64",
                "contentText": base64.b64encode(b"T").decode(),
            },
            {
                "contentType": "application/vnd.gsma.rcs-ft-http",
                "contentText": [{"type": "file", "url": "https://x"}],
            },
        ],
    )
    inbound = parse_message_notification(orjson.dumps(body))
    assert [(i.phone, i.text, i.channel) for i in inbound] == [
        (PHONE, "TD", "smart_sms"),
        (PHONE, "周六几点开门？", "smart_sms"),
        (PHONE, "T", "smart_sms"),
    ]
    assert inbound[0].provider_message_id == body["messageId"]
    # the platform signs its callbacks with the notify token
    headers = emu.signed_headers("notify-tok")
    assert verify_notification(
        adapter.notify_token or "", headers["signature"], headers["timestamp"], headers["nonce"]
    )
    assert not verify_notification(
        "other-token", headers["signature"], headers["timestamp"], headers["nonce"]
    )
    assert not verify_notification("notify-tok", headers["signature"], headers["timestamp"], "another-nonce")


def test_config_requires_chatbot_and_credentials() -> None:
    with pytest.raises(ValueError, match="chatbot_id"):
        SmartSmsAdapter({"base_url": "https://maap.example.cn", "app_id": "a"}, {"app_key": "k"})
    with pytest.raises(ValueError, match="app_key"):
        SmartSmsAdapter({"base_url": "https://maap.example.cn", "app_id": "a", "chatbot_id": CHATBOT}, {})
    alias = SmartSmsAdapter(
        {"base_url": "https://m.example.cn", "app_id": "a", "chatbot_id": CHATBOT}, {"password": "k"}
    )
    assert alias.app_key == "k"
