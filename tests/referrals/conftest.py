"""Fixtures of the referral tests: contacts, a coupon template, campaigns at chosen times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.coupons.templates import TemplateService
from siyu.referrals.service import ReferralService
from siyu.store.models.contacts import Contact

T0 = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def definition(key: str = "spring", kind: str = "first_order", **fields: Any) -> dict[str, Any]:
    target = {
        "task": {"staff": ["zhangsan"]},
        "group": {"chat_ids": ["wrchat1"]},
        "first_order": {"event": "Order Completed"},
    }[kind]
    return {
        "key": key,
        "name": "春季老带新",
        "kind": kind,
        "target": target,
        "rewards": [{"invites": 3, "coupon": "ref-a", "value": "20"}, {"invites": 10, "gift": "保温杯"}],
        "hold_days": 7,
        "window_days": 14,
        "starts_at": "2026-05-01T00:00:00+08:00",
        **fields,
    }


@pytest.fixture
def client(ctx: AppContext) -> Siyu:
    return Siyu(ctx)


@pytest.fixture
def contacts(ctx: AppContext) -> Callable[[int], list[int]]:
    def make(n: int) -> list[int]:
        with ctx.db.session() as s:
            rows = [Contact() for _ in range(n)]
            s.add_all(rows)
            s.flush()
            return [c.id for c in rows]

    return make


@pytest.fixture
def coupon_template(ctx: AppContext) -> Callable[..., str]:
    made: set[str] = set()

    def make(key: str = "ref-a", **fields: Any) -> str:
        if key in made:
            return key
        data = {"key": key, "name": "推荐券", "kind": "fixed", "amount": "20", "valid_days": 30, **fields}
        with ctx.db.session() as s:
            TemplateService(s, now=T0 - timedelta(days=40)).create(data)
        made.add(key)
        return key

    return make


@pytest.fixture
def campaign(ctx: AppContext, coupon_template: Callable[..., str]) -> Callable[..., str]:
    """An active campaign (the coupon template of its default rewards made too)."""

    def make(key: str = "spring", kind: str = "first_order", **fields: Any) -> str:
        coupon_template()
        with ctx.db.session() as s:
            svc = ReferralService(s, now=T0 - timedelta(days=31))
            svc.create(definition(key, kind, **fields))
            svc.move(key, "activate")
        return key

    return make
