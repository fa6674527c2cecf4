"""What providers push back, through the HTTP endpoints of src/siyu/api/journeys.py: delivery
receipts and SMS replies at ``/api/v1/providers/{key}/callbacks/{kind}?token=`` (parsed by
src/siyu/channels/inbound.py) and one-click email unsubscribe at ``/u/{token}``.

Bodies are Aliyun's documented SmsReport / SmsUp push format (the samples of
tests/channels/test_aliyun_sms.py). Expected states are written out by hand; the consent ledger
is read through ``ConsentService.allows``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from siyu.api.app import create_app
from siyu.channels.email import unsubscribe_token
from siyu.channels.providers import ProviderService
from siyu.client import Siyu
from siyu.consent.service import ConsentService
from siyu.context import AppContext
from siyu.store.models import ConsentRecord, Event, OutboxMessage

PHONES = {"c1": "+8613900000001", "c2": "+8613900000002", "c3": "+8613900000003"}
ALIYUN = {"sign_name": "思域"}, {"access_key_id": "LTAI5t", "access_key_secret": "ali-secret"}
UNSUB_SECRET = "unsub-secret-1"


class World:
    def __init__(self, ctx: AppContext, http: TestClient) -> None:
        self.ctx = ctx
        self.http = http
        self.client = Siyu(ctx)
        self.ids: dict[str, int] = {}

    def token(self, key: str) -> str:
        with self.ctx.db.session() as s:
            return ProviderService(s, self.ctx.keyring).callback_token(key)

    def callback(self, kind: str, body: Any, key: str = "ali", token: str | None = None) -> Any:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        params = {"token": self.token(key) if token is None else token}
        return self.http.post(f"/api/v1/providers/{key}/callbacks/{kind}", params=params, content=data)

    def allows(self, who: str, channel: str) -> bool:
        with self.ctx.db.session() as s:
            return ConsentService(s).allows(self.ids[who], "marketing", channel)

    def events(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        with self.ctx.db.session() as s:
            rows = s.execute(
                select(Event.contact_id, Event.properties).where(Event.event == name).order_by(Event.id)
            ).all()
        return [(int(c), dict(p or {})) for c, p in rows]

    def outbox(self, key: str) -> OutboxMessage:
        with self.ctx.db.session() as s:
            row = s.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
            assert row is not None
            s.expunge(row)
            return row

    def sent_message(self, key: str, who: str, provider_message_id: str) -> None:
        """A message the dispatcher sent earlier (status sent, the provider's id recorded)."""
        with self.ctx.db.session() as s:
            s.add(
                OutboxMessage(
                    key=key,
                    contact_id=self.ids[who],
                    channel="sms",
                    provider="ali",
                    content={"text": "hi"},
                    status="sent",
                    attempts=1,
                    provider_message_id=provider_message_id,
                    local_day="2025-06-01",
                    local_week="2025-W22",
                    sent_at=datetime(2025, 6, 1, 2, 0, tzinfo=UTC),
                )
            )


@pytest.fixture
def world(ctx: AppContext) -> Iterator[World]:
    client = Siyu(ctx)
    with TestClient(create_app(client), raise_server_exceptions=False) as http:
        w = World(ctx, http)
        for uid, phone in PHONES.items():
            assert client.identify({"customer_no": uid, "phone": phone}, {}).rejected == []
            w.ids[uid] = client.contact(f"customer_no:{uid}")["id"]
            for channel in ("sms", "email"):
                client.set_consent(f"id:{w.ids[uid]}", "marketing", True, channel=channel)
        client.providers.add("ali", "aliyun_sms", *ALIYUN)
        yield w


def uplink(phone: str, text: str, seq: int = 1) -> dict[str, Any]:
    """One SmsUp item: Aliyun sends the mainland number without +86."""
    return {
        "phone_number": phone.removeprefix("+86"),
        "send_time": "2025-06-01 10:00:00",
        "content": text,
        "sign_name": "思域",
        "dest_code": "1234",
        "sequence_id": seq,
    }


def report(out_id: str, biz_id: str, success: bool = True, **extra: Any) -> dict[str, Any]:
    """One SmsReport item."""
    return {
        "phone_number": "13900000001",
        "send_time": "2025-06-01 10:00:00",
        "report_time": "2025-06-01 10:00:05",
        "success": success,
        "err_code": "DELIVERED" if success else "MK:0001",
        "err_msg": "用户接收成功" if success else "blocked",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": out_id,
        **extra,
    }


def ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


# --- the callback URL's token ----------------------------------------------------------------------
@pytest.mark.parametrize("token", ["", "0" * 32, "wrong"])
def test_a_wrong_or_missing_token_is_403_and_nothing_is_recorded(world: World, token: str) -> None:
    resp = world.callback("inbound", [uplink(PHONES["c1"], "TD")], token=token)
    assert resp.status_code == 403, resp.text
    no_token = world.http.post("/api/v1/providers/ali/callbacks/inbound", content=b"[]")
    assert no_token.status_code == 403
    assert world.events("Message Received") == [] and world.allows("c1", "sms")


def test_the_token_of_another_provider_is_refused(world: World) -> None:
    world.client.providers.add("ali2", "aliyun_sms", *ALIYUN)
    resp = world.callback("inbound", [uplink(PHONES["c1"], "TD")], key="ali", token=world.token("ali2"))
    assert resp.status_code == 403
    assert world.allows("c1", "sms")


def test_a_non_ascii_token_is_403(world: World) -> None:
    assert world.callback("inbound", [], token="退订").status_code == 403


def test_unknown_provider_or_callback_kind_is_404(world: World) -> None:
    assert world.callback("inbound", [], key="nope", token="x").status_code == 404
    assert world.callback("clicks", []).status_code == 404  # aliyun_sms has receipts and inbound only
    world.client.providers.add("hook", "webhook", {"url": "http://127.0.0.1:9/"}, {"secret": "s"})
    resp = world.callback("receipts", [], key="hook")
    assert resp.status_code == 404 and "webhook" in resp.json()["detail"]


def test_an_unreadable_body_is_422(world: World) -> None:
    resp = world.callback("inbound", b"not json")
    assert resp.status_code == 422 and "inbound" in resp.json()["detail"]
    assert world.callback("receipts", b'"a string"').status_code == 422


# --- SMS replies ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["TD", "退订", " td ", "ＴＤ", "STOP"])
def test_an_unsubscribe_reply_withdraws_sms_marketing_consent(world: World, text: str) -> None:
    result = ok(world.callback("inbound", [uplink(PHONES["c1"], text)]))
    assert result == {"received": 1, "matched": 1, "unknown": 0, "unsubscribed": 1}
    assert world.events("Message Received") == [(world.ids["c1"], {"channel": "sms", "text": text})]
    assert not world.allows("c1", "sms")
    assert world.allows("c1", "email")  # only the channel the reply came on
    assert world.allows("c2", "sms")
    with world.ctx.db.session() as s:
        newest = s.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.contact_id == world.ids["c1"])
            .order_by(ConsentRecord.id.desc())
        ).first()
        assert newest is not None
        assert (newest.purpose, newest.channel, newest.granted, newest.source) == (
            "marketing",
            "sms",
            False,
            "sms_reply",
        )


