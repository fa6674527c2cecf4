"""Per-code and per-staff figures against an independent count made here, and the transfer
rules (≤ 100 a call, at most twice in 90 days, results recorded)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from tests.wecom.ways_env import CHANNEL, PROVIDER, Env, ways_env

from siyu.context import AppContext
from siyu.store.models import Contact, ContactFollow, WeComStaff
from siyu.wecom.transfer import TransferError

SH = ZoneInfo("Asia/Shanghai")
STATES = ["poster", "store", "ad"]
STAFF = ["zhangsan", "lisi", "wangwu"]


@pytest.fixture
def env(ctx: AppContext) -> Iterator[Env]:
    with ways_env(ctx) as e:
        yield e


def random_follows(env: Env, n: int = 600) -> list[dict]:
    rng = random.Random(3)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    with env.ctx.db.session() as s:
        ids = [c for c in s.scalars(insert(Contact).returning(Contact.id), [{"created_at": base}] * n)]
        for i, cid in enumerate(ids):
            added = base + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
            ended = rng.random() < 0.5
            deleted = (
                added + timedelta(hours=rng.choice([1, 20, 23.9, 24.5, 100, 167, 169, 400]))
                if ended
                else None
            )
            rows.append(
                {
                    "contact_id": cid,
                    "provider_key": PROVIDER,
                    "staff_userid": rng.choice(STAFF),
                    "external_userid": f"wm{i}",
                    "state": rng.choice([*STATES, None]),
                    "added_at": added,
                    "deleted_at": deleted,
                    "deleted_by": rng.choice(["staff", "customer"]) if ended else None,
                    "corp_tags": [],
                }
            )
        s.execute(insert(ContactFollow), rows)
        s.execute(
            insert(WeComStaff),
            [{"provider_key": PROVIDER, "userid": u, "name": u, "departments": [1]} for u in STAFF],
        )
    return rows


def test_code_figures_match_an_independent_count(env: Env) -> None:
    for state in STATES:
        env.siyu.create_entry_code(CHANNEL, state)
    rows = random_follows(env)
    got = {f["state"]: f for f in env.siyu.wecom.figures(by_day=True)}
    for state in STATES:
        mine = [r for r in rows if r["state"] == state]

        def within(r: dict, h: int) -> bool:
            return r["deleted_at"] is not None and r["deleted_at"] - r["added_at"] <= timedelta(hours=h)

        f = got[state]
        assert f["adds"] == len(mine)
        assert f["scans"] is None  # unknown, never 0
        assert f["deleted_24h"]["total"] == sum(within(r, 24) for r in mine)
        assert f["deleted_7d"]["by_customer"] == sum(
            within(r, 168) and r["deleted_by"] == "customer" for r in mine
        )
        assert f["deleted_7d"]["by_staff"] == sum(within(r, 168) and r["deleted_by"] == "staff" for r in mine)
        assert f["net"] == sum(r["deleted_at"] is None for r in mine)
        per_day = Counter(r["added_at"].astimezone(SH).date().isoformat() for r in mine)
        assert {d["day"]: d["adds"] for d in f["days"]} == dict(per_day)
    one_day = date(2026, 11, 10)
    day_only = env.siyu.wecom.figures(["poster"], start=one_day, end=one_day)[0]
    assert day_only["adds"] == sum(
        r["state"] == "poster" and r["added_at"].astimezone(SH).date() == one_day for r in rows
    )


def test_staff_figures_match_an_independent_count(env: Env) -> None:
    rows = random_follows(env)
    start, end = date(2026, 11, 5), date(2026, 11, 25)
    shown = env.siyu.staff.show("lisi", start=start, end=end)
    mine = [r for r in rows if r["staff_userid"] == "lisi"]
    assert shown["customers"] == sum(r["deleted_at"] is None for r in mine)
    assert shown["lost"] == sum(r["deleted_by"] == "customer" for r in mine)
    local = lambda at: at.astimezone(SH).date()  # noqa: E731
    for day in shown["days"]:
        d = date.fromisoformat(day["day"])
        assert day["adds"] == sum(local(r["added_at"]) == d for r in mine)
        assert day["lost"] == sum(
            r["deleted_at"] is not None and r["deleted_by"] == "customer" and local(r["deleted_at"]) == d
            for r in mine
        )
        ended = sum(r["deleted_at"] is not None and local(r["deleted_at"]) == d for r in mine)
        assert day["net"] == day["adds"] - ended
        assert day["total"] == sum(
            local(r["added_at"]) <= d and (r["deleted_at"] is None or local(r["deleted_at"]) > d)
            for r in mine
        )
    listed = {s["userid"]: s for s in env.siyu.staff.list()}
    assert listed["lisi"]["customers"] == shown["customers"]


def test_transfers_follow_wecoms_rules(env: Env) -> None:
    for i in range(150):
        env.world.add_follow("zhangsan", f"wm{i}", 1_780_000_000 + i)
    env.siyu.wecom.sync(PROVIDER)
    calls_before = len(env.emu.requests)
    results = env.siyu.staff.transfer(PROVIDER, "zhangsan", "lisi", [f"wm{i}" for i in range(150)])
    calls = [r for r in env.emu.requests[calls_before:] if r.path.endswith("/transfer_customer")]
    assert len(calls) == 2 and max(len(r.json()["external_userid"]) for r in calls) == 100
    assert {r["status"] for r in results} == {"waiting"}
    env.world.finish_transfers()
    assert env.siyu.staff.poll_transfers(PROVIDER)["success"] == 150
    assert "wm0" in env.world.follows["lisi"]
    assert env.siyu.staff.show("lisi")["customers"] == 150
    assert env.siyu.staff.show("zhangsan")["customers"] == 0

    env.siyu.staff.transfer(PROVIDER, "lisi", "wangwu", ["wm0"])  # second move in 90 days
    env.world.finish_transfers()
    env.siyu.staff.poll_transfers(PROVIDER)
    before = len(env.emu.requests)
    third = env.siyu.staff.transfer(PROVIDER, "wangwu", "zhangsan", ["wm0"])[0]
    assert third["status"] == "failed" and "2 times in the last 90 days" in third["reason"]
    assert len(env.emu.requests) == before  # refused here, WeCom never asked
    with pytest.raises(TransferError, match="takeover_userid"):
        env.siyu.staff.transfer(PROVIDER, "lisi", "lisi", ["wm1"])


def test_wecom_refusals_are_recorded_per_customer(env: Env) -> None:
    env.world.add_follow("zhangsan", "wmA", 1_780_000_000)
    out = env.siyu.staff.transfer(PROVIDER, "zhangsan", "lisi", ["wmA", "wmNOT"])
    by = {r["external_userid"]: r for r in out}
    assert by["wmA"]["status"] == "waiting"
    assert by["wmNOT"]["status"] == "failed" and by["wmNOT"]["errcode"] == 40096
    env.world.finish_transfers(accept=False)
    assert env.siyu.staff.poll_transfers(PROVIDER)["refused"] == 1
    assert env.siyu.staff.transfers(PROVIDER)[-1]["reason"] == "the customer refused the transfer"
