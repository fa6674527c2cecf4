"""Property test of the points ledger against a model written independently in plain Python.

Any interleaving of awards (immediate or pending, explicit expiry or the programme's validity in
the brand's time zone), spends, refunds (clawbacks from an order's award), time passing and the
release and expiry jobs: the ledger's balance equals the model's after every step, each spend
draws exactly the awards the model picks (earliest expiry first, never pending or expired ones),
the balance equals the sum of the entries, and ``verify`` agrees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from siyu.brand import set_brand_timezone
from siyu.context import AppContext
from siyu.loyalty.jobs import expire_batch, release_batch
from siyu.loyalty.ledger import InsufficientPoints, Ledger
from siyu.loyalty.programme import expiry_for, update_programme
from siyu.loyalty.verify import verify
from siyu.store.models import PointsDraw, PointsEntry

from .helpers import add_order, new_contact

ZONES = ["Asia/Shanghai", "America/Los_Angeles", "Pacific/Kiritimati", "UTC"]


@dataclass
class Award:
    id: int
    remaining: int
    available: datetime
    expires: datetime | None
    order_id: int | None
    stored_pending: bool
    status: str = "live"  # live | expired | voided


@dataclass
class Model:
    allow_negative: bool
    awards: list[Award] = field(default_factory=list)
    debts: list[list[int]] = field(default_factory=list)  # [clawback id, owed]
    spent: int = 0
    expired: int = 0

    def spendable(self, now: datetime) -> list[Award]:
        live = [
            a
            for a in self.awards
            if a.status == "live"
            and a.remaining > 0
            and a.available <= now
            and (a.expires is None or a.expires > now)
        ]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(live, key=lambda a: (a.expires or far, a.available, a.id))

    def draw(self, awards: list[Award], points: int) -> dict[int, int]:
        taken: dict[int, int] = {}
        for a in awards:
            n = min(a.remaining, points - sum(taken.values()))
            if n > 0:
                a.remaining -= n
                taken[a.id] = n
        return taken

    def release(self, now: datetime) -> bool:
        hit = False
        for a in self.awards:
            if a.status == "live" and a.stored_pending and a.available <= now:
                a.stored_pending = False
                hit = True
        return hit

    def expire(self, now: datetime) -> None:
        for a in self.awards:
            if a.status == "live" and a.expires is not None and a.expires <= now:
                self.expired += a.remaining
                a.remaining = 0
                a.status = "expired"

    def repay(self, now: datetime) -> None:
        for debt in self.debts:
            if debt[1] > 0:
                debt[1] -= sum(self.draw(self.spendable(now), debt[1]).values())
                if debt[1] > 0:
                    break

    def settle(self, now: datetime) -> None:
        self.release(now)
        self.expire(now)
        self.repay(now)

    def balance(self, now: datetime) -> tuple[int, int, int, int, int]:
        live = [a for a in self.awards if a.status == "live"]
        fresh = [a for a in live if a.expires is None or a.expires > now]
        return (
            sum(a.remaining for a in fresh if a.available <= now),
            sum(a.remaining for a in fresh if a.available > now),
            self.spent,
            self.expired + sum(a.remaining for a in live if a not in fresh),
            sum(d[1] for d in self.debts),
        )


points = st.integers(min_value=1, max_value=500)
op = st.one_of(
    st.tuples(
        st.just("award"), points, st.sampled_from([0, 0, 3, 7]), st.sampled_from([None, 1, 5, 30, 400])
    ),
    st.tuples(st.just("order"), points, st.sampled_from([0, 7]), st.sampled_from([None, 10])),
    st.tuples(st.just("spend"), st.integers(min_value=1, max_value=120)),
    st.tuples(st.just("refund"), st.integers(min_value=0, max_value=20), points),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=24 * 40)),
    st.tuples(st.just("release")),
    st.tuples(st.just("expire")),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(op, min_size=1, max_size=25),
    zone=st.sampled_from(ZONES),
    validity=st.sampled_from(["30D", "1M", "1Y", "end_of_next_year"]),
    allow_negative=st.booleans(),
    start=st.integers(min_value=0, max_value=365 * 24),
)
@example(
    ops=[
        ("award", 50, 0, 400),
        ("award", 30, 0, 5),
        ("spend", 40),
        ("order", 20, 7, None),
        ("refund", 0, 30),
        ("wait", 24 * 8),
        ("release",),
        ("expire",),
    ],
    zone="Asia/Shanghai",
    validity="30D",
    allow_negative=True,
    start=0,
)
def test_ledger_matches_model(
    ctx: AppContext, ops: list[tuple], zone: str, validity: str, allow_negative: bool, start: int
) -> None:
    cid = _contact(ctx)
    now = datetime(2026, 1, 1, 15, 30, tzinfo=UTC) + timedelta(hours=start)
    model = Model(allow_negative)
    orders: list[int] = []
    with ctx.db.sessionmaker() as s:
        try:
            set_brand_timezone(s, zone)
            update_programme(s, {"allow_negative": allow_negative, "default_validity": validity})
            for n, step in enumerate(ops):
                ledger = Ledger(s, now=now, tz=zone)
                kind = step[0]
                if kind in ("award", "order"):
                    _, pts, pending, days = step
                    available = now + timedelta(days=pending) if pending else now
                    expires = available + timedelta(days=days) if days else None
                    order_id = add_order(s, cid, f"o{n}", "1", now).id if kind == "order" else None
                    entry = ledger.award(
                        cid,
                        pts,
                        source="order" if order_id else "manual",
                        reason="r",
                        order_id=order_id,
                        pending_until=available if pending else None,
                        expires_at=expires,
                        external_id=f"a{n}",
                    )
                    model.awards.append(
                        Award(
                            entry.id,
                            pts,
                            available,
                            expires or expiry_for(validity, available, zone),
                            order_id,
                            bool(pending),
                        )
                    )
                    if order_id:
                        orders.append(order_id)
                    if not pending:
                        model.settle(now)
                elif kind == "spend":
                    model.settle(now)
                    plan = model.spendable(now)
                    if sum(a.remaining for a in plan) < step[1]:
                        with pytest.raises(InsufficientPoints):
                            ledger.spend(cid, step[1], reason="r", external_id=f"s{n}")
                    else:
                        expect = model.draw(plan, step[1])
                        model.spent += step[1]
                        entry = ledger.spend(cid, step[1], reason="r", external_id=f"s{n}")
                        got = dict(
                            s.execute(
                                select(PointsDraw.award_id, PointsDraw.points).where(
                                    PointsDraw.entry_id == entry.id
                                )
                            ).all()
                        )
                        assert got == expect
                elif kind == "refund":
                    if not orders:
                        continue
                    order_id, pts = orders[step[1] % len(orders)], step[2]
                    model.settle(now)
                    own = [
                        a
                        for a in model.awards
                        if a.order_id == order_id and a.status == "live" and a.remaining > 0
                    ]
                    taken = sum(model.draw(own, pts).values())
                    for a in own:
                        if a.stored_pending and a.remaining == 0:
                            a.status = "voided"
                    taken += sum(
                        model.draw([a for a in model.spendable(now) if a not in own], pts - taken).values()
                    )
                    entry = ledger.clawback(cid, pts, reason="refund", external_id=f"r{n}", order_id=order_id)
                    assert entry is not None
                    if pts > taken and allow_negative:
                        model.debts.append([entry.id, pts - taken])
                    assert entry.shortfall == (0 if allow_negative else pts - taken)
                elif kind == "wait":
                    now += timedelta(hours=step[1])
                elif kind == "release":
                    if model.release(now) and any(d[1] > 0 for d in model.debts):
                        model.settle(now)
                    release_batch(s, now)
                elif kind == "expire":
                    model.expire(now)
                    expire_batch(s, now)
                s.flush()
                bal = Ledger(s, now=now, tz=zone).balance(cid)
                assert (bal.active, bal.pending, bal.spent, bal.expired, bal.negative) == model.balance(
                    now
                ), step
                total = (
                    s.scalar(select(func.sum(PointsEntry.points)).where(PointsEntry.contact_id == cid)) or 0
                )
                unprocessed = sum(
                    a.remaining for a in model.awards if a.status == "live" and a.expires and a.expires <= now
                )
                assert total == bal.active + bal.pending + unprocessed - bal.negative
            report = verify(s)
            assert report["ok"], report["problems"]
        finally:
            s.rollback()


_n = iter(range(10**6))


def _contact(ctx: AppContext) -> int:
    return new_contact(ctx, f"+86138{next(_n):08d}")