@pytest.mark.parametrize("text", ["好的，谢谢", "TD please", "什么时候发货"])
def test_an_ordinary_reply_is_an_event_and_leaves_consent_alone(world: World, text: str) -> None:
    result = ok(world.callback("inbound", [uplink(PHONES["c2"], text)]))
    assert (result["matched"], result["unsubscribed"]) == (1, 0)
    assert world.events("Message Received") == [(world.ids["c2"], {"channel": "sms", "text": text})]
    assert world.allows("c2", "sms")


def test_a_reply_from_an_unknown_number_is_counted_not_stored(world: World) -> None:
    result = ok(world.callback("inbound", [uplink("+8613700000009", "TD")]))
    assert result == {"received": 1, "matched": 0, "unknown": 1, "unsubscribed": 0}
    assert world.events("Message Received") == []
    assert all(world.allows(u, "sms") for u in PHONES)


def test_a_mixed_push_and_the_same_push_again(world: World) -> None:
    body = [
        uplink(PHONES["c1"], "TD", seq=1),
        uplink(PHONES["c2"], "收到", seq=2),
        uplink("+8613700000009", "hello", seq=3),
    ]
    result = ok(world.callback("inbound", body))
    assert result == {"received": 3, "matched": 2, "unknown": 1, "unsubscribed": 1}
    ok(world.callback("inbound", body))  # the provider retries the push
    events = world.events("Message Received")
    assert sorted(events, key=lambda e: e[0]) == [
        (world.ids["c1"], {"channel": "sms", "text": "TD"}),
        (world.ids["c2"], {"channel": "sms", "text": "收到"}),
    ]
    assert not world.allows("c1", "sms") and world.allows("c2", "sms")


# --- delivery receipts ------------------------------------------------------------------------------
def test_a_delivery_receipt_marks_the_message_delivered_once(world: World) -> None:
    world.sent_message("j1:1:1:hi", "c1", "900001^0")
    body = [report("j1:1:1:hi", "900001^0")]
    result = ok(world.callback("receipts", body))
    assert (result["received"], result["matched"], result["unknown"]) == (1, 1, 0)
    row = world.outbox("j1:1:1:hi")
    assert row.status == "delivered"
    assert row.delivered_at == datetime(2025, 6, 1, 2, 0, 5, tzinfo=UTC)  # 10:00:05 China time
    delivered = [(world.ids["c1"], {"channel": "sms", "message": "j1:1:1:hi"})]
    assert world.events("message.delivered") == delivered

    again = ok(
        world.callback("receipts", [report("j1:1:1:hi", "900001^0", report_time="2025-06-01 11:00:00")])
    )
    assert again["matched"] == 1
    assert world.outbox("j1:1:1:hi").delivered_at == datetime(2025, 6, 1, 2, 0, 5, tzinfo=UTC)
    assert world.events("message.delivered") == delivered  # still one event
    assert world.events("message.failed") == []


