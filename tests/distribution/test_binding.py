"""Binding on a promoter link: the lock period, new users only vs anyone, never to oneself nor
into a cycle that would pay a buyer for their own order."""

from __future__ import annotations

from tests.distribution.conftest import at, order_call, phone, promoter, rows, visit_call

from siyu.client import Siyu
from siyu.context import AppContext


def bound_to(ctx: AppContext, who: int) -> str | None:
    got = Siyu(ctx).distribution.binding(phone(who))
    return None if got is None else got["code"]


def test_first_visit_binds_through_the_url_or_the_property(s: Siyu, ctx: AppContext) -> None:
    a = promoter(s, 1)
    s.batch([visit_call(10, a, at(0), how="url"), visit_call(11, a, at(0))])
    assert bound_to(ctx, 10) == a and bound_to(ctx, 11) == a


def test_lock_period_keeps_the_first_promoter(s: Siyu, ctx: AppContext) -> None:
    s.distribution.set_settings({"binding": "anyone", "lock_days": 30})
    a, b = promoter(s, 1), promoter(s, 2)
    s.batch([visit_call(10, a, at(0))])
    s.batch([visit_call(10, b, at(29))])
    assert bound_to(ctx, 10) == a
    s.batch([visit_call(10, b, at(31))])
    assert bound_to(ctx, 10) == b


def test_lock_zero_binds_for_ever(s: Siyu, ctx: AppContext) -> None:
    s.distribution.set_settings({"binding": "anyone", "lock_days": 0})
    a, b = promoter(s, 1), promoter(s, 2)
    s.batch([visit_call(10, a, at(0))])
    s.batch([visit_call(10, b, at(3000))])
    assert bound_to(ctx, 10) == a


def test_new_users_only_refuses_existing_customers(s: Siyu, ctx: AppContext) -> None:
    a = promoter(s, 1)
    s.batch([order_call("O1", "50", 10, at(-5))])
    s.batch([visit_call(10, a, at(0))])
    assert bound_to(ctx, 10) is None
    assert s.distribution.bind(phone(10), a)["outcome"] == "not_new"
    s.distribution.set_settings({"binding": "anyone"})
    s.batch([visit_call(10, a, at(1))])
    assert bound_to(ctx, 10) == a


def test_never_to_oneself_nor_into_a_cycle(s: Siyu, ctx: AppContext) -> None:
    a, b = promoter(s, 1), promoter(s, 2)
    assert s.distribution.bind(phone(1), a)["outcome"] == "self"
    s.batch([visit_call(2, a, at(0))])  # B bound to A
    assert s.distribution.bind(phone(1), b)["outcome"] == "cycle"  # A under B: A would earn on A
    assert bound_to(ctx, 1) is None


def test_unknown_or_unapproved_code_binds_nobody(s: Siyu, ctx: AppContext) -> None:
    s.identify({"phone": phone(5)})
    code = s.distribution.apply(phone(5))["code"]  # pending: 指定分销 waits for an operator
    s.batch([visit_call(10, code, at(0)), visit_call(11, "NOSUCH", at(0))])
    assert rows(ctx, "SELECT count(*) FROM promoter_bindings") == [(0,)]
    assert s.distribution.bind(phone(10), code)["outcome"] == "not_approved"


def test_everyone_mode_approves_applications_at_once(s: Siyu) -> None:
    s.distribution.set_settings({"mode": "everyone"})
    s.identify({"phone": phone(5)})
    assert s.distribution.apply(phone(5))["status"] == "approved"
