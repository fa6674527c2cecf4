"""The outbox dispatcher against real emulators: sends once, retries temporary failures with
backoff, gives up after the last attempt, falls back from smart SMS to plain SMS, polls
receipts, and never sends a row twice when an earlier attempt's outcome is unknown."""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select
from tests.emulators.webhook import WebhookReceiver
from tests.emulators.wecom import WeComEmulator

from siyu.channels.dispatcher import MAX_ATTEMPTS, Dispatcher
from siyu.channels.providers import ProviderError
from siyu.channels.receipts import ReceiptPoller
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Event, OutboxMessage, utcnow


def queue(ctx: AppContext, contact_id: int, key: str, channel: str = "webhook", **content: Any) -> None:
    now = utcnow()
    with ctx.db.session() as s:
        s.execute(
            insert(OutboxMessage.__table__),
            [
                {
                    "key": key,
                    "contact_id": contact_id,
                    "channel": channel,
                    "content": content or {"event": "ping", "data": {"n": 1}},
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "local_day": now.date().isoformat(),
                    "local_week": "2026-W48",
                    "created_at": now,
                    "transactional": False,
                }
            ],
        )


def row(ctx: AppContext, key: str) -> OutboxMessage:
    with ctx.db.session() as s:
        found = s.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
        assert found is not None
        s.expunge(found)
        return found


@pytest.fixture
def hook(ctx: AppContext) -> Iterator[tuple[WebhookReceiver, int]]:
    receiver = WebhookReceiver("hook-secret")
    with receiver.running() as url:
        s = Siyu(ctx)
        s.providers.add("hook", "webhook", {"url": f"{url}/in", "retries": 0}, {"secret": "hook-secret"})
        s.identify({"phone": "+8613800138000"})
        yield receiver, s.contact("+8613800138000")["id"]


def test_a_message_is_sent_once_and_recorded(ctx: AppContext, hook: tuple[WebhookReceiver, int]) -> None:
    receiver, cid = hook
    queue(ctx, cid, "k1")
    d = Dispatcher(ctx.db, ctx.keyring)
    try:
        stats = d.run_once()
        assert (stats.claimed, stats.sent) == (1, 1)
        assert d.run_once().claimed == 0
    finally:
        d.close()
    assert receiver.deliveries == {"k1": 1} and not receiver.duplicates
    r = row(ctx, "k1")
    assert (r.status, r.attempts, r.provider) == ("sent", 1, "hook") and r.sent_at is not None
    with ctx.db.session() as s:
        assert s.scalar(select(Event.event).where(Event.message_id == "message.sent:k1")) == "message.sent"


def test_a_temporary_failure_is_retried_with_backoff(
    ctx: AppContext, hook: tuple[WebhookReceiver, int]
) -> None:
    receiver, cid = hook
    receiver.fail_next.append((503, None))
    queue(ctx, cid, "k2")
    d = Dispatcher(ctx.db, ctx.keyring, retry_base_s=30)
    try:
        assert d.run_once().retried == 1
        r = row(ctx, "k2")
        assert r.status == "pending" and r.attempts == 1
        wait = (r.next_attempt_at - utcnow()).total_seconds()
        assert 20 < wait <= 40  # 30 s, with jitter-free backoff
        assert d.run_once().claimed == 0  # not due yet
        assert d.run_once(now=utcnow() + timedelta(seconds=45)).sent == 1
    finally:
        d.close()
    assert receiver.deliveries == {"k2": 1}
    assert row(ctx, "k2").attempts == 2


def test_after_the_last_attempt_the_message_fails(ctx: AppContext, hook: tuple[WebhookReceiver, int]) -> None:
    receiver, cid = hook
    receiver.fail_next.extend([(503, None)] * MAX_ATTEMPTS)
    queue(ctx, cid, "k3")
    d = Dispatcher(ctx.db, ctx.keyring, retry_base_s=1)
    try:
        at = utcnow()
        for _ in range(MAX_ATTEMPTS):
            d.run_once(now=at)
            at += timedelta(hours=2)
    finally:
        d.close()
    r = row(ctx, "k3")
    assert (r.status, r.attempts) == ("failed", MAX_ATTEMPTS) and "503" in (r.error or "")
    assert receiver.deliveries == {}


