"""Fixtures of the referral tests: contacts, a coupon template, campaigns at chosen times."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.emulators.wecom_inflow import WeComInflowEmulator
from tests.emulators.wecom_ways import ways

from siyu.client import Siyu
from siyu.context import AppContext
from siyu.coupons.templates import TemplateService
from siyu.referrals.service import ReferralService
from siyu.store.models import utcnow
from siyu.wecom.callbacks import inbox

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


# --- WeCom: the emulator behind a configured provider; callbacks through the inbox ------------
@dataclass
class WeCom:
    client: Siyu
    emu: WeComInflowEmulator

    @property
    def workers(self) -> int:
        """Two processors on PostgreSQL (as two receiver workers would run), one on SQLite."""
        return 2 if self.client.ctx.db.dialect == "postgresql" else 1

    def deliver(self, events: list[dict[str, Any]], workers: int | None = None) -> dict[str, int]:
        """Callbacks as the receiver stores them (decrypted), then processed by the inbox like
        the receiver's workers do: the handler registry, one transaction per event. (Two
        events about one new group race in the community handler's first sync, and the loser
        waits for its retry: group tests deliver with one worker.)"""
        ctx = self.client.ctx
        with ctx.db.session() as s:
            inbox.store(s, [inbox.row_for("wecom", e, utcnow()) for e in events])
        counts: Counter[str] = Counter()
        while ids := inbox.due(ctx, limit=100_000):
            counts.update(in_parallel(lambda i: inbox.process_one(ctx, i), ids, workers or self.workers))
        return dict(counts)


def in_parallel(work: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    if workers == 1:
        return [work(i) for i in items]
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(work, items))


@pytest.fixture
def wecom(client: Siyu) -> Iterator[WeCom]:
    emu = WeComInflowEmulator()
    ways(emu).add_user("zhangsan", "张三")
    with emu.running():
        # no client-side pacing against the local emulator (the simulation makes ~3,000 calls)
        config = {"corp_id": emu.corp_id, "base_url": emu.base_url, "retries": 1, "backoff_s": 0.01}
        secrets = {"corp_secret": emu.corp_secret, "callback_token": emu.callback_token}
        secrets["encoding_aes_key"] = emu.encoding_aes_key
        client.providers.add("wecom", "wecom", config | {"rate_per_s": 100_000}, secrets)
        yield WeCom(client, emu)
