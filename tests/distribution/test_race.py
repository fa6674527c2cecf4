"""Two writers at once on PostgreSQL: the same orders and refunds from two concurrent batches
earn and reverse each commission once, and two settlement jobs settle each row once."""

from __future__ import annotations

import pytest
from tests.commerce.test_concurrency import together
from tests.distribution.conftest import at, chain, order_call, refund_call, rows, visit_call

from siyu.client import Siyu
from siyu.context import AppContext

pytestmark = pytest.mark.postgresql_only


def test_concurrent_batches_pay_each_commission_once(s: Siyu, ctx: AppContext) -> None:
    _a, _b, c = chain(s)
    s.batch([visit_call(100 + i, c, at(-1)) for i in range(40)])

    def batch(tag: str, make: object) -> object:
        calls = make()  # type: ignore[operator]
        for call in calls:
            call["messageId"] = f"{tag}-{call['event']}-{call['properties']['order_id']}"
        return s.batch(calls)

    def orders() -> list[dict[str, object]]:
        return [order_call(f"K{i}", "100.00", 100 + i) for i in range(40)]

    def refunds() -> list[dict[str, object]]:
        return [refund_call(f"K{i}", 100 + i, "25.00", f"R{i}") for i in range(40)]

    together(lambda: batch("a", orders), lambda: batch("b", orders))
    together(lambda: batch("a", refunds), lambda: batch("b", refunds))
    assert rows(ctx, "SELECT kind = 'earn', count(*) FROM commissions GROUP BY 1 ORDER BY 1") == [
        (False, 80),
        (True, 80),
    ]
    assert rows(ctx, "SELECT count(*) FROM commissions WHERE kind = 'earn' AND reversed <> amount / 4") == [
        (0,)
    ]
    results = together(lambda: s.distribution.settle(now=at(30)), lambda: s.distribution.settle(now=at(30)))
    assert sum(r["settled"] for r in results) == 80  # type: ignore[index]
    assert s.distribution.verify()["ok"]
