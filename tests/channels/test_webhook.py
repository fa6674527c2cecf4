"""Signed webhooks against a receiver that verifies signatures and de-duplicates on the key."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from tests.emulators.webhook import WebhookReceiver

from siyu.channels.base import OutboundMessage, Recipient
from siyu.channels.webhook import WebhookAdapter, sign, verify_signature

SECRET = "whsec_test_3f9a"


def message(key: str = "j1:42:1:0", **content: Any) -> OutboundMessage:
    body = {"event": "journey.step", "data": {"coupon": "C100"}} | content
    return OutboundMessage(key, "webhook", Recipient(contact_id=42), body)


@pytest.fixture
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    emu = WebhookReceiver(SECRET)
    with emu.running() as base_url:
        yield emu, base_url


def adapter(base_url: str, secret: str = SECRET, **config: Any) -> WebhookAdapter:
    return WebhookAdapter({"url": f"{base_url}/hooks/siyu", "retries": 0} | config, {"secret": secret})


def test_signed_delivery_is_verified_by_the_receiver(receiver: tuple[WebhookReceiver, str]) -> None:
    emu, base_url = receiver
    hook = adapter(base_url)
    [result] = hook.send([message()])
    assert result.status == "sent", result.error
    assert emu.deliveries["j1:42:1:0"] == 1
    body = emu.bodies["j1:42:1:0"]
    assert body["event"] == "journey.step" and body["data"] == {"coupon": "C100"}
    assert body["contact_id"] == 42 and body["idempotency_key"] == "j1:42:1:0"
    request = emu.requests[-1]
    assert request.path == "/hooks/siyu"
    assert request.headers["idempotency-key"] == "j1:42:1:0"
    # the signature is over exactly the bytes sent, bound to the timestamp
    ts = request.headers["x-siyu-timestamp"]
    expected = hmac.new(SECRET.encode(), f"{ts}.".encode() + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-siyu-signature"] == f"sha256={expected}"
    hook.close()


def test_wrong_secret_is_refused_with_401_and_fails(receiver: tuple[WebhookReceiver, str]) -> None:
    emu, base_url = receiver
    [result] = adapter(base_url, secret="not-the-secret").send([message()])
    assert result.status == "failed" and "401" in (result.error or "")
    assert emu.rejected == ["signature mismatch"] and not emu.deliveries


def test_stale_timestamp_is_refused(receiver: tuple[WebhookReceiver, str]) -> None:
    emu, base_url = receiver
    hook = adapter(base_url)
    real_clock = hook.clock
    hook.clock = lambda: real_clock() - 3600  # a replay of a request signed an hour ago
    [result] = hook.send([message()])
    assert result.status == "failed"
    assert emu.rejected == ["timestamp outside tolerance"] and not emu.deliveries


def test_503_with_retry_after_asks_for_a_retry_then_delivers_once(
    receiver: tuple[WebhookReceiver, str],
) -> None:
    emu, base_url = receiver
    emu.fail_next = [(503, 7)]
    hook = adapter(base_url)
    [first] = hook.send([message()])
    assert first.status == "retry" and first.retry_after_s == 7.0
    [second] = hook.send([message()])
    assert second.status == "sent"
    assert emu.deliveries["j1:42:1:0"] == 1 and not emu.duplicates


@pytest.mark.parametrize(
    ("status", "retry_after", "expected", "retry_after_s"),
    [
        (429, 3, "retry", 3.0),
        (408, None, "retry", None),
        (404, None, "failed", None),
        (410, None, "failed", None),
    ],
)
def test_status_codes_map_to_retry_or_failed(
    receiver: tuple[WebhookReceiver, str],
    status: int,
    retry_after: int | None,
    expected: str,
    retry_after_s: Any,
) -> None:
    emu, base_url = receiver
    emu.fail_next = [(status, retry_after)]
    [result] = adapter(base_url).send([message()])
    assert result.status == expected and result.retry_after_s == retry_after_s
    assert not emu.deliveries


def test_in_call_retry_recovers_from_a_429(receiver: tuple[WebhookReceiver, str]) -> None:
    emu, base_url = receiver
    emu.fail_next = [(429, 0)]  # "not processed": safe to repeat at once
    [result] = adapter(base_url, retries=1).send([message()])
    assert result.status == "sent" and emu.deliveries["j1:42:1:0"] == 1


def test_a_503_is_not_repeated_within_the_call(receiver: tuple[WebhookReceiver, str]) -> None:
    """After a 5xx the receiver may have acted: the dispatcher's backoff repeats it later, so a
    lost answer does not cost a burst of copies."""
    emu, base_url = receiver
    emu.fail_next = [(503, 0)]
    [result] = adapter(base_url, retries=2).send([message()])
    assert result.status == "retry" and len(emu.requests) == 1


def test_redelivery_of_a_key_is_absorbed_by_the_receiver(receiver: tuple[WebhookReceiver, str]) -> None:
    emu, base_url = receiver
    hook = adapter(base_url)
    results = hook.send([message(), message(), message(key="j1:43:1:0")])
    assert [r.status for r in results] == ["sent", "sent", "sent"]
    assert emu.deliveries == {"j1:42:1:0": 1, "j1:43:1:0": 1}
    assert emu.duplicates == {"j1:42:1:0": 1}
    assert hook.lookup(message(), since=__import__("datetime").datetime(2024, 1, 1)) is None


def test_content_path_overrides_the_configured_path(receiver: tuple[WebhookReceiver, str]) -> None:
    emu, base_url = receiver
    [ok, bad] = adapter(base_url).send([message(path="/crm/events"), message(key="k2", event="")])
    assert ok.status == "sent" and emu.paths["j1:42:1:0"] == "/crm/events"
    assert bad.status == "failed" and "event" in (bad.error or "")


def test_unreachable_receiver_is_a_retry() -> None:
    hook = WebhookAdapter(
        {"url": "http://127.0.0.1:9/hook", "retries": 0, "timeout_s": 1}, {"secret": SECRET}
    )
    [result] = hook.send([message()])
    assert result.status == "retry"


def test_verify_signature_accepts_only_fresh_untampered_bodies() -> None:
    body = orjson.dumps({"event": "order.paid", "data": {"amount": 100}})
    now = 1_700_000_000
    header = sign(SECRET, now, body)
    assert verify_signature(SECRET, now, body, header, now=now)
    assert verify_signature(SECRET.encode(), str(now), body.decode(), header, now=now + 299)
    assert not verify_signature(SECRET, now, body + b" ", header, now=now)  # tampered body
    assert not verify_signature("other", now, body, header, now=now)  # wrong secret
    assert not verify_signature(SECRET, now + 1, body, header, now=now)  # timestamp not the signed one
    assert not verify_signature(SECRET, now, body, header, now=now + 301)  # too old
    assert not verify_signature(SECRET, now, body, header, now=now - 301)  # from the future
    assert not verify_signature(SECRET, now, body, header.removeprefix("sha256="), now=now)
    assert not verify_signature(SECRET, "abc", body, header, now=now)
    assert not verify_signature(SECRET, now, body, None, now=now)
    # during a secret rotation the sender lists both signatures; either one verifies
    rotated = f"{sign('old-secret', now, body)},{header}"
    assert verify_signature(SECRET, now, body, rotated, now=now)


def test_config_requires_url_and_secret() -> None:
    with pytest.raises(ValueError, match="url"):
        WebhookAdapter({}, {"secret": SECRET})
    with pytest.raises(ValueError, match="secret"):
        WebhookAdapter({"url": "https://example.com/h"}, {})
