"""Exactly once, whatever dies when: journey workers are killed with SIGKILL at random moments
across many runs of a journey over 1,000 contacts, and restarted; afterwards every expected
message has reached the provider emulators exactly once and nothing is missing.

The kills land anywhere: inside a step transaction (it rolls back with its outbox rows and is
run again), between the outbox claim and the provider call, and between the provider's answer
and its recording (the next claim asks the provider with ``lookup`` before sending again).
Two workers run at once, so on PostgreSQL they also compete for the same due rows.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from tests.conftest import TEST_KEY
from tests.emulators.aliyun_sms import AliyunSmsEmulator
from tests.emulators.smart_sms import SmartSmsPlatform
from tests.emulators.webhook import WebhookReceiver

from siyu.channels.smart_sms import message_id_for
from siyu.client import Siyu
from siyu.config import Settings
from siyu.context import AppContext
from siyu.store.models import JourneyEnrolment, OutboxMessage

RUNS = int(os.environ.get("SIYU_CRASH_RUNS", "50"))
#: PostgreSQL runs the same kills fewer times by default, to keep CI within its time budget;
#: its claims and leases are the same code (set SIYU_CRASH_RUNS_PG=50 for the full run).
PG_RUNS = int(os.environ.get("SIYU_CRASH_RUNS_PG", "20"))
CONTACTS = 1000
WORKERS = 2
CHATBOT = "sip:1065059999@botplatform.rcs.chinaunicom.cn"
SIYU = str(Path(sys.executable).with_name("siyu"))


def journey(run: int) -> dict[str, Any]:
    return {
        "key": f"crash-{run}",
        "name": f"crash {run}",
        "trigger": {"list": True},
        "quiet_hours": {"enabled": False},
        "steps": [
            {
                "id": "sms",
                "send": {
                    "channel": "sms",
                    "content": {
                        "template_code": "SMS_100001",
                        "params": {"name": "{{ name }}"},
                        "text": "hi",
                    },
                },
            },
            {"id": "tag", "add_tag": f"crash-{run}"},
            {
                "id": "card",
                "send": {
                    "channel": "smart_sms",
                    "content": {
                        "card": {
                            "title": "{{ name }}",
                            "body": "run",
                            "buttons": [
                                {"label": "go", "type": "url", "url": "https://x.example/{{ contact.id }}"}
                            ],
                        },
                        "fallback": {"text": "go", "template_code": "SMS_100001", "params": {"name": "x"}},
                    },
                },
            },
        ],
    }


class Workers:
    """``siyu worker`` processes, killed and restarted at will."""

    def __init__(self, settings: Settings, **env: str) -> None:
        self.env = {
            **os.environ,
            "SIYU_DATA_DIR": str(settings.data_dir),
            "SIYU_DATABASE_URL": settings.resolved_database_url,
            "SIYU_SECRET_KEY": TEST_KEY,
            "SIYU_QUIET_HOURS": "",
            "SIYU_FREQUENCY_CAPS": "[]",  # two SMS per contact a run: no global cap here
            "SIYU_MARKETING_CONSENT_DEFAULT": "true",
            "SIYU_OUTBOX_LEASE_S": "1",
            "SIYU_OUTBOX_RETRY_S": "0.5",
            "SIYU_WORKER_IDLE_S": "0.05",
            "SIYU_WORKER_BATCH_SIZE": "100",
            "SIYU_LANG": "en",
            **env,
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = settings.data_dir / "workers.log"
        self.kills = 0

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:  # the child keeps its own descriptor
            p = subprocess.Popen([SIYU, "worker"], env=self.env, stdout=subprocess.DEVNULL, stderr=log)
        self.procs.append(p)
        return p

    def kill_one(self, rng: random.Random) -> None:
        live = [p for p in self.procs if p.poll() is None]
        victim = rng.choice(live)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.kills += 1
        self.procs.remove(victim)
        self.start()

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()


@pytest.fixture
def emulators() -> Iterator[tuple[AliyunSmsEmulator, SmartSmsPlatform]]:
    sms = AliyunSmsEmulator(rate_limit=None, templates={"SMS_100001": "${name}"})
    card = SmartSmsPlatform(CHATBOT, "app-9", "key-9")
    with sms.running(), card.running():
        yield sms, card


def wait_done(ctx: AppContext, journey_key: str, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    with ctx.db.sessionmaker() as s:
        from siyu.store.models import Journey

        jid = s.scalar(select(Journey.id).where(Journey.key == journey_key))
    while time.monotonic() < deadline:
        with ctx.db.sessionmaker() as s:
            active = s.scalar(
                select(func.count()).where(
                    JourneyEnrolment.journey_id == jid, JourneyEnrolment.status == "active"
                )
            )
            unsent = s.scalar(
                select(func.count()).where(
                    OutboxMessage.journey_id == jid, OutboxMessage.status.in_(("pending", "sending"))
                )
            )
        if active == 0 and unsent == 0:
            return
        time.sleep(0.1)
    with ctx.db.sessionmaker() as s:
        errors = s.execute(
            select(OutboxMessage.error, OutboxMessage.attempts, OutboxMessage.status)
            .where(OutboxMessage.journey_id == jid, OutboxMessage.status.in_(("pending", "sending")))
            .limit(3)
        ).all()
    raise AssertionError(f"{journey_key}: {active} active, {unsent} unsent after {timeout_s} s: {errors}")


# 50 runs × 1,000 contacts take 2–5 minutes depending on the machine's load; the suite-wide
# 300 s limit is for ordinary tests.
@pytest.mark.long
@pytest.mark.timeout(1500)
def test_killed_workers_send_every_message_exactly_once(
    ctx: AppContext, emulators: tuple[AliyunSmsEmulator, SmartSmsPlatform]
) -> None:
    sms, card = emulators
    s = Siyu(ctx)
    s.providers.add(
        "aliyun",
        "aliyun_sms",
        {"sign_name": "思域商城", "base_url": sms.base_url, "rate_per_s": 0},
        {"access_key_id": "LTAI5tEXAMPLE", "access_key_secret": "emulator-secret"},
    )
    s.providers.add(
        "card",
        "smart_sms",
        {
            "chatbot_id": CHATBOT,
            "app_id": "app-9",
            "base_url": card.base_url,
            "capability_check": False,
            "rate_per_s": 0,
        },
        {"app_key": "key-9"},
    )
    calls = [
        {"type": "identify", "identifiers": {"phone": f"+86139{i:08d}"}, "traits": {"name": f"c{i}"}}
        for i in range(CONTACTS)
    ]
    assert s.batch(calls).accepted == CONTACTS
    with ctx.db.sessionmaker() as session:
        contact_ids = list(session.scalars(select(func.distinct(JourneyEnrolment.contact_id))))  # none yet
    assert contact_ids == []
    runs = RUNS if ctx.settings.resolved_database_url.startswith("sqlite") else PG_RUNS
    rng = random.Random(20261124)
    workers = Workers(ctx.settings)
    for _ in range(WORKERS):
        workers.start()
    try:
        for run in range(runs):
            spec = journey(run)
            s.journeys.create(spec)
            s.journeys.start(spec["key"])
            ids = [f"+86139{i:08d}" for i in range(CONTACTS)]
            assert s.journeys.enrol(spec["key"], ids, label=f"run-{run}")["enrolled"] == CONTACTS
            for _ in range(rng.randint(1, 3)):
                time.sleep(rng.uniform(0.0, 0.6))
                workers.kill_one(rng)
            wait_done(ctx, spec["key"])
    finally:
        workers.stop()
    assert workers.kills >= runs

    with ctx.db.sessionmaker() as session:
        rows = session.execute(select(OutboxMessage.key, OutboxMessage.step, OutboxMessage.status)).all()
    assert len(rows) == 2 * CONTACTS * runs
    assert {r.status for r in rows} == {"sent"}
    sms_keys = sorted(r.key for r in rows if r.step == "sms")
    card_keys = sorted(r.key for r in rows if r.step == "card")
    at_sms = sms.sent_by_key()
    assert sorted(at_sms) == sms_keys, "the SMS emulator got exactly the expected keys"
    assert set(at_sms.values()) == {1}, [k for k, n in at_sms.items() if n > 1][:10]
    at_card = card.sends
    assert sorted(at_card) == sorted(message_id_for(k, CHATBOT) for k in card_keys)
    assert set(at_card.values()) == {1}


HOOKS = 300


@pytest.mark.long
@pytest.mark.timeout(600)
def test_a_killed_worker_repeats_at_most_one_webhook(ctx: AppContext) -> None:
    """A webhook has no lookup: what a kill can repeat is what was sent and not yet recorded.
    Results are recorded per call and the next call starts only after that (concurrency 1, the
    default), so each kill repeats at most one webhook, once."""
    receiver = WebhookReceiver("hook-secret", latency_s=0.005)
    with receiver.running() as url:
        s = Siyu(ctx)
        s.providers.add("hook", "webhook", {"url": f"{url}/in"}, {"secret": "hook-secret"})
        calls = [{"type": "identify", "identifiers": {"phone": f"+86136{i:08d}"}} for i in range(HOOKS)]
        assert s.batch(calls).accepted == HOOKS
        spec = {
            "key": "hooks",
            "name": "hooks",
            "trigger": {"list": True},
            "steps": [{"id": "hook", "webhook": {"event": "crm.sync", "data": {"n": 1}}}],
        }
        s.journeys.create(spec)
        s.journeys.start("hooks")
        rng = random.Random(20261207)
        workers = Workers(ctx.settings)
        workers.start()
        try:
            assert s.journeys.enrol("hooks", [f"+86136{i:08d}" for i in range(HOOKS)])["enrolled"] == HOOKS
            while len(receiver.deliveries) < HOOKS and workers.kills < 12:
                time.sleep(rng.uniform(0.1, 0.4))
                workers.kill_one(rng)
            wait_done(ctx, "hooks")
        finally:
            workers.stop()
    with ctx.db.sessionmaker() as session:
        keys = set(session.scalars(select(OutboxMessage.key).where(OutboxMessage.status == "sent")))
    assert len(keys) == HOOKS and set(receiver.deliveries) == keys
    assert set(receiver.deliveries.values()) == {1}
    assert all(n == 1 for n in receiver.duplicates.values()), receiver.duplicates
    assert sum(receiver.duplicates.values()) <= workers.kills, (receiver.duplicates, workers.kills)


CAP_RUNS = int(os.environ.get("SIYU_CRASH_CAP_RUNS", "3"))
CAP_CONTACTS = 300
CLAIM = 100  # SIYU_WORKER_BATCH_SIZE of the workers


@pytest.mark.long
@pytest.mark.timeout(900)
def test_killed_workers_never_send_over_a_cap(
    ctx: AppContext, emulators: tuple[AliyunSmsEmulator, SmartSmsPlatform]
) -> None:
    """Two journeys message the same contacts under a global cap of one SMS a day while two
    workers run them (on PostgreSQL at the same time) and are killed at random. Counted at the
    SMS emulator: every contact got exactly one SMS — none lost, none over the cap — and no
    message key arrived twice."""
    sms, _ = emulators
    s = Siyu(ctx)
    s.providers.add(
        "aliyun",
        "aliyun_sms",
        {"sign_name": "思域商城", "base_url": sms.base_url, "rate_per_s": 0},
        {"access_key_id": "LTAI5tEXAMPLE", "access_key_secret": "emulator-secret"},
    )
    phones = [f"+86135{i:08d}" for i in range(CAP_CONTACTS * CAP_RUNS)]
    calls = [
        {"type": "identify", "identifiers": {"phone": p}, "traits": {"name": f"c{i}"}}
        for i, p in enumerate(phones)
    ]
    assert s.batch(calls).accepted == len(phones)
    rng = random.Random(20261207)
    # a longer lease than the other crash tests: a batch of 100 numbers per Aliyun call takes
    # longer than half a second on a loaded machine, and each expiry makes the other worker
    # look the whole batch up again
    caps = '[{"channel": "sms", "per": "day", "max": 1}]'
    workers = Workers(ctx.settings, SIYU_FREQUENCY_CAPS=caps, SIYU_OUTBOX_LEASE_S="4")
    for _ in range(WORKERS):
        workers.start()
    keys = []
    try:
        for run in range(CAP_RUNS):
            batch = phones[run * CAP_CONTACTS : (run + 1) * CAP_CONTACTS]
            for side in ("a", "b"):
                spec = journey(run)
                spec["key"] = keys_ = f"cap-{run}-{side}"
                spec["steps"] = spec["steps"][:1]  # the SMS step only
                s.journeys.create(spec)
                s.journeys.start(keys_)
                keys.append(keys_)
            # alternating slices of a claim's size: the two workers run the two journeys for the
            # same contacts at the same time
            for i in range(0, CAP_CONTACTS, CLAIM):
                for side in ("a", "b"):
                    s.journeys.enrol(f"cap-{run}-{side}", batch[i : i + CLAIM], label=f"{side}{i}")
            for _ in range(rng.randint(1, 3)):
                time.sleep(rng.uniform(0.0, 0.6))
                workers.kill_one(rng)
            for key in keys[-2:]:
                wait_done(ctx, key)
    finally:
        workers.stop()
    with ctx.db.sessionmaker() as session:
        rows = session.execute(select(OutboxMessage.key, OutboxMessage.status, OutboxMessage.error)).all()
    assert {r.status for r in rows} == {"sent"}, Counter((r.status, r.error) for r in rows).most_common(3)
    per_phone = Counter(r["PhoneNum"] for r in sms.records)
    over = {p: n for p, n in per_phone.items() if n > 1}
    assert not over, f"{len(over)} contacts got more than one SMS a day: {list(over.items())[:5]}"
    assert len(per_phone) == len(phones), "every contact got its one SMS"
    assert set(sms.sent_by_key().values()) == {1}
    assert len(rows) == len(phones)
    assert sorted(sms.sent_by_key()) == sorted(r.key for r in rows)