def test_no_provider_for_a_channel_waits_and_says_why(
    ctx: AppContext, hook: tuple[WebhookReceiver, int]
) -> None:
    _, cid = hook
    queue(ctx, cid, "k4", channel="email", subject="hi", text="hello")
    d = Dispatcher(ctx.db, ctx.keyring)
    try:
        assert d.run_once().retried == 1
    finally:
        d.close()
    r = row(ctx, "k4")
    assert r.status == "pending" and "no provider configured for email" in (r.error or "")
    assert (r.next_attempt_at - utcnow()).total_seconds() > 200


def test_no_provider_call_starts_after_half_the_lease(ctx: AppContext) -> None:
    """After its lease another worker may take the row over, ask the provider, find nothing yet
    and send it: a call of ours starting then would be a second send. So no call starts once
    half the lease is spent (checked before every call, not only every chunk); the rest is
    given back untried."""
    receiver = WebhookReceiver("hook-secret", latency_s=0.05)  # a provider answering in 50 ms
    with receiver.running() as url:
        s = Siyu(ctx)
        s.providers.add("hook", "webhook", {"url": f"{url}/in", "retries": 0}, {"secret": "hook-secret"})
        s.identify({"phone": "+8613800138000"})
        cid = s.contact("+8613800138000")["id"]
        for i in range(40):  # all in one chunk of 50
            queue(ctx, cid, f"bulk-{i}")
        d = Dispatcher(ctx.db, ctx.keyring, lease_s=0.4)  # no call may start after 0.2 s
        try:
            stats = d.run_once()
        finally:
            d.close()
    # the first call starts at once; at 50 ms each, at most 5 can start within 0.2 s
    assert stats.claimed == 40 and 1 <= stats.sent <= 5, stats
    with ctx.db.session() as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert sorted(set(rows)) == [("pending", 0), ("sent", 1)]
    assert rows.count(("sent", 1)) == stats.sent == len(receiver.deliveries)


def test_a_lease_too_short_for_any_call_sends_nothing(
    ctx: AppContext, hook: tuple[WebhookReceiver, int]
) -> None:
    receiver, cid = hook
    for i in range(120):
        queue(ctx, cid, f"bulk-{i}")
    d = Dispatcher(ctx.db, ctx.keyring, lease_s=0)  # the deadline has passed when the first call would start
    try:
        stats = d.run_once()
    finally:
        d.close()
    assert stats.claimed == 120 and stats.sent == 0
    with ctx.db.session() as s:
        rows = s.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert set(rows) == {("pending", 0)} and not receiver.deliveries


