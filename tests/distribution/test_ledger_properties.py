"""Property: any sequence of orders, partial refunds and settlement runs keeps, per promoter,
pending + frozen + settled = earned − reversed; what is earned and reversed equals an
independent computation (rate × total rounded down to the fen; a refund takes back the same
share of the commission, everything once the order is fully refunded); the third level of the
chain never earns."""

from __future__ import annotations

import itertools
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.distribution.conftest import at, chain, order_call, refund_call, visit_call

from siyu.client import Siyu

FEN = Decimal("0.01")
RATES = {1: Decimal("0.10"), 2: Decimal("0.05")}
RUN = itertools.count()

op = st.one_of(
    st.tuples(st.just("order"), st.sampled_from([10, 11, 12]), st.integers(1, 2_000_000)),
    st.tuples(st.just("refund"), st.integers(0, 30), st.integers(1, 100)),
    st.tuples(st.just("settle"), st.integers(0, 10), st.just(0)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(op, min_size=1, max_size=25))
def test_balances_hold_for_any_sequence(s: Siyu, ops: list[tuple[str, int, int]]) -> None:
    run = next(RUN)
    if getattr(s, "ctx_codes", None) is None:  # the first example on this database
        s.ctx_codes = chain(s)  # type: ignore[attr-defined]
        _a, b, c = s.ctx_codes  # type: ignore[attr-defined]
        s.batch([visit_call(10, c, at(-1)), visit_call(11, b, at(-1))])
    a, b, c = s.ctx_codes  # type: ignore[attr-defined]
    # who earns at which level for each buyer: 10 → C (1), B (2); 11 → B (1), A (2); 12 → nobody
    earners = {10: [(c, 1), (b, 2)], 11: [(b, 1), (a, 2)], 12: []}
    orders: list[tuple[str, int, Decimal, list[Decimal]]] = []
    day = 0
    for kind, x, y in ops:
        if kind == "order":
            total = (Decimal(y) / 100).quantize(FEN)
            no = f"R{run}-{len(orders)}"
            s.batch([order_call(no, str(total), x, at(day))])
            orders.append((no, x, total, []))
        elif kind == "refund" and orders:
            no, who, total, refunds = orders[x % len(orders)]
            left = total - sum(refunds, Decimal(0))
            amount = max(FEN, (left * y / 100).quantize(FEN, rounding=ROUND_DOWN))
            if left <= 0 or amount > left:
                continue
            s.batch([refund_call(no, who, str(amount), f"{no}-r{len(refunds)}")])
            refunds.append(amount)
        elif kind == "settle":
            day += x
            s.distribution.settle(now=at(day))
    # the invariant, from the ledger's own sums
    assert s.distribution.verify() == {"ok": True, "promoters": []}
    # and against an independent computation of this run's orders
    mine = [x for x in s.distribution.commissions(limit=100_000) if x["order_id"] in _ids(s, run)]
    expect_earned: dict[str, Decimal] = {}
    expect_reversed: dict[str, Decimal] = {}
    for _no, who, total, refunds in orders:
        for code, level in earners[who]:
            amount = (total * RATES[level]).quantize(FEN, rounding=ROUND_DOWN)
            if amount <= 0:
                continue
            got = sum(refunds, Decimal(0))
            back = (
                amount if got >= total else min(amount, (amount * got / total).quantize(FEN, ROUND_HALF_UP))
            )
            expect_earned[code] = expect_earned.get(code, Decimal(0)) + amount
            expect_reversed[code] = expect_reversed.get(code, Decimal(0)) + back
    got_earned: dict[str, Decimal] = {}
    got_reversed: dict[str, Decimal] = {}
    for row in mine:
        into = got_earned if row["kind"] == "earn" else got_reversed
        into[row["promoter"]] = into.get(row["promoter"], Decimal(0)) + abs(Decimal(row["amount"]))
    assert {k: v for k, v in got_earned.items() if v} == {k: v for k, v in expect_earned.items() if v}
    assert {k: v for k, v in got_reversed.items() if v} == {k: v for k, v in expect_reversed.items() if v}
    # A is level 2 of buyer 11 only, never level 3 of buyer 10
    assert all(r["level"] in (1, 2) for r in mine)
    assert not any(r["promoter"] == a and r["level"] != 2 for r in mine)


def _ids(s: Siyu, run: int) -> set[int]:
    from sqlalchemy import select

    from siyu.store.models import Order

    with s.ctx.db.session() as session:
        return set(session.scalars(select(Order.id).where(Order.order_no.like(f"R{run}-%"))))
