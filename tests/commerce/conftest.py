"""Fixtures of the commerce tests: the Python client on the test database, and a way to read
what was booked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from siyu.client import Siyu
from siyu.context import AppContext

T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


@pytest.fixture
def s(ctx: AppContext) -> Iterator[Siyu]:
    yield Siyu(ctx)


def rows(ctx: AppContext, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with ctx.db.session() as session:
        return [tuple(r) for r in session.execute(text(sql), params)]


def order_call(order_id: str, total: Any, phone: str = "13800138000", **props: Any) -> dict[str, Any]:
    """An ``Order Completed`` track call as an SDK sends it."""
    return {
        "type": "track",
        "event": "Order Completed",
        "identifiers": {"phone": phone},
        "properties": {"order_id": order_id, "total": total, **props},
        "timestamp": props.pop("timestamp", None) or T0.isoformat(),
    }


def refund_call(order_id: str, phone: str = "13800138000", **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Refunded",
        "identifiers": {"phone": phone},
        "properties": {"order_id": order_id, **props},
        "timestamp": T0.isoformat(),
    }
