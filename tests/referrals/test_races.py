"""Two workers on PostgreSQL: attributing the same invitees through different codes at once
leaves one referral each (first code wins); running the lifecycle job at once approves each
referral once and pays each milestone once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from tests.referrals.conftest import T0, at

from siyu.client import Siyu
from siyu.referrals.attribution import attribute
from siyu.referrals.jobs import run_jobs
from siyu.referrals.service import ReferralService
from siyu.store.models import Referral, ReferralParticipant, ReferralReward

N = 120


def race(work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        barrier.wait()
        try:
            work(worker)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.postgresql_only("SQLite has one writer: nothing races")
def test_two_workers_attribute_the_same_invitees(
    client: Siyu, campaign: Callable[..., str], contacts: Callable[[int], list[int]]
) -> None:
    key = campaign(kind="task", starts_at=None)
    inviters, invitees = contacts(2), contacts(N)
    with client.ctx.db.session() as s:
        svc = ReferralService(s)
        parts = [svc.join(svc.get(key), c).id for c in inviters]

    def work(worker: int) -> None:
        for invitee in invitees:
            with client.ctx.db.session() as s:
                attribute(s, s.get(ReferralParticipant, parts[worker]), invitee, "wecom_add", T0)

    race(work)
    with client.ctx.db.session() as s:
        per = Counter(s.scalars(select(Referral.invitee_id)))
    assert len(per) == N and set(per.values()) == {1}


@pytest.mark.postgresql_only("SQLite has one writer: nothing races")
def test_two_workers_run_the_job_and_pay_once(
    client: Siyu, campaign: Callable[..., str], contacts: Callable[[int], list[int]]
) -> None:
    rewards = [{"invites": 3, "coupon": "ref-a", "value": "20"}, {"invites": 10, "gift": "保温杯"}]
    key = campaign(kind="task", starts_at=None, hold_days=1, rewards=rewards)
    inviters, invitees = contacts(6), contacts(6 * 12)
    with client.ctx.db.session() as s:
        svc = ReferralService(s)
        row = svc.get(key)
        for i, c in enumerate(invitees):
            attribute(s, svc.join(row, inviters[i % 6]), c, "wecom_add", T0)
    race(lambda worker: run_jobs(client.ctx.db, at(2), batch=7))
    with client.ctx.db.session() as s:
        approved = s.scalar(select(func.count()).where(Referral.status == "approved"))
        paid = Counter(s.execute(select(ReferralReward.contact_id, ReferralReward.milestone)).all())
    assert approved == len(invitees)
    assert sorted(paid) == sorted((c, m) for c in inviters for m in (3, 10)) and set(paid.values()) == {1}
    assert client.referrals.campaign(key)["spent"] == "120.00"
