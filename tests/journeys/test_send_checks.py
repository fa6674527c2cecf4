"""Consent and quiet hours are checked again when the dispatcher sends a queued message
(src/siyu/journeys/send_checks.py): a message queued before a withdrawal never goes out — it
is recorded ``skipped`` with its reason, counted in the report and announced as a
``message.skipped`` event — and a message whose queue drains inside the quiet hours waits for
the morning instead of waking the customer. The provider here is a real webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from tests.emulators.webhook import WebhookReceiver

from siyu.channels.dispatcher import Dispatcher
from siyu.journeys.send_checks import SendTimeCheck
from siyu.store.models import OutboxMessage

T0 = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
NIGHT = datetime(2026, 5, 4, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
MORNING = datetime(2026, 5, 5, 0, 0, tzinfo=UTC)  # 08:00, the end of the default quiet hours


@pytest.fixture
def receiver(jk) -> Iterator[WebhookReceiver]:
    r = WebhookReceiver("hook-secret")
    with r.running() as url:
        jk.client.providers.add(
            "hook", "webhook", {"url": f"{url}/in", "retries": 0}, {"secret": "hook-secret"}
        )
        yield r


def dispatch(jk, now: datetime, **config) -> Dispatcher:
    d = Dispatcher(jk.ctx.db, jk.ctx.keyring, check=SendTimeCheck(jk.config(**config)))
    try:
        d.run_once(now=now)
    finally:
        d.close()
    return d


def rows(jk) -> list[tuple[str, str | None, int]]:
    return [(r.status, r.error, r.attempts) for r in jk_outbox(jk)]


def jk_outbox(jk) -> list[OutboxMessage]:
    with jk.ctx.db.session() as s:
        found = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        s.expunge_all()
    return found


def test_messages_queued_before_a_withdrawal_are_skipped_at_send_time(jk, receiver) -> None:
    jk.template(channel="webhook")
    jk.journey([{"id": "hi", "send": {"channel": "webhook", "template": "hello"}}])
    people = [jk.contact() for _ in range(50)]
    keep = jk.contact()
    for c in [*people, keep]:
        jk.consent(c, True, channel="webhook")
    jk.enrol([*people, keep])
    jk.run(T0, marketing_consent_default=False)
    assert len(jk.outbox()) == 51
    for c in people:  # withdrawn while the messages wait in the outbox
        jk.consent(c, False, channel="webhook")
    dispatch(jk, T0 + timedelta(minutes=1), marketing_consent_default=False)
    assert list(receiver.deliveries) == [f"{jk.journey_id()}:{keep}:{jk.enrolment(keep)['id']}:hi"]
    by_contact = {o.contact_id: o for o in jk_outbox(jk)}
    assert by_contact[keep].status == "sent"
    for c in people:
        o = by_contact[c]
        assert o.status == "skipped" and o.error == "consent: no marketing consent on webhook at send time"
    skipped = jk.events("message.skipped")
    assert sorted(c for c, _, _ in skipped) == sorted(people)
    assert all(p["reason"].startswith("consent:") and p["channel"] == "webhook" for _, _, p in skipped)
    step = jk.step_report("hi")
    assert (step["sent"], step["skipped_at_send"], step["queued"]) == (1, 50, 51)


def test_a_send_step_marked_transactional_ignores_a_marketing_withdrawal(jk, receiver) -> None:
    jk.template(channel="webhook")
    jk.journey([{"id": "hi", "send": {"channel": "webhook", "template": "hello", "transactional": True}}])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    jk.consent(c, False, channel="*")  # marketing withdrawn everywhere; service is not
    dispatch(jk, T0 + timedelta(minutes=1))
    assert len(receiver.deliveries) == 1 and [s for s, _, _ in rows(jk)] == ["sent"]


def test_a_queue_draining_in_the_quiet_hours_waits_for_the_morning(jk, receiver) -> None:
    jk.template(channel="webhook")
    jk.journey([{"id": "hi", "send": {"channel": "webhook", "template": "hello"}}])
    people = [jk.contact() for _ in range(20)]
    jk.enrol(people)
    jk.run(T0)  # queued at 10:00; the provider is down until after 22:00
    dispatch(jk, NIGHT)
    assert receiver.deliveries == {}
    for o in jk_outbox(jk):
        assert (o.status, o.attempts, o.next_attempt_at) == ("pending", 0, MORNING)
        assert o.error is not None and "quiet hours 22:00–08:00" in o.error
    dispatch(jk, MORNING - timedelta(seconds=1))  # not due yet
    assert receiver.deliveries == {}
    dispatch(jk, MORNING)
    assert len(receiver.deliveries) == 20
    assert {(s, n) for s, _, n in rows(jk)} == {("sent", 1)}


def test_quiet_hours_in_drop_mode_skip_at_send_time(jk, receiver) -> None:
    jk.template(channel="webhook")
    step = {"id": "hi", "send": {"channel": "webhook", "template": "hello"}}
    jk.journey([step], quiet_hours={"start": "22:00", "end": "08:00", "mode": "drop"})
    jk.enrol([jk.contact()])
    jk.run(T0)
    dispatch(jk, NIGHT)
    assert receiver.deliveries == {} and rows(jk) == [("skipped", "quiet hours 22:00–08:00", 1)]


def test_a_message_tried_before_is_checked_too(jk, receiver) -> None:
    """A retry (the provider failed earlier) is checked like a first attempt; the webhook has no
    lookup, so nothing says it arrived, and it is skipped."""
    jk.template(channel="webhook")
    jk.journey([{"id": "hi", "send": {"channel": "webhook", "template": "hello"}}])
    c = jk.contact()
    jk.enrol([c])
    jk.run(T0)
    with jk.ctx.db.session() as s:
        s.execute(update(OutboxMessage).values(attempts=1, error="HTTP 503"))
    jk.consent(c, False, channel="webhook")
    dispatch(jk, T0 + timedelta(hours=1), marketing_consent_default=True)
    assert receiver.deliveries == {}
    [(status, error, attempts)] = rows(jk)
    assert status == "skipped" and error is not None and error.startswith("consent:") and attempts == 2


def test_skipped_messages_do_not_count_towards_caps(jk, receiver) -> None:
    jk.template(channel="webhook")
    jk.journey([{"id": "hi", "send": {"channel": "webhook", "template": "hello"}}], key="a")
    jk.journey([{"id": "hi", "send": {"channel": "webhook", "template": "hello"}}], key="b")
    c = jk.contact()
    jk.enrol([c], key="a")
    cap = [{"channel": "any", "per": "day", "max": 1}]
    from siyu.journeys.schemas import Cap

    jk.run(T0, caps=[Cap.model_validate(x) for x in cap])
    jk.consent(c, False, channel="webhook")
    dispatch(jk, T0 + timedelta(minutes=1))
    jk.consent(c, True, channel="webhook")
    jk.enrol([c], key="b")
    jk.run(T0 + timedelta(minutes=2), caps=[Cap.model_validate(x) for x in cap])
    assert [o["status"] for o in jk.outbox("b")] == ["pending"]  # the skipped one did not count
