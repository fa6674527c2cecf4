"""Building blocks for the retention tests: contacts with events at chosen times, outbox
messages in chosen states, audit entries of chosen ages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from siyu.audit import chain
from siyu.client import Siyu
from siyu.context import AppContext
from siyu.profiles.views import find_contact_id
from siyu.store.models import AuditEntry, Contact, Event, OutboxMessage

#: "Now" of the runs; the data is laid out around it.
NOW = datetime.now(UTC).replace(microsecond=0)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def client(ctx: AppContext) -> Siyu:
    return Siyu(ctx)


@pytest.fixture
def track(client: Siyu) -> Callable[..., None]:
    def send(customer: str, event: str, age_days: float, message_id: str | None = None) -> None:
        result = client.track(event, {"customer_no": customer}, {"n": 1}, days_ago(age_days), message_id)
        assert result.accepted == 1, result

    return send


def contact_id(ctx: AppContext, customer: str) -> int:
    with ctx.db.session() as s:
        return find_contact_id(ctx.profiles(s), ctx.parser, f"customer_no:{customer}")


def backdate_contact(ctx: AppContext, cid: int, age_days: float) -> None:
    """As if the contact was created and last changed ``age_days`` ago."""
    with ctx.db.session() as s:
        s.execute(
            update(Contact)
            .where(Contact.id == cid)
            .values(created_at=days_ago(age_days), updated_at=days_ago(age_days))
        )


def events_of(ctx: AppContext) -> list[tuple[str, int, str | None]]:
    with ctx.db.session() as s:
        rows = s.execute(select(Event.message_id, Event.contact_id, Event.event).order_by(Event.id)).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def add_outbox(ctx: AppContext, cid: int, key: str, status: str, delivered_days: float | None) -> None:
    with ctx.db.session() as s:
        s.add(
            OutboxMessage(
                key=key,
                contact_id=cid,
                channel="sms",
                content={"text": f"张三您好，您的券码 {key}"},
                status=status,
                local_day="2026-01-01",
                local_week="2026-W01",
                sent_at=None if status == "pending" else days_ago((delivered_days or 0) + 0.01),
                delivered_at=None if delivered_days is None else days_ago(delivered_days),
            )
        )


def add_audit(ctx: AppContext, action: str, age_days: float, **details: Any) -> None:
    with ctx.db.session() as s:
        s.add(AuditEntry(at=days_ago(age_days), actor="test", action=action, details=details or None))
        chain.mark_pending(s)
