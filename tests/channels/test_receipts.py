"""The receipt poller: WeCom tasks are asked about in bounded, incremental passes on a thread
of their own, so thousands of tasks on record never delay a due message."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.channels.test_dispatcher import queue, row
from tests.emulators.webhook import WebhookReceiver
from tests.emulators.wecom import EC, WeComEmulator
from tests.emulators.wecom_tasks import seed_open_tasks

from siyu.channels.receipts import ReceiptPoller
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.journeys.worker import Worker
from siyu.store.models import OutboxMessage

STAFF = "zhangsan"
RESULTS = f"{EC}/get_groupmsg_send_result"
TASK = f"{EC}/get_groupmsg_task"


def asked(emu: WeComEmulator, path: str) -> list[str]:
    """The msgids asked about at ``path``, in order."""
    return [str((r.json() or {}).get("msgid")) for r in emu.requests if r.path == path]


@pytest.fixture
def emu() -> Iterator[WeComEmulator]:
    emulator = WeComEmulator()
    with emulator.running():
        yield emulator


def on_record(
    ctx: AppContext, emu: WeComEmulator, n: int, sent_ago: timedelta = timedelta(hours=1)
) -> list[str]:
    """``n`` WeCom 1:1 tasks, each sent by siyu to one customer and still waiting for the staff
    member's confirmation; the poller's budget (default 50/s) is raised for speed."""
    return seed_open_tasks(ctx, emu, n, receipt_rate_per_s=5000, sent_ago=sent_ago, backoff_s=0.001)


def test_passes_are_bounded_and_visit_every_open_task_in_turn(ctx: AppContext, emu: WeComEmulator) -> None:
    msgids = on_record(ctx, emu, 1000)
    poller = ReceiptPoller(ctx.db, ctx.keyring, calls_per_pass=150, interval_s=3600)
    try:
        first = poller.run_pass()
        assert first.tasks == 150 and len(asked(emu, RESULTS)) == 150  # one results call per task
        assert len(asked(emu, TASK)) == 150  # the staff list, fetched once per task
        for _ in range(6):
            poller.run_pass()
        assert sorted(set(asked(emu, RESULTS))) == sorted(msgids)  # all 1,000, a slice at a time
        assert len(asked(emu, RESULTS)) == 1000  # none twice within the interval
        assert poller.run_pass().tasks == 0  # everything was asked within the last hour
    finally:
        poller.close()


def test_a_task_is_asked_again_without_refetching_its_staff_and_drops_out_once_answered(
    ctx: AppContext, emu: WeComEmulator
) -> None:
    msgids = on_record(ctx, emu, 5)
    poller = ReceiptPoller(ctx.db, ctx.keyring, interval_s=0.0)
    try:
        assert poller.run_pass().tasks == 5
        for msgid in msgids[:3]:
            emu.confirm_send(msgid)
        second = poller.run_pass()
        assert (second.tasks, second.matched) == (5, 3)
        assert len(asked(emu, TASK)) == 5  # cached: the staff of a task never changes
        assert poller.run_pass().tasks == 2  # the three delivered tasks are not asked again
    finally:
        poller.close()
    assert [row(ctx, f"t{i}").status for i in range(5)] == ["delivered"] * 3 + ["sent"] * 2


def test_tasks_older_than_the_window_are_not_asked(ctx: AppContext, emu: WeComEmulator) -> None:
    on_record(ctx, emu, 3, sent_ago=timedelta(days=4))
    poller = ReceiptPoller(ctx.db, ctx.keyring, window=timedelta(days=3))
    try:
        assert poller.run_pass().tasks == 0 and not asked(emu, RESULTS)
    finally:
        poller.close()


def test_a_rate_limit_answer_pauses_the_provider_instead_of_hammering_it(
    ctx: AppContext, emu: WeComEmulator
) -> None:
    on_record(ctx, emu, 50)
    poller = ReceiptPoller(ctx.db, ctx.keyring, interval_s=0.0)
    try:
        emu.fail_next(20, 45009, path=RESULTS)  # more than the client's own retries
        stats = poller.run_pass()
        assert stats.throttled == 1 and stats.tasks == 0
        before = len(emu.requests)
        assert poller.run_pass().tasks == 0 and len(emu.requests) == before  # paused: not one call
    finally:
        poller.close()


def test_receipt_polling_never_runs_in_the_worker_round(ctx: AppContext, emu: WeComEmulator) -> None:
    on_record(ctx, emu, 200)
    receiver = WebhookReceiver("hook-secret")
    with receiver.running() as url:
        s = Siyu(ctx)
        s.providers.add("hook", "webhook", {"url": f"{url}/in", "retries": 0}, {"secret": "hook-secret"})
        cid = s.contact("+8613800138001")["id"]
        queue(ctx, cid, "due-now")
        worker = Worker(ctx.db, ctx.keyring, ctx.settings)
        try:
            before = len(emu.requests)
            stats = worker.tick()
            assert stats.sent == 1 and receiver.deliveries == {"due-now": 1}
            assert len(emu.requests) == before  # the round asked WeCom nothing
        finally:
            worker.close()


def test_thousands_of_slow_tasks_do_not_delay_a_due_webhook(ctx: AppContext, emu: WeComEmulator) -> None:
    on_record(ctx, emu, 2000)
    emu.latency_s[RESULTS] = emu.latency_s[TASK] = 0.05  # 2,000 tasks: minutes of asking
    receiver = WebhookReceiver("hook-secret")
    with receiver.running() as url:
        s = Siyu(ctx)
        s.providers.add("hook", "webhook", {"url": f"{url}/in", "retries": 0}, {"secret": "hook-secret"})
        cid = s.contact("+8613800138001")["id"]
        worker = Worker(ctx.db, ctx.keyring, ctx.settings)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 20
            while not asked(emu, RESULTS) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert asked(emu, RESULTS), "the poller started"
            queue(ctx, cid, "due-while-polling")
            while not receiver.deliveries and time.monotonic() < deadline:
                time.sleep(0.05)
            assert receiver.deliveries == {"due-while-polling": 1}
            assert len(set(asked(emu, RESULTS))) < 2000  # the poller was still at work meanwhile
        finally:
            stop.set()
            thread.join(timeout=60)
            worker.close()
    assert not thread.is_alive()
    with ctx.db.session() as session:
        assert (
            session.scalar(select(OutboxMessage.status).where(OutboxMessage.key == "due-while-polling"))
            == "sent"
        )
