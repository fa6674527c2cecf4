"""Subscriptions (周期购) with a fixed clock: deliveries become orders once each, reminders go once
per renewal, pause moves the schedule, failures end it, events tell journeys."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from tests.commerce.conftest import T0, rows

from siyu.client import Siyu
from siyu.commerce.schemas import CommerceError, CommerceNotFound
from siyu.commerce.subscriptions import SubscriptionError
from siyu.context import AppContext

DAY = timedelta(days=1)


def events(ctx: AppContext) -> list[str]:
    return [e for (e,) in rows(ctx, "SELECT event FROM events WHERE event LIKE 'Subscription%' ORDER BY id")]


@pytest.fixture
def sub(s: Siyu) -> dict:
    s.identify({"phone": "13800138000"})
    s.orders.subscriptions.create_plan(
        "milk", "每周鲜奶", "49.90", 7, periods=3, remind_days=2, product_id="milk-1"
    )
    return s.orders.subscriptions.subscribe("13800138000", "milk", external_id="yz-1", start_at=T0)


def test_lifecycle_orders_reminders_and_end(s: Siyu, ctx: AppContext, sub: dict) -> None:
    subs = s.orders.subscriptions
    assert subs.subscribe("13800138000", "milk", external_id="yz-1")["id"] == sub["id"]  # idempotent
    assert subs.renew(now=T0) == {"renewed": 1, "orders_booked": 1, "ended": 0, "reminded": 0}
    assert subs.renew(now=T0) == {"renewed": 0, "orders_booked": 0, "ended": 0, "reminded": 0}
    # two days before the next delivery (T0 + 7 days) the reminder goes, once
    assert subs.renew(now=T0 + 4 * DAY)["reminded"] == 0
    assert subs.renew(now=T0 + 5 * DAY + timedelta(hours=1))["reminded"] == 1
    assert subs.renew(now=T0 + 6 * DAY)["reminded"] == 0
    # missed runs catch up: both remaining deliveries are booked, then the plan's 3 periods end it
    assert subs.renew(now=T0 + 30 * DAY) == {"renewed": 2, "orders_booked": 2, "ended": 1, "reminded": 0}
    shown = subs.show(sub["id"])
    assert (shown["status"], shown["renewals"], shown["next_renewal_at"]) == ("ended", 3, None)
    booked = rows(ctx, "SELECT order_no, source, subscription_id, ordered_at FROM orders ORDER BY order_no")
    n = sub["id"]
    assert [(o, src, sid) for o, src, sid, _ in booked] == [
        (f"{n}-{i}", "subscription", n) for i in (1, 2, 3)
    ]
    lines = rows(ctx, "SELECT product_id, quantity FROM order_lines")
    assert lines == [("milk-1", 1)] * 3
    assert events(ctx) == [
        "Subscription Started",
        "Subscription Renewed",
        "Subscription Renewal Due",
        "Subscription Renewed",
        "Subscription Renewed",
    ]
    due = rows(ctx, "SELECT properties FROM events WHERE event = 'Subscription Renewal Due'")[0][0]
    due = json.loads(due) if isinstance(due, str) else due
    assert (due["days"], due["renewal"], due["plan"]) == (1, 2, "milk")
    with pytest.raises(SubscriptionError):
        subs.pause(sub["id"])


def test_pause_moves_the_schedule_and_cancel_keeps_the_reason(s: Siyu, ctx: AppContext, sub: dict) -> None:
    subs = s.orders.subscriptions
    subs.renew(now=T0)
    with ctx.db.session() as session:
        from siyu.commerce.subscriptions import SubscriptionService

        service = SubscriptionService(session, now=T0 + 3 * DAY)
        service.pause(sub["id"])
    assert subs.renew(now=T0 + 20 * DAY)["renewed"] == 0  # paused: nothing is due
    with ctx.db.session() as session:
        SubscriptionService(session, now=T0 + 13 * DAY).resume(sub["id"])
    # paused ten days: the second delivery moves from T0 + 7 to T0 + 17 days
    assert subs.show(sub["id"])["next_renewal_at"] == (T0 + 17 * DAY).isoformat()
    out = subs.cancel(sub["id"], reason="搬家了")
    assert (out["status"], out["cancel_reason"], out["next_renewal_at"]) == ("cancelled", "搬家了", None)
    with pytest.raises(SubscriptionError) as exc:
        subs.resume(sub["id"])
    assert exc.value.code == "bad_status"
    assert events(ctx)[-3:] == ["Subscription Paused", "Subscription Resumed", "Subscription Cancelled"]


def test_failures_in_a_row_end_it_and_a_renewal_resets_them(s: Siyu, ctx: AppContext, sub: dict) -> None:
    subs = s.orders.subscriptions
    assert subs.fail(sub["id"], reason="余额不足")["failures"] == 1
    subs.renew(now=T0)  # the delivery went through: the count starts again
    assert subs.show(sub["id"])["failures"] == 0
    subs.fail(sub["id"])
    subs.fail(sub["id"])
    last = subs.fail(sub["id"])
    assert (last["status"], last["failures"], last["next_renewal_at"]) == ("failed", 3, None)
    assert events(ctx).count("Subscription Renewal Failed") == 4
    assert subs.renew(now=T0 + 60 * DAY)["renewed"] == 0


def test_plans_are_checked_by_field(s: Siyu) -> None:
    plans = s.orders.subscriptions
    for bad, field in (
        ({"price": "-1"}, "price"),
        ({"price": "abc"}, "price"),
        ({"interval_days": 0}, "interval_days"),
        ({"remind_days": 30}, "remind_days"),
        ({"periods": "x"}, "periods"),
        ({"source": "不是渠道"}, "source"),
    ):
        args = {"price": "10", "interval_days": 7, **bad}
        with pytest.raises(CommerceError) as exc:
            plans.create_plan("p", "计划", args.pop("price"), args.pop("interval_days"), **args)
        assert exc.value.field == field
    plans.create_plan("p", "计划", "10", 7)
    with pytest.raises(SubscriptionError):
        plans.create_plan("p", "计划", "10", 7)
    assert plans.update_plan("p", price="12.5", active=False)["price"] == "12.50"
    s.identify({"phone": "13800138000"})
    with pytest.raises(SubscriptionError) as exc:
        plans.subscribe("13800138000", "p")
    assert exc.value.code == "plan_inactive"
    with pytest.raises(CommerceNotFound):
        plans.subscribe("13800138000", "nope")
    assert [p["key"] for p in plans.plans()] == ["p"]


def test_an_id_beyond_any_column_is_not_found(s: Siyu) -> None:
    for bad in (0, -1, 2**63, 10**30):
        with pytest.raises(CommerceNotFound):
            s.orders.subscriptions.show(bad)
