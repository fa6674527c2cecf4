"""Frequency caps hold under concurrent workers: two engines (each its own connection pool, as
two ``siyu worker`` processes would have) run two journeys that message the same contacts under
a global cap of one message a day; no contact may get two. On PostgreSQL the workers really
overlap (``FOR UPDATE SKIP LOCKED`` claims, READ COMMITTED); on SQLite they take turns."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from siyu.journeys.engine import Engine
from siyu.journeys.schemas import Cap
from siyu.store.engine import Database
from siyu.store.models import Identity, JourneyStepRun, OutboxMessage

CONTACTS = 400
WORKERS = 2
CLAIM = 25


def _worker(url: str, jk, errors: list[BaseException]) -> None:
    db = Database(url)
    try:
        config = jk.config(caps=[Cap(channel="any", per="day", max=1)], quiet_hours=None)
        idle, rounds = 0, 0
        while idle < 3:  # the other worker may still hold rows this one will find due
            rounds += 1
            # the clock moves on 2 s a round: a contact whose cap lock was busy waits 1 s
            now = jk.at(minutes=1) + timedelta(seconds=2 * rounds)
            with db.session() as s:
                stats = Engine(s, jk.ctx.keyring, config).run_due(CLAIM, now=now)
            idle = idle + 1 if stats.claimed == 0 else 0
    except BaseException as exc:  # surfaced in the test thread
        errors.append(exc)
    finally:
        db.dispose()


def test_two_workers_never_send_a_contact_over_the_cap(jk) -> None:
    jk.template()
    calls = [{"type": "identify", "identifiers": {"phone": f"+86137{i:08d}"}} for i in range(CONTACTS)]
    assert jk.client.batch(calls).accepted == CONTACTS
    with jk.ctx.db.session() as s:
        cids = sorted(set(s.scalars(select(Identity.contact_id).where(Identity.type == "phone"))))
    assert len(cids) == CONTACTS
    no_quiet = {"quiet_hours": {"enabled": False}}
    for key in ("a", "b"):
        jk.journey([jk.sms_step("hi")], key=key, **no_quiet)
    # enrolled in alternating slices the size of a claim, so while one worker runs journey a
    # for a slice, the other (skipping the locked rows) runs journey b for the same contacts
    for i in range(0, CONTACTS, CLAIM):
        for key in ("a", "b"):
            assert jk.enrol(cids[i : i + CLAIM], key=key, label=f"{key}{i}") == len(cids[i : i + CLAIM])

    errors: list[BaseException] = []
    threads = [threading.Thread(target=_worker, args=(jk.ctx.db.url, jk, errors)) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(240)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)

    with jk.ctx.db.session() as s:
        per_contact = Counter(s.scalars(select(OutboxMessage.contact_id)))
        capped = s.scalar(select(JourneyStepRun.id).where(JourneyStepRun.outcome == "skipped_cap").limit(1))
        outcomes = Counter(
            s.scalars(select(JourneyStepRun.outcome).where(JourneyStepRun.outcome != "entered"))
        )
    over = {c: n for c, n in per_contact.items() if n > 1}
    assert not over, f"{len(over)} contacts got more than the cap of 1: {list(over.items())[:5]}"
    assert sorted(per_contact) == cids  # every contact got its one message
    assert capped is not None
    assert outcomes["queued"] == CONTACTS and outcomes["skipped_cap"] == CONTACTS, outcomes
    assert all(e["status"] == "completed" for key in ("a", "b") for e in jk.enrolments(key))
