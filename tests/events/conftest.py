"""A brand with a few events of known names, properties and counts, fed to the warehouse so
the catalogue can learn from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from siyu.client import Siyu
from siyu.context import AppContext

START = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def call(user: str, event: str, n: int, **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "userId": user,
        "messageId": f"{user}-{event}-{n}",
        "timestamp": (START + timedelta(minutes=n)).isoformat(),
        "properties": props,
    }


@pytest.fixture
def brand(ctx: AppContext) -> Siyu:
    """3 × Order Completed (amount, items), 2 × 领券 (a brand's own event name, coupon), 1 ×
    Page Viewed (path)."""
    client = Siyu(ctx)
    calls = [
        call("u1", "Order Completed", 1, amount=35.04, items=1),
        call("u2", "Order Completed", 2, amount=99, items=3),
        call("u1", "Order Completed", 3, amount=10, items=1),
        call("u1", "领券", 4, coupon="SPRING"),
        call("u2", "领券", 5, coupon="SPRING"),
        call("u3", "Page Viewed", 6, path="/home"),
    ]
    assert client.batch(calls).accepted == len(calls)
    client.feed_warehouse()
    return client
