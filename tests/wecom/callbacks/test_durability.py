"""Durability of the inbox: a crash between answering WeCom and processing loses nothing (the
sweep of ``siyu serve``'s background round processes the row, once); failing handlers are
retried, then given up visibly, and an operator's retry processes them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from tests.emulators.wecom_inflow import WeComInflowEmulator
from tests.wecom.conftest import add_provider

from siyu.background import LayerTasks
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import ContactFollow, Event, WeComCallback, utcnow
from siyu.wecom.callbacks import inbox
from siyu.wecom.callbacks.receiver import CallbackReceiver


@pytest.fixture
def world(ctx: AppContext) -> Iterator[tuple[Siyu, WeComInflowEmulator, CallbackReceiver]]:
    emu = WeComInflowEmulator()
    with emu.running():
        client = Siyu(ctx)
        add_provider(client, emu)
        receiver = CallbackReceiver(ctx)
        receiver.worker.enabled = False  # the process "dies" right after answering
        yield client, emu, receiver
        receiver.close()


def deliver(receiver: CallbackReceiver, emu: WeComInflowEmulator, event: dict) -> int:
    query, body = emu.envelope(event)
    return receiver.receive_now("wecom", query["msg_signature"], query["timestamp"], query["nonce"], body)


def count(ctx: AppContext, model: type, *where: object) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_crash_between_answer_and_processing_loses_nothing(ctx: AppContext, world: tuple) -> None:
    _client, emu, receiver = world
    event = emu.customer_adds("zhangsan", "wmCRASH", push=False, welcome=False)
    assert deliver(receiver, emu, event) == 1
    assert deliver(receiver, emu, event) == 0  # WeCom's retry after the lost answer: stored once
    assert count(ctx, WeComCallback, WeComCallback.status == "pending") == 1
    assert count(ctx, ContactFollow) == 0  # nothing processed: the "crash"

    # the restarted server's background round sweeps it; two sweeps at once process it once
    tasks = [LayerTasks(60, settings=ctx.settings, callback_sweep_s=0) for _ in range(2)]
    threads = [threading.Thread(target=t._sweep_callbacks) for t in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(ctx, WeComCallback, WeComCallback.status == "done") == 1
    assert count(ctx, ContactFollow) == 1
    assert count(ctx, Event, Event.event == "Contact Added") == 1
    tasks[0]._sweep_callbacks()
    assert count(ctx, Event, Event.event == "Contact Added") == 1
    with ctx.db.session() as s:
        assert s.scalars(select(WeComCallback.attempts)).one() == 1


def test_failing_handler_is_retried_then_given_up_and_retryable(ctx: AppContext, world: tuple) -> None:
    client, emu, receiver = world
    event = emu.customer_adds("zhangsan", "wmFAIL", push=False, welcome=False)
    deliver(receiver, emu, event)
    emu.fail_next(50, -1, "/cgi-bin/externalcontact/get")  # WeCom busy
    (callback_id,) = inbox.due(ctx)
    for attempt in range(1, inbox.MAX_ATTEMPTS + 1):
        status = inbox.process_one(ctx, callback_id)
        with ctx.db.session() as s:
            row = s.get(WeComCallback, callback_id)
            assert row is not None and row.attempts == attempt and "-1" in (row.last_error or "")
            later = row.next_attempt_at > utcnow()
        if attempt < inbox.MAX_ATTEMPTS:
            assert status == "pending" and later
            assert inbox.due(ctx) == []  # not due before its delay
            with ctx.db.session() as s:  # time passes
                s.execute(update(WeComCallback).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert status == "failed"
    assert count(ctx, ContactFollow) == 0  # each failed attempt rolled back
    failed = client.wecom_callbacks.list(status="failed")
    assert [f["id"] for f in failed] == [callback_id]
    with emu.lock:
        emu._failures.clear()  # WeCom works again
    result = client.wecom_callbacks.retry(callback_id)
    assert result["processed"] == {"done": 1}
    assert count(ctx, ContactFollow) == 1


def test_welcome_code_used_elsewhere_is_recorded_not_retried(ctx: AppContext, world: tuple) -> None:
    from siyu.sources.service import SourcesService
    from siyu.store.models import EntryCode

    client, emu, receiver = world
    with ctx.db.session() as s:
        channel = SourcesService(s).ensure_channel("wecom-code", "wecom")
        s.add(
            EntryCode(
                channel_id=channel.id, state="shop-1", name="门店", kind="contact_way", welcome_template="w"
            )
        )
    client.content.create_template(
        {"key": "w", "name": "欢迎", "channel": "wecom_private", "body": {"text": "你好"}}
    )
    event = emu.customer_adds("zhangsan", "wmTAKEN", state="shop-1", push=False)
    emu.welcome_codes[event["WelcomeCode"]]["used"] = True  # another app sent its welcome first
    deliver(receiver, emu, event)
    started = time.monotonic()
    assert inbox.process_due(ctx) == {"done": 1}
    assert time.monotonic() - started < 20
    with ctx.db.session() as s:
        added = s.scalars(select(Event).where(Event.event == "Contact Added")).one()
    assert added.properties["welcome"] == "skipped" and "41096" in added.properties["welcome_detail"]
    assert emu.welcomes_sent == []
