"""Tasks and badges: event and profile conditions evaluated as events arrive (a follower with a
cursor), completed once per member, rewarded with points and a coupon, ``Task Completed``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.coupons.templates import TemplateService
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import LoyaltyError
from siyu.loyalty.service import LoyaltyService
from siyu.loyalty.tasks import TaskService, check_condition, run_until_caught_up
from siyu.store.models import Coupon, Event


def _later() -> datetime:
    """Past the settle horizon of every event sent so far: taken when the test runs, not when
    the module is imported (a CI run reaches this file half an hour after collecting it)."""
    return datetime.now(UTC) + timedelta(minutes=5)


def _people(ctx: AppContext, n: int) -> list[int]:
    client = Siyu(ctx)
    out = []
    for i in range(n):
        result = client.identify({"customer_no": f"t{i}"}, {"name": f"P{i}"})
        assert result.rejected == []
        with ctx.db.session() as s:
            cid = ctx.profiles(s).resolve(ctx.parser.parse("customer_no", f"t{i}"))
        assert cid is not None
        out.append(cid)
    return out


def _track(ctx: AppContext, uid: str, event: str, **props: object) -> None:
    result = Siyu(ctx).batch([{"type": "track", "userId": uid, "event": event, "properties": props}])
    assert result.rejected == []


def test_tasks_complete_once_with_rewards_and_badges(ctx: AppContext) -> None:
    a, b, c = _people(ctx, 3)
    with ctx.db.session() as s:
        TemplateService(s).create(
            {"key": "thanks", "name": "感谢券", "kind": "fixed", "amount": "5", "valid_days": 30}
        )
        for cid in (a, b):
            LoyaltyService(s).enrol(cid)
        tasks = TaskService(s)
        tasks.create(
            "two-orders",
            {
                "name": "下两单",
                "condition": {"event": "Order Completed", "count": 2, "where": {"source": "mini"}},
                "reward_points": 100,
                "reward_coupon": "thanks",
                "badge": "repeat-buyer",
            },
        )
        tasks.create(
            "profile", {"name": "完善资料", "condition": {"profile": ["name", "city"]}, "reward_points": 20}
        )
    _track(ctx, "t0", "Order Completed", order_id="1", source="mini")
    _track(ctx, "t0", "Order Completed", order_id="2", source="store")  # not from the mini program
    _track(ctx, "t1", "Order Completed", order_id="3", source="mini")
    _track(ctx, "t1", "Order Completed", order_id="4", source="mini")
    _track(ctx, "t2", "Order Completed", order_id="5", source="mini")  # c is not a member
    _track(ctx, "t2", "Order Completed", order_id="6", source="mini")
    Siyu(ctx).identify({"customer_no": "t0"}, {"city": "上海"})
    later = _later()
    first = run_until_caught_up(ctx.db, now=later)
    assert first.completed == {"two-orders": 1, "profile": 1}
    _track(ctx, "t0", "Order Completed", order_id="7", source="mini")  # a's second from mini
    _track(ctx, "t1", "Order Completed", order_id="8", source="mini")  # b again: already done
    # the follower's own events (stamped at its ``now``) settle before later runs read past them
    second = run_until_caught_up(ctx.db, now=later + timedelta(minutes=10))
    assert second.completed == {"two-orders": 1}
    assert run_until_caught_up(ctx.db, now=later + timedelta(minutes=20)).completed == {}
    with ctx.db.session() as s:
        assert Ledger(s, now=later + timedelta(hours=1)).balance(a).active == 100 + 20
        assert Ledger(s, now=later + timedelta(hours=1)).balance(b).active == 100
        assert Ledger(s, now=later + timedelta(hours=1)).balance(c).active == 0
        assert {x["badge"] for x in TaskService(s).badges(a)} == {"repeat-buyer", None}
        assert s.scalar(select(func.count()).select_from(Coupon).where(Coupon.contact_id.in_([a, b]))) == 2
        done = s.execute(
            select(Event.contact_id, Event.properties).where(Event.event == "Task Completed")
        ).all()
        assert sorted((cid, p["task"]) for cid, p in done) == sorted(
            [(a, "two-orders"), (a, "profile"), (b, "two-orders")]
        )
        assert TaskService(s).completions() == {"two-orders": 2, "profile": 1}


def test_a_paused_reward_coupon_still_completes_the_task(ctx: AppContext) -> None:
    [a] = _people(ctx, 1)
    with ctx.db.session() as s:
        TemplateService(s).create(
            {"key": "gone", "name": "券", "kind": "fixed", "amount": "5", "valid_days": 3}
        )
        LoyaltyService(s).enrol(a)
        TaskService(s).create(
            "first",
            {
                "name": "首单",
                "condition": {"event": "Order Completed"},
                "reward_points": 5,
                "reward_coupon": "gone",
            },
        )
        TemplateService(s).update("gone", {"status": "paused"})
    _track(ctx, "t0", "Order Completed", order_id="1")
    later = _later()
    run = run_until_caught_up(ctx.db, now=later)
    assert (run.completed, run.coupon_errors) == ({"first": 1}, 1)
    with ctx.db.session() as s:
        assert Ledger(s, now=later + timedelta(hours=1)).balance(a).active == 5


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({}, "condition"),
        ({"event": "X", "profile": ["a"]}, "condition"),
        ({"event": ""}, "condition.event"),
        ({"event": "X", "count": 0}, "condition.count"),
        ({"event": "X", "count": True}, "condition.count"),
        ({"event": "X", "where": {"a": [1]}}, "condition.where.a"),
        ({"event": "X", "share": True}, "condition.share"),
        ({"profile": []}, "condition.profile"),
        ({"profile": ["name", ""]}, "condition.profile[1]"),
    ],
)
def test_bad_conditions_name_the_field(condition: object, field: str) -> None:
    with pytest.raises(LoyaltyError) as err:
        check_condition(condition)
    assert err.value.field == field


def test_bad_task_fields(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        tasks = TaskService(s)
        for key, values, field in [
            ("Bad Key", {"name": "x", "condition": {"event": "X"}}, "key"),
            ("ok", {"name": "", "condition": {"event": "X"}}, "name"),
            ("ok", {"name": "x", "condition": {"event": "X"}, "reward_points": -5}, "reward_points"),
        ]:
            with pytest.raises(LoyaltyError) as err:
                tasks.create(key, values)
            assert err.value.field == field
