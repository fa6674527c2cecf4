"""The points catalogue: redeem = spend + coupon in one transaction, idempotent by external id,
stock and per-member limits, every refusal leaving nothing behind."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from siyu.context import AppContext
from siyu.coupons.rules import held_out
from siyu.coupons.templates import TemplateService
from siyu.loyalty.catalogue import CatalogueService
from siyu.loyalty.ledger import Ledger
from siyu.loyalty.programme import LoyaltyError
from siyu.loyalty.service import LoyaltyService
from siyu.store.models import Coupon, Redemption, RedemptionItem

from .helpers import at, new_contact


@pytest.fixture
def member(ctx: AppContext) -> int:
    cid = new_contact(ctx, "+8613800138031")
    with ctx.db.session() as s:
        TemplateService(s, now=at(0)).create(
            {"key": "tea", "name": "茶饮券", "kind": "fixed", "amount": "10", "valid_days": 30}
        )
        LoyaltyService(s, now=at(0)).enrol(cid)
        Ledger(s, now=at(0)).award(cid, 1000, source="manual", reason="test", external_id="seed")
        cat = CatalogueService(s, now=at(0))
        cat.create("tea", {"name": "茶饮券", "kind": "coupon", "points": 300, "coupon_template": "tea"})
        cat.create(
            "mug", {"name": "马克杯", "kind": "gift", "points": 400, "stock": 1, "per_member_limit": 1}
        )
    return cid


def redeem(ctx: AppContext, cid: int, item: str, ext: str | None) -> int:
    with ctx.db.session() as s:
        return CatalogueService(s, now=at(1)).redeem(cid, item, external_id=ext).id


def state(ctx: AppContext, cid: int) -> tuple[int, int, int, int | None]:
    with ctx.db.session() as s:
        return (
            Ledger(s, now=at(1)).balance(cid).active,
            s.scalar(select(func.count()).select_from(Redemption)) or 0,
            s.scalar(select(func.count()).select_from(Coupon).where(Coupon.contact_id == cid)) or 0,
            s.scalar(select(RedemptionItem.stock).where(RedemptionItem.key == "mug")),
        )


def test_redeem_spends_and_issues_once(ctx: AppContext, member: int) -> None:
    first = redeem(ctx, member, "tea", "r-1")
    assert redeem(ctx, member, "tea", "r-1") == first  # a repeat changes nothing
    assert state(ctx, member) == (700, 1, 1, 1)
    redeem(ctx, member, "mug", "r-2")
    assert state(ctx, member) == (300, 2, 1, 0)


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        ([("mug", "a"), ("mug", "b")], "per_member_limit"),
        ([("tea", "a"), ("tea", "b"), ("tea", "c"), ("tea", "d")], "insufficient_points"),
        ([("nope", "a")], "item_not_found"),
    ],
)
def test_refusals_leave_nothing_behind(ctx: AppContext, member: int, steps: list, code: str) -> None:
    *ok, (item, ext) = steps
    for i, e in ok:
        redeem(ctx, member, i, e)
    before = state(ctx, member)
    with pytest.raises(LoyaltyError) as err:
        redeem(ctx, member, item, ext)
    assert err.value.code == code
    assert state(ctx, member) == before  # the failed unit of work rolled back stock and points


def test_out_of_stock_and_reused_ids(ctx: AppContext, member: int) -> None:
    other = new_contact(ctx, "+8613800138032")
    with ctx.db.session() as s:
        LoyaltyService(s, now=at(0)).enrol(other)
        Ledger(s, now=at(0)).award(other, 1000, source="manual", reason="test", external_id="seed2")
    redeem(ctx, member, "mug", "m-1")
    with pytest.raises(LoyaltyError) as err:
        redeem(ctx, other, "mug", "m-2")
    assert err.value.code == "out_of_stock"
    with pytest.raises(LoyaltyError) as err:  # someone else's external id
        redeem(ctx, other, "mug", "m-1")
    assert err.value.code == "external_id_reused"


def test_held_out_coupons_refuse_the_redemption(ctx: AppContext, member: int) -> None:
    key = next(f"h{i}" for i in range(1000) if held_out(f"h{i}", member, 90))  # this member held out
    with ctx.db.session() as s:
        TemplateService(s, now=at(0)).create(
            {"key": key, "name": "券", "kind": "fixed", "amount": "1", "valid_days": 9, "holdout_percent": 90}
        )
        CatalogueService(s).create(
            "held", {"name": "券", "kind": "coupon", "points": 10, "coupon_template": key}
        )
    before = state(ctx, member)
    with pytest.raises(LoyaltyError) as err:
        redeem(ctx, member, "held", "h-1")
    assert err.value.code == "coupon_unavailable"
    assert state(ctx, member) == before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "x", "kind": "coupon", "points": 10}, "coupon_template"),
        ({"name": "x", "kind": "gift", "points": 0}, "points"),
        ({"name": "x", "kind": "gift", "points": 10, "stock": -1}, "stock"),
        ({"name": "x", "kind": "gift", "points": 10, "per_member_limit": 0}, "per_member_limit"),
        ({"name": "x", "kind": "voucher", "points": 10}, "kind"),
        ({"name": "x", "kind": "gift", "points": 10, "coupon_template": "tea"}, "coupon_template"),
    ],
)
def test_bad_items_name_the_field(ctx: AppContext, member: int, values: dict, field: str) -> None:
    with ctx.db.session() as s, pytest.raises(LoyaltyError) as err:
        CatalogueService(s).create("bad", values)
    assert err.value.field == field


@pytest.mark.postgresql_only("SQLite has one writer at a time: the second redemption waits for the first")
def test_the_last_unit_goes_to_one_of_two_racing_members(ctx: AppContext, member: int) -> None:
    """Two members, two threads, one unit of stock: exactly one redemption commits, and the
    other member keeps every point."""
    other = new_contact(ctx, "+8613800138033")
    with ctx.db.session() as s:
        LoyaltyService(s, now=at(0)).enrol(other)
        Ledger(s, now=at(0)).award(other, 1000, source="manual", reason="test", external_id="seed3")
    barrier = threading.Barrier(2)
    outcome: dict[int, str] = {}

    def race(cid: int) -> None:
        s = ctx.db.sessionmaker()
        try:
            barrier.wait()
            CatalogueService(s, now=at(1)).redeem(cid, "mug", external_id=f"race-{cid}")
            s.commit()
            outcome[cid] = "ok"
        except LoyaltyError as exc:
            s.rollback()
            outcome[cid] = exc.code
        finally:
            s.close()

    threads = [threading.Thread(target=race, args=(c,)) for c in (member, other)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert sorted(outcome.values()) == ["ok", "out_of_stock"]
    with ctx.db.session() as s:
        assert s.scalar(select(RedemptionItem.stock).where(RedemptionItem.key == "mug")) == 0
        loser = next(c for c, o in outcome.items() if o != "ok")
        assert Ledger(s, now=at(1)).balance(loser).active == 1000


def test_a_paused_coupon_template_refuses_the_redemption(ctx: AppContext, member: int) -> None:
    with ctx.db.session() as s:
        TemplateService(s, now=at(0)).update("tea", {"status": "paused"})
    before = state(ctx, member)
    with pytest.raises(LoyaltyError) as err:
        redeem(ctx, member, "tea", "p-1")
    assert err.value.code == "coupon_unavailable"
    assert state(ctx, member) == before
