"""Two writers at once on PostgreSQL: the same orders from two concurrent batches are booked
once, and two concurrent refunds cannot take more than the order has left."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest

from siyu.client import Siyu
from siyu.commerce.schemas import CommerceError
from siyu.context import AppContext
from tests.commerce.conftest import order_call, rows

pytestmark = pytest.mark.postgresql_only


def together(*jobs: Callable[[], object]) -> list[object]:
    results: list[object] = [None] * len(jobs)
    start = threading.Barrier(len(jobs))

    def run(i: int, job: Callable[[], object]) -> None:
        start.wait()
        try:
            results[i] = job()
        except Exception as exc:  # kept to assert on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_batches_book_each_order_once(s: Siyu, ctx: AppContext) -> None:
    def batch(tag: str) -> object:
        calls = [order_call(f"K{i}", 10, phone=f"1380013{i:04d}") for i in range(200)]
        for c in calls:
            c["messageId"] = f"{tag}-{c['properties']['order_id']}"
        return s.batch(calls)

    for _ in range(3):
        together(lambda: batch("a"), lambda: batch("b"))
    assert rows(ctx, "SELECT count(*), count(DISTINCT order_no) FROM orders") == [(200, 200)]
    assert rows(ctx, "SELECT count(*) FROM order_lines") == [(0,)]


def test_concurrent_refunds_cannot_overdraw(s: Siyu, ctx: AppContext) -> None:
    s.batch([order_call("R", 100, source="store")])
    for round_ in range(5):
        results = together(
            *[
                lambda i=i: s.orders.refund("store", "R", amount=15, refund_id=f"{round_}-{i}")
                for i in range(4)
            ]
        )
        assert all(isinstance(r, dict | CommerceError) for r in results), results
    refunded = rows(ctx, "SELECT refunded FROM orders")[0][0]
    total = rows(ctx, "SELECT sum(amount), count(*) FROM order_refunds")[0]
    assert Decimal(str(refunded)) == Decimal(str(total[0])) == Decimal(90)  # six refunds of ¥15 fit in ¥100
    assert total[1] == 6
