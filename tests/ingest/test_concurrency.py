"""Concurrent writers creating the same new contacts: no error, one contact per identifier."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.store.models import Contact, Event, Identity


def test_concurrent_batches_with_the_same_new_identifiers(ctx: AppContext) -> None:
    client = Siyu(ctx)
    writers, visitors = 4, 150
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []
    accepted: list[int] = []

    def write(w: int) -> None:
        calls = [
            {"type": "track", "event": "Visit", "anonymousId": f"dev-{v}", "messageId": f"w{w}-{v}"}
            for v in range(visitors)
        ]
        barrier.wait()
        try:
            accepted.append(client.batch(calls).accepted)
        except BaseException as exc:  # collected: a failed writer must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(accepted) == [visitors] * writers
    with ctx.db.session() as s:
        devices = s.execute(
            select(Identity.value, Identity.contact_id).where(Identity.type == "app_device_id")
        ).all()
        live = s.scalar(select(func.count()).select_from(Contact).where(Contact.merged_into_id.is_(None)))
        per_contact = dict(s.execute(select(Event.contact_id, func.count()).group_by(Event.contact_id)).all())
    assert sorted(v for v, _ in devices) == sorted(f"dev-{v}" for v in range(visitors))
    assert live == visitors  # no orphan contacts left by a redone batch
    assert sorted(per_contact.values()) == [writers] * visitors
