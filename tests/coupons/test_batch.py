"""The batch redeemer (the order path) decides exactly as one-by-one ``redeem`` does: the same
results, the same attempts recorded, the same budget spent, in one batch where orders race each
other for codes, limits and the last of a budget."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from tests.coupons.conftest import NOW
from tests.coupons.test_service import issue

from siyu.context import AppContext
from siyu.coupons.batch import BatchRedeemer
from siyu.coupons.service import CouponService, OrderContext
from siyu.store.models import Event
from siyu.store.models.coupons import Coupon, CouponRedemption, CouponTemplate

# (template, holder index, order no, amount, buyer index): holder None = a code nobody has
PLAN: list[tuple[str | None, int | None, str, str, int]] = [
    ("t1", 0, "o1", "100", 0),  # ok
    ("t1", 1, "o2", "100", 0),  # the same customer's second t1 coupon: per_customer
    ("t1", 2, "o3", "40", 1),  # under the minimum
    ("t2", 3, "o4", "100", 0),  # ok, spent 10 of 25
    ("t2", 4, "o5", "100", 1),  # ok, spent 20
    ("t2", 5, "o6", "100", 2),  # 30 > 25: budget
    ("t3", 6, "o7", "200", 3),  # ok, 10 % = 20
    ("t3", 6, "o8", "200", 3),  # taken by o7 a moment ago: already_redeemed
    ("t3", 6, "o7", "200", 3),  # o7 again: its first success back
    (None, None, "o9", "100", 0),  # not_found
    ("t1", 2, "o10", "100", 2),  # someone else's coupon: not_yours
    ("t1", 2, "o11", "100", 1),  # its holder, now over the minimum: ok
]
HOLDERS = [0, 0, 1, 0, 1, 2, 3]  # coupon i is issued to contact HOLDERS[i]


def _setup(ctx: AppContext, template, contacts, prefix: str) -> list[str]:
    template(f"{prefix}t1", amount="20", per_customer=1, min_order="50")
    template(f"{prefix}t2", kind="threshold", amount="10", min_order="50", budget="25")
    template(f"{prefix}t3", kind="percent", amount="10", max_discount="30")
    kinds = ["t1", "t1", "t1", "t2", "t2", "t2", "t3"]
    return [issue(ctx, f"{prefix}{k}", contacts[h]) for k, h in zip(kinds, HOLDERS, strict=True)]


def _items(codes: list[str], people: list[int], prefix: str) -> list[tuple[str, OrderContext]]:
    items = []
    for _kind, holder, no, amount, buyer in PLAN:
        code = codes[holder] if holder is not None else "NOSUCHCODE"
        ctx = OrderContext(
            order_source="youzan",
            order_no=f"{prefix}{no}",
            amount=Decimal(amount),
            contact_id=people[buyer],
            at=NOW,
        )
        items.append((code, ctx))
    return items


def _state(ctx: AppContext, prefix: str) -> tuple[list[str], dict[str, int]]:
    with ctx.db.session() as s:
        spent = [
            str(v)
            for v in s.scalars(
                select(CouponTemplate.spent)
                .where(CouponTemplate.key.like(f"{prefix}%"))
                .order_by(CouponTemplate.key)
            )
        ]
        attempts = dict(
            s.execute(
                select(CouponRedemption.status, func.count())
                .where(CouponRedemption.order_no.like(f"{prefix}%"))
                .group_by(CouponRedemption.status)
            ).all()
        )
    return spent, attempts


def test_the_batch_decides_like_one_by_one(ctx: AppContext, contacts, template) -> None:
    people = contacts(4)
    one_codes = _setup(ctx, template, people, "a")
    many_codes = _setup(ctx, template, people, "b")

    single = []
    for code, order in _items(one_codes, people, "a"):
        with ctx.db.session() as s:
            r = CouponService(s, now=NOW).redeem(code, order)
            single.append((r.ok, r.reason, r.discount))
    with ctx.db.session() as s:
        batch = [
            (r.ok, r.reason, r.discount)
            for r in BatchRedeemer(s, NOW).redeem_many(_items(many_codes, people, "b"))
        ]

    assert batch == single
    assert [r[1] for r in batch] == [
        None, "per_customer", "min_order", None, None, "budget", None, "already_redeemed", None,
        "not_found", "not_yours", None,
    ]  # fmt: skip
    assert (
        _state(ctx, "b") == _state(ctx, "a") == (["40.00", "20.00", "20.00"], {"succeeded": 5, "failed": 6})
    )
    with ctx.db.session() as s:
        redeemed = s.scalars(select(Event.properties).where(Event.event == "Coupon Redeemed")).all()
    assert sorted(p["order_id"] for p in redeemed) == sorted(
        f"{p}{no}" for p in "ab" for no in ("o1", "o4", "o5", "o7", "o11")
    )


def test_a_replayed_batch_gets_its_successes_back_and_spends_nothing_more(
    ctx: AppContext, contacts, template
) -> None:
    people = contacts(4)
    codes = _setup(ctx, template, people, "c")
    with ctx.db.session() as s:
        first = BatchRedeemer(s, NOW).redeem_many(_items(codes, people, "c"))
        ok_first = [(r.ok, r.discount) for r in first if r.ok]
    before = _state(ctx, "c")
    with ctx.db.session() as s:
        again = BatchRedeemer(s, NOW).redeem_many(_items(codes, people, "c"))
    assert [(r.ok, r.discount) for r in again if r.ok] == ok_first
    spent, attempts = _state(ctx, "c")
    assert spent == before[0]  # no second discount counted against any budget
    assert attempts["succeeded"] == before[1]["succeeded"]
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Coupon).where(Coupon.status == "redeemed")) == 5


def test_an_order_the_tables_cannot_store_is_refused_and_its_neighbours_redeem(
    ctx: AppContext, contacts, template
) -> None:
    people = contacts(2)
    template("big", amount="5")
    a, b = issue(ctx, "big", people[0]), issue(ctx, "big", people[1])
    huge = OrderContext(order_source="youzan", order_no="x1", amount=Decimal("1e15"), contact_id=people[0])
    fine = OrderContext(order_source="youzan", order_no="x2", amount=Decimal("30"), contact_id=people[1])
    with ctx.db.session() as s:
        got = BatchRedeemer(s, NOW).redeem_many([(a, huge), (b, fine)])
    assert [(r.ok, r.reason) for r in got] == [(False, "invalid_order"), (True, None)]