def test_a_call_that_never_answers_is_abandoned_and_logged(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    """The claim waits for its calls at most ``call_wait_s`` (the lease when longer): a receiver
    that does not answer in time neither stalls the worker nor goes unnoticed. The row stays
    ``sending`` with its attempt counted, so the claim after the lease treats it as tried."""
    receiver = WebhookReceiver("hook-secret", latency_s=1.5)
    with receiver.running() as url:
        s = Siyu(ctx)
        s.providers.add("hook", "webhook", {"url": f"{url}/in", "retries": 0}, {"secret": "hook-secret"})
        s.identify({"phone": "+8613800138000"})
        queue(ctx, s.contact("+8613800138000")["id"], "slow-1")
        d = Dispatcher(ctx.db, ctx.keyring, lease_s=0.2, call_wait_s=0.3)
        try:
            with caplog.at_level("WARNING", logger="siyu.dispatcher"):
                stats = d.run_once()
            assert not receiver.deliveries  # it returned before the receiver answered
        finally:
            d.close()
    assert stats.claimed == 1 and stats.collected == 0 and stats.sent == 0
    r = row(ctx, "slow-1")
    assert (r.status, r.attempts) == ("sending", 1)
    assert any("1 provider calls (hook) still unanswered" in m for m in caplog.messages), caplog.messages


def test_wecom_receipts_are_polled_into_the_outbox(ctx: AppContext) -> None:
    wecom = WeComEmulator()
    with wecom.running() as url:
        s = Siyu(ctx)
        s.providers.add(
            "wecom",
            "wecom",
            {"corp_id": "wwcorp", "base_url": url, "default_sender": "zhangsan"},
            {"corp_secret": "s3cret"},
        )
        s.identify({"phone": "+8613800138001", "wecom_external_userid": "wmA"})
        cid = s.contact("+8613800138001")["id"]
        wecom.add_customer("zhangsan", "wmA")
        queue(ctx, cid, "w1", channel="wecom_private", text="你好")
        d = Dispatcher(ctx.db, ctx.keyring)
        poller = ReceiptPoller(ctx.db, ctx.keyring, interval_s=0.0)
        try:
            assert d.run_once().sent == 1  # the default sender was used: no wecom_owner trait
            first = poller.run_pass()
            assert (first.tasks, first.matched) == (1, 0)  # asked, but not confirmed yet
            msgid = row(ctx, "w1").provider_message_id
            assert msgid
            wecom.confirm_send(msgid.split(":")[0])
            assert poller.run_pass().matched == 1
            assert poller.run_pass().tasks == 0  # every customer has its receipt: nothing to ask
        finally:
            d.close()
            poller.close()
    r = row(ctx, "w1")
    assert r.status == "delivered" and r.delivered_at is not None
    with ctx.db.session() as session:
        n = session.scalars(select(Event.id).where(Event.event == "message.delivered")).all()
    assert len(n) == 1


class CountingReceiver(WebhookReceiver):
    """A receiver that notes when each request arrived and how many were in flight at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[float] = []
        self.in_flight = 0
        self.peak = 0

    def handle(self, request: Any) -> Any:
        with self.lock:
            self.arrivals.append(time.monotonic())
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            return super().handle(request)
        finally:
            with self.lock:
                self.in_flight -= 1


def _hook(ctx: AppContext, url: str, **config: Any) -> int:
    s = Siyu(ctx)
    s.providers.add(
        "hook", "webhook", {"url": f"{url}/in", "retries": 0, **config}, {"secret": "hook-secret"}
    )
    s.identify({"phone": "+8613800138000"})
    return int(s.contact("+8613800138000")["id"])


def test_calls_run_concurrently_up_to_the_providers_concurrency(ctx: AppContext) -> None:
    receiver = CountingReceiver("hook-secret", latency_s=0.05)
    with receiver.running() as url:
        cid = _hook(ctx, url, concurrency=6, rate_per_s=0)
        for i in range(60):
            queue(ctx, cid, f"c-{i}")
        d = Dispatcher(ctx.db, ctx.keyring)
        try:
            stats = d.run_once()
        finally:
            d.close()
    assert stats.sent == 60 and receiver.deliveries == {f"c-{i}": 1 for i in range(60)}
    assert not receiver.duplicates
    assert 2 <= receiver.peak <= 6, receiver.peak  # concurrent, and never above the setting


def test_the_rate_is_never_exceeded_in_any_second(ctx: AppContext) -> None:
    """Counted at the receiver over every one-second window starting at an arrival: a token
    bucket would let a full bucket out and refill it within the same second."""
    receiver = CountingReceiver("hook-secret")
    rate = 20
    with receiver.running() as url:
        cid = _hook(ctx, url, concurrency=16, rate_per_s=rate)
        for i in range(3 * rate + 5):
            queue(ctx, cid, f"r-{i}")
        d = Dispatcher(ctx.db, ctx.keyring)
        try:
            assert d.run_once().sent == 3 * rate + 5
        finally:
            d.close()
    times = sorted(receiver.arrivals)
    busiest = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    assert busiest <= rate, busiest


def test_concurrent_calls_still_start_only_within_half_the_lease(ctx: AppContext) -> None:
    receiver = CountingReceiver("hook-secret", latency_s=0.05)
    with receiver.running() as url:
        cid = _hook(ctx, url, concurrency=4, rate_per_s=0)
        for i in range(200):
            queue(ctx, cid, f"l-{i}")
        d = Dispatcher(ctx.db, ctx.keyring, lease_s=0.4)  # no call may start after 0.2 s
        try:
            stats = d.run_once()
        finally:
            d.close()
    # 4 at a time, 50 ms each, starting within 0.2 s: at most 4 × 5 (one more round may just start)
    assert stats.claimed == 200 and 4 <= stats.sent <= 24, stats
    with ctx.db.session() as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert rows.count(("sent", 1)) == stats.sent == len(receiver.deliveries)
    assert rows.count(("pending", 0)) == 200 - stats.sent


def test_concurrency_must_be_a_sensible_whole_number(ctx: AppContext) -> None:
    s = Siyu(ctx)
    for bad in (0, -1, 2.5, "8", True, 5000):
        with pytest.raises(ProviderError, match=r"config\.concurrency"):
            s.providers.add(
                "hook", "webhook", {"url": "http://127.0.0.1:9/in", "concurrency": bad}, {"secret": "x"}
            )