def test_a_receipt_without_our_key_matches_the_provider_message_id(world: World) -> None:
    world.sent_message("j1:2:2:hi", "c2", "900002^0")
    world.sent_message("j1:3:3:hi", "c3", "900003^0")
    ok(world.callback("receipts", [report("", "900002^0")]))
    assert world.outbox("j1:2:2:hi").status == "delivered"
    assert world.outbox("j1:3:3:hi").status == "sent"
    assert [c for c, _ in world.events("message.delivered")] == [world.ids["c2"]]


def test_a_failure_receipt_marks_the_message_failed_with_the_carrier_error(world: World) -> None:
    world.sent_message("j1:1:1:hi", "c1", "900001^0")
    result = ok(world.callback("receipts", [report("j1:1:1:hi", "900001^0", success=False)]))
    assert result["matched"] == 1
    row = world.outbox("j1:1:1:hi")
    assert (row.status, row.error, row.delivered_at) == ("failed", "MK:0001: blocked", None)
    assert world.events("message.failed") == [(world.ids["c1"], {"channel": "sms", "message": "j1:1:1:hi"})]
    assert world.events("message.delivered") == []


def test_a_receipt_for_no_known_message_is_counted_unknown(world: World) -> None:
    world.sent_message("j1:1:1:hi", "c1", "900001^0")
    result = ok(world.callback("receipts", [report("other-key", "999999^0")]))
    assert (result["received"], result["matched"], result["unknown"]) == (1, 0, 1)
    assert world.outbox("j1:1:1:hi").status == "sent"
    assert world.events("message.delivered") == []


# --- email one-click unsubscribe ------------------------------------------------------------------
@pytest.fixture
def mail(world: World) -> World:
    smtp = {"host": "127.0.0.1", "from_address": "shop@example.com", "unsubscribe_url": "http://x/u/{token}"}
    world.client.providers.add("mail", "smtp", smtp, {"unsubscribe_secret": UNSUB_SECRET})
    return world


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unsubscribe_link_withdraws_email_marketing_consent(mail: World, method: str) -> None:
    token = unsubscribe_token("j1:1:1:mail", mail.ids["c1"], UNSUB_SECRET.encode())
    resp = mail.http.request(method, f"/u/{token}")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert "Unsubscribed" in resp.text or "unsubscribed" in resp.text
    assert not mail.allows("c1", "email")
    assert mail.allows("c1", "sms") and mail.allows("c2", "email")


def test_a_tampered_or_foreign_unsubscribe_token_is_404(mail: World) -> None:
    token = unsubscribe_token("j1:1:1:mail", mail.ids["c1"], UNSUB_SECRET.encode())
    contact, key_hash, tag = token.split(".")
    forged = [
        f"{mail.ids['c2']}.{key_hash}.{tag}",  # someone else's id under c1's tag
        f"{contact}.{key_hash}.{tag[:-1]}{'0' if tag[-1] != '0' else '1'}",
        f"{contact}.{key_hash}",
        unsubscribe_token("j1:1:1:mail", mail.ids["c1"], b"another-secret"),
        "garbage",
    ]
    for bad in forged:
        assert mail.http.get(f"/u/{bad}").status_code == 404, bad
    assert mail.allows("c1", "email") and mail.allows("c2", "email")


def test_without_an_smtp_unsubscribe_secret_no_link_works(world: World) -> None:
    world.client.providers.add("mail", "smtp", {"host": "127.0.0.1", "from_address": "shop@example.com"})
    token = unsubscribe_token("k", world.ids["c1"], UNSUB_SECRET.encode())
    assert world.http.get(f"/u/{token}").status_code == 404
    assert world.allows("c1", "email")


def test_a_non_ascii_unsubscribe_token_is_404(mail: World) -> None:
    assert mail.http.get(f"/u/{mail.ids['c1']}.abc.é").status_code == 404


def test_unsubscribe_after_a_merge_withdraws_the_survivors_consent(mail: World) -> None:
    client = mail.client
    assert client.identify({"email": "late@example.com"}, {}).rejected == []
    absorbed = client.contact("email:late@example.com")["id"]
    token = unsubscribe_token("j1:9:9:mail", absorbed, UNSUB_SECRET.encode())  # emailed before the merge
    # the same person gives both identifiers: the email-only contact is folded into c1
    assert client.identify({"phone": PHONES["c1"], "email": "late@example.com"}, {}).rejected == []
    assert client.contact("email:late@example.com")["id"] == mail.ids["c1"]
    assert mail.http.get(f"/u/{token}").status_code == 200
    assert not mail.allows("c1", "email")
