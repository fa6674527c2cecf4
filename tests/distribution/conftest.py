"""Fixtures of the distribution tests: the Python client on the test database with
distribution on, contacts by phone, and order / refund / visit calls through the ingest path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from siyu.client import Siyu
from siyu.context import AppContext

T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def phone(n: int) -> str:
    return f"1390000{n:04d}"


@pytest.fixture
def s(ctx: AppContext) -> Iterator[Siyu]:
    client = Siyu(ctx)
    client.distribution.set_settings(
        {"enabled": True, "mode": "appointed", "level1_rate": "0.10", "level2_rate": "0.05", "freeze_days": 7}
    )
    yield client


def rows(ctx: AppContext, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with ctx.db.session() as session:
        return [tuple(r) for r in session.execute(text(sql), params)]


def order_call(order_id: str, total: Any, who: int, when: datetime = T0, **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "identifiers": {"phone": phone(who)},
        "properties": {"order_id": order_id, "total": total, **props},
        "timestamp": when.isoformat(),
    }


def refund_call(order_id: str, who: int, amount: Any = None, refund_id: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"order_id": order_id}
    if amount is not None:
        props["total"] = amount
    if refund_id is not None:
        props["refund_id"] = refund_id
    return {
        "type": "track",
        "event": "Order Refunded",
        "identifiers": {"phone": phone(who)},
        "properties": props,
        "timestamp": T0.isoformat(),
    }


def visit_call(who: int, code: str, when: datetime = T0, how: str = "property") -> dict[str, Any]:
    """A page view through a promoter's link (``?promoter=``) or a track with ``promoter_code``."""
    if how == "url":
        return {
            "type": "page",
            "identifiers": {"phone": phone(who)},
            "properties": {"url": f"https://shop.example/p/1?promoter={code}&utm_source=x"},
            "timestamp": when.isoformat(),
        }
    return {
        "type": "track",
        "event": "Shop Visited",
        "identifiers": {"phone": phone(who)},
        "properties": {"promoter_code": code},
        "timestamp": when.isoformat(),
    }


def promoter(s: Siyu, who: int, openid: str | None = None) -> str:
    """An approved promoter (applied, then approved by an operator); returns their code."""
    s.identify({"phone": phone(who)}, timestamp=T0 - timedelta(days=30))
    code = s.distribution.apply(phone(who))["code"]
    s.distribution.approve(code, actor="ops")
    if openid:
        s.distribution.set_openid(code, openid)
    return str(code)


def chain(s: Siyu) -> tuple[str, str, str]:
    """Promoters A ← B ← C (C bound to B, B bound to A): a buyer bound to C pays C level 1,
    B level 2 and A nothing."""
    a, b, c = promoter(s, 1), promoter(s, 2), promoter(s, 3)
    s.batch([visit_call(2, a, at(-20)), visit_call(3, b, at(-20))])
    return a, b, c


def money(value: Any) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def http(server: Any, api_key: Any) -> Iterator[Any]:
    """An HTTP client authenticated as an owner."""
    import httpx

    server.client.distribution.set_settings({"enabled": True})
    headers = {"Authorization": f"Bearer {api_key('owner')}"}
    with httpx.Client(base_url=server.url, timeout=60, headers=headers) as c:
        yield c
