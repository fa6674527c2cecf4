"""The commission ledger through the ingest path: two levels and never a third, proportional
and full reversal at both levels (also after settlement), the freeze and settlement job, and
exactly-once booking under a redone batch."""

from __future__ import annotations

from decimal import Decimal

from tests.distribution.conftest import (
    T0,
    at,
    chain,
    money,
    order_call,
    promoter,
    refund_call,
    rows,
    visit_call,
)

from siyu.client import Siyu
from siyu.context import AppContext


def test_two_levels_earn_and_a_third_never_does(s: Siyu, ctx: AppContext) -> None:
    a, b, c = chain(s)
    s.batch([visit_call(10, c, at(-1))])
    s.batch([order_call("O1", "200.00", 10)])
    got = {(x["promoter"], x["level"]): x["amount"] for x in s.distribution.commissions()}
    assert got == {(c, 1): "20.00", (b, 2): "10.00"}
    assert s.distribution.commissions(code=a) == []
    assert rows(ctx, "SELECT max(level) FROM commissions") == [(2,)]


def test_one_level_setting_pays_level_one_only(s: Siyu) -> None:
    _a, b, c = chain(s)
    s.distribution.set_settings({"levels": 1})
    s.batch([visit_call(10, c, at(-1)), order_call("O1", "100", 10, at(0))])
    assert [(x["promoter"], x["level"]) for x in s.distribution.commissions()] == [(c, 1)]
    assert s.distribution.commissions(code=b) == []


def test_refund_reverses_proportionally_then_fully_at_both_levels(s: Siyu) -> None:
    _a, b, c = chain(s)
    s.batch([visit_call(10, c, at(-1)), order_call("O1", "300.00", 10)])
    s.batch([refund_call("O1", 10, "100.00", "R1")])
    assert s.distribution.balances(c)["reversed"] == "10.00"  # a third of 30.00
    assert s.distribution.balances(b)["reversed"] == "5.00"  # a third of 15.00
    s.batch([refund_call("O1", 10, "200.00", "R2")])
    for code, earned in ((c, "30.00"), (b, "15.00")):
        bal = s.distribution.balances(code)
        assert (bal["earned"], bal["reversed"], bal["pending"]) == (earned, earned, "0.00")
    assert s.distribution.verify() == {"ok": True, "promoters": []}


def test_refund_after_settlement_is_a_negative_adjustment(s: Siyu) -> None:
    _a, b, c = chain(s)
    s.batch([visit_call(10, c, at(-1)), order_call("O1", "100.00", 10)])
    assert s.distribution.settle(now=at(1)) == {"reversed": 0, "frozen": 2, "settled": 0}
    assert s.distribution.balances(c)["frozen"] == "10.00"
    assert s.distribution.settle(now=at(7)) == {"reversed": 0, "frozen": 0, "settled": 2}
    assert s.distribution.balances(c)["settled"] == "10.00"
    s.batch([refund_call("O1", 10, "50.00", "R1")])
    bal = s.distribution.balances(c)
    assert (bal["settled"], bal["reversed"]) == ("5.00", "5.00")
    reversal = [x for x in s.distribution.commissions(code=b) if x["kind"] == "reversal"]
    assert [(x["amount"], x["state"]) for x in reversal] == [("-2.50", "settled")]


def test_redone_batch_books_each_movement_once(s: Siyu, ctx: AppContext) -> None:
    from siyu.distribution.consumer import CommissionConsumer
    from siyu.ingest.service import Accepted

    _a, _b, c = chain(s)
    s.batch([visit_call(10, c, at(-1)), order_call("O1", "100.00", 10), refund_call("O1", 10, "40", "R1")])
    before = rows(ctx, "SELECT promoter_id, level, kind, amount FROM commissions ORDER BY id")
    # the consumer run again over the same calls (a batch redone after a lost race)
    from siyu.ingest.messages import MessageValidator

    validator = MessageValidator.from_settings(ctx.parser, ctx.settings)
    calls = [order_call("O1", "100.00", 10), refund_call("O1", 10, "40", "R1")]
    msgs = [validator.validate(c) for c in calls]
    with ctx.db.session() as session:
        cid = rows(ctx, "SELECT contact_id FROM orders")[0][0]
        CommissionConsumer()(session, [Accepted(m, cid, None) for m in msgs])
        CommissionConsumer()(session, [Accepted(m, cid, None) for m in msgs])
    assert rows(ctx, "SELECT promoter_id, level, kind, amount FROM commissions ORDER BY id") == before
    assert len(before) == 4  # two earnings and their two reversals
    assert s.distribution.verify()["ok"]


def test_self_purchase_pays_the_buyer_only_when_on(s: Siyu) -> None:
    a, b, c = chain(s)

    def earners(order_no: str) -> set[tuple[str, int]]:
        return {
            (x["promoter"], x["level"]) for x in s.distribution.commissions() if x["order_no"] == order_no
        }

    s.batch([order_call("O1", "100", 3)])  # C buys: off, C's binder B is level 1 and A level 2
    assert earners("O1") == {(b, 1), (a, 2)}
    s.distribution.set_settings({"self_purchase": True})
    s.batch([order_call("O2", "100", 3)])  # on: C earns level 1 on their own order, B level 2
    assert earners("O2") == {(c, 1), (b, 2)}


def test_disabled_books_nothing(s: Siyu, ctx: AppContext) -> None:
    _a, _b, c = chain(s)
    s.batch([visit_call(10, c, at(-1))])
    s.distribution.set_settings({"enabled": False})
    s.batch([order_call("O1", "100", 10)])
    assert rows(ctx, "SELECT count(*) FROM commissions") == [(0,)]


def test_auto_promoter_after_spend_threshold(s: Siyu) -> None:
    s.distribution.set_settings({"auto_threshold": "500"})
    s.batch([order_call("O1", "300", 20)])
    assert s.distribution.promoter(f"1390000{20:04d}") is None
    s.batch([order_call("O2", "250", 20, T0)])
    p = s.distribution.promoter(f"1390000{20:04d}")
    assert p is not None and (p["status"], p["source"]) == ("approved", "spend")
    assert money(s.distribution.balances(p["code"])["earned"]) == Decimal(0)


def test_unapproved_promoter_earns_nothing(s: Siyu, ctx: AppContext) -> None:
    code = promoter(s, 1)
    s.batch([visit_call(10, code, at(-1))])
    s.distribution.reject(code)
    s.batch([order_call("O1", "100", 10)])
    assert rows(ctx, "SELECT count(*) FROM commissions") == [(0,)]


def test_an_operators_refund_is_reversed_by_the_settlement_job(s: Siyu) -> None:
    """A refund booked by hand (REST, CLI, console) does not pass through ingest consumers:
    the job finds it and reverses it, at both levels, once."""
    _a, b, c = chain(s)
    s.batch([visit_call(10, c, at(-1)), order_call("H1", "100.00", 10)])
    s.orders.refund("api", "H1", amount="40", refund_id="desk-1")
    assert s.distribution.balances(c)["reversed"] == "0.00"
    assert s.distribution.settle(now=at(1))["reversed"] == 2
    assert (s.distribution.balances(c)["reversed"], s.distribution.balances(b)["reversed"]) == (
        "4.00",
        "2.00",
    )
    assert s.distribution.settle(now=at(2))["reversed"] == 0
    assert s.distribution.verify()["ok"]
