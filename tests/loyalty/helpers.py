"""Shared set-up for the loyalty tests: contacts, members and orders at chosen times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from siyu.context import AppContext
from siyu.store.models import Order

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def new_contact(ctx: AppContext, phone: str) -> int:
    with ctx.db.session() as s:
        return ctx.profiles(s).identify([ctx.parser.parse("phone", phone)], at=T0).contact_id


def add_order(
    s, contact_id: int, order_no: str, total: str, when: datetime, source: str = "mini_program"
) -> Order:
    order = Order(
        contact_id=contact_id,
        source=source,
        order_no=order_no,
        total=Decimal(total),
        ordered_at=when,
        refunded=Decimal(0),
        discount=Decimal(0),
        shipping=Decimal(0),
        tax=Decimal(0),
        properties={},
        status="completed",
        currency="CNY",
    )
    s.add(order)
    s.flush()
    return order
