"""Issuing, validating, redeeming and refunding coupons: every rule and kind, idempotency."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from tests.coupons.conftest import NOW

from siyu.context import AppContext
from siyu.coupons.errors import CouponError
from siyu.coupons.service import CouponService, OrderContext
from siyu.store.models import Event
from siyu.store.models.coupons import Coupon, CouponHoldout, CouponRedemption, CouponTemplate


def order(no: str = "o1", amount: str = "100", **kw: object) -> OrderContext:
    return OrderContext(order_source="youzan", order_no=no, amount=Decimal(amount), **kw)  # type: ignore[arg-type]


def issue(ctx: AppContext, key: str, contact: int, *, now: datetime = NOW, ext: str | None = None) -> str:
    with ctx.db.session() as s:
        c = CouponService(s, now=now).issue(key, contact, issued_by="manual", external_id=ext)
        assert c is not None
        return c.code


def redeem(
    ctx: AppContext, code: str, o: OrderContext, now: datetime = NOW
) -> tuple[bool, str | None, Decimal | None]:
    with ctx.db.session() as s:
        r = CouponService(s, now=now).redeem(code, o)
        return r.ok, r.reason, r.discount


def test_issue_gives_a_unique_code_valid_n_days_and_records_the_event(ctx, contacts, template) -> None:
    key = template(valid_days=7)
    [a, b] = contacts(2)
    code_a, code_b = issue(ctx, key, a), issue(ctx, key, b)
    assert code_a != code_b
    with ctx.db.session() as s:
        c = s.scalar(select(Coupon).where(Coupon.code == code_a))
        assert c is not None and c.contact_id == a and c.status == "issued"
        assert c.expires_at == NOW + timedelta(days=7)
        names = s.scalars(select(Event.event).where(Event.contact_id == a)).all()
        assert names == ["Coupon Issued"]
        assert [x.code for x in CouponService(s, now=NOW).held(a)] == [code_a]
        assert s.scalar(select(CouponTemplate.issued)) == 2


def test_issue_is_idempotent_by_external_id(ctx, contacts, template) -> None:
    key = template()
    [a] = contacts(1)
    first = issue(ctx, key, a, ext="journey:1:9:s1")
    again = issue(ctx, key, a, ext="journey:1:9:s1")
    assert first == again
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Coupon)) == 1
        many = CouponService(s, now=NOW).issue_many(key, [a, a], issued_by="journey:x", external_prefix="j:2")
        again_many = CouponService(s, now=NOW).issue_many(
            key, [a], issued_by="journey:x", external_prefix="j:2"
        )
        assert many[a] is not None and again_many[a] is not None and many[a].code == again_many[a].code
        assert s.scalar(select(func.count()).select_from(Coupon)) == 2


def test_paused_or_missing_template_refuses_to_issue(ctx, contacts, template) -> None:
    key = template(status="paused")
    [a] = contacts(1)
    with ctx.db.session() as s:
        with pytest.raises(CouponError) as paused:
            CouponService(s, now=NOW).issue(key, a, issued_by="manual")
        assert paused.value.code == "template_paused"
        with pytest.raises(CouponError) as missing:
            CouponService(s, now=NOW).issue("nope", a, issued_by="manual")
        assert missing.value.code == "template_not_found"


def test_issue_limit_stops_issuing(ctx, contacts, template) -> None:
    key = template(issue_limit=3)
    people = contacts(5)
    with ctx.db.session() as s:
        got = CouponService(s, now=NOW).issue_many(key, people, issued_by="m", external_prefix="batch")
        assert sorted(got) == people[:3]
        with pytest.raises(CouponError) as full:
            CouponService(s, now=NOW).issue(key, people[4], issued_by="m")
        assert full.value.code == "issue_limit"


def test_holdout_is_deterministic_and_recorded(ctx, contacts, template) -> None:
    key = template(holdout_percent=50)
    people = contacts(60)
    with ctx.db.session() as s:
        got = CouponService(s, now=NOW).issue_many(key, people, issued_by="m", external_prefix="b")
        again = CouponService(s, now=NOW).issue_many(key, people, issued_by="m", external_prefix="b")
    held = {c for c, v in got.items() if v is None}
    assert held == {c for c, v in again.items() if v is None}
    assert 10 < len(held) < 50  # 50 % of 60, by hash
    with ctx.db.session() as s:
        assert set(s.scalars(select(CouponHoldout.contact_id))) == held
        assert s.scalar(select(func.count()).select_from(Coupon)) == 60 - len(held)


def test_issue_hands_out_imported_codes_first(ctx, contacts, template) -> None:
    from siyu.coupons.codes import import_codes

    key = template()
    [a, b] = contacts(2)
    with ctx.db.session() as s:
        t = s.scalar(select(CouponTemplate))
        assert import_codes(s, t, "code\nyz-0001\n").added == 1
    assert issue(ctx, key, a) == "YZ-0001"
    assert issue(ctx, key, b) != "YZ-0001"


@pytest.mark.parametrize(
    ("fields", "amount", "shipping", "expected"),
    [
        ({"kind": "fixed", "amount": "20"}, "100", None, "20.00"),
        ({"kind": "fixed", "amount": "20"}, "15", None, "15.00"),  # never more than the order
        ({"kind": "percent", "amount": "15"}, "99.99", None, "15.00"),  # 14.9985 → 15.00
        ({"kind": "percent", "amount": "15", "max_discount": "10"}, "100", None, "10.00"),
        ({"kind": "threshold", "amount": "30", "min_order": "200"}, "200", None, "30.00"),
        ({"kind": "free_shipping", "max_discount": "12"}, "50", "18", "12.00"),
        ({"kind": "free_shipping"}, "50", "8", "8.00"),
    ],
)
def test_discount_of_each_kind(ctx, contacts, template, fields, amount, shipping, expected) -> None:
    key = template(**fields)
    [a] = contacts(1)
    code = issue(ctx, key, a)
    o = order(amount=amount, contact_id=a, shipping=Decimal(shipping) if shipping else None)
    assert redeem(ctx, code, o) == (True, None, Decimal(expected))


def test_each_rule_says_which_failed(ctx, contacts, template) -> None:
    [a, b] = contacts(2)
    t = NOW + timedelta(days=1)
    template("min", min_order="100")
    template("chan", channels=["mini_program"])
    template("prod", products=["sku-1", "sku-2"])
    template(
        "later", valid_from=t.isoformat(), valid_until=(t + timedelta(days=3)).isoformat(), valid_days=None
    )
    cases = [
        ("min", order(amount="99.99", contact_id=a), "min_order"),
        ("chan", order(contact_id=a), "channel"),
        ("prod", order(contact_id=a, product_ids=["sku-3"]), "products"),
        ("later", order(contact_id=a), "not_yet_valid"),
    ]
    for key, o, reason in cases:
        code = issue(ctx, key, a)
        assert redeem(ctx, code, o) == (False, reason, None)
    assert redeem(ctx, issue(ctx, "chan", a), order("x", contact_id=a, channel="mini_program"))[0]
    assert redeem(ctx, issue(ctx, "prod", a), order("y", contact_id=a, product_ids=["sku-2"]))[0]
    assert redeem(ctx, "NOSUCHCODE", order(contact_id=a)) == (False, "not_found", None)
    mine = issue(ctx, "min", a)
    assert redeem(ctx, mine, order("z", amount="100", contact_id=b)) == (False, "not_yours", None)
    assert redeem(ctx, mine, order("z", amount="100", contact_id=a, at=NOW + timedelta(days=31))) == (
        False,
        "expired",
        None,
    )
    with ctx.db.session() as s:
        failed = s.scalars(select(CouponRedemption.reason).where(CouponRedemption.status == "failed")).all()
    assert sorted(failed) == sorted(
        ["min_order", "channel", "products", "not_yet_valid", "not_found", "not_yours", "expired"]
    )


def test_paused_template_refuses_redemption(ctx, contacts, template) -> None:
    key = template()
    [a] = contacts(1)
    code = issue(ctx, key, a)
    with ctx.db.session() as s:
        CouponService(s, now=NOW).templates.set_status(key, "paused")
    assert redeem(ctx, code, order(contact_id=a)) == (False, "paused", None)


def test_redeem_is_idempotent_by_order_and_single_use(ctx, contacts, template) -> None:
    key = template()
    [a] = contacts(1)
    code = issue(ctx, key, a)
    assert redeem(ctx, code, order("o1", contact_id=a)) == (True, None, Decimal("20.00"))
    assert redeem(ctx, code.lower(), order("o1", contact_id=a)) == (True, None, Decimal("20.00"))
    assert redeem(ctx, code, order("o2", contact_id=a)) == (False, "already_redeemed", None)
    with ctx.db.session() as s:
        rows = s.execute(select(CouponRedemption.status, CouponRedemption.reason)).all()
        assert sorted(rows, key=str) == sorted([("succeeded", None), ("failed", "already_redeemed")], key=str)
        assert s.scalar(select(CouponTemplate.spent)) == Decimal("20.00")
        assert [e for e in s.scalars(select(Event.event)) if e == "Coupon Redeemed"] == ["Coupon Redeemed"]


def test_validate_changes_nothing(ctx, contacts, template) -> None:
    key = template(kind="percent", amount="10")
    [a] = contacts(1)
    code = issue(ctx, key, a)
    with ctx.db.session() as s:
        r = CouponService(s, now=NOW).validate(code, order(amount="250", contact_id=a))
        assert (r.ok, r.discount) == (True, Decimal("25.00"))
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(CouponRedemption)) == 0
        assert s.scalar(select(Coupon.status)) == "issued"


def test_per_customer_limit(ctx, contacts, template) -> None:
    key = template(per_customer=1)
    [a] = contacts(1)
    first, second = issue(ctx, key, a), issue(ctx, key, a)
    assert redeem(ctx, first, order("o1", contact_id=a))[0]
    assert redeem(ctx, second, order("o2", contact_id=a)) == (False, "per_customer", None)


def test_budget_is_never_exceeded(ctx, contacts, template) -> None:
    key = template(budget="50")
    [a, b, c] = contacts(3)
    codes = [issue(ctx, key, x) for x in (a, b, c)]
    assert redeem(ctx, codes[0], order("o1", contact_id=a))[0]
    assert redeem(ctx, codes[1], order("o2", contact_id=b))[0]
    assert redeem(ctx, codes[2], order("o3", contact_id=c)) == (False, "budget", None)
    # a smaller order fits what is left
    assert redeem(ctx, codes[2], order("o4", amount="10", contact_id=c)) == (True, None, Decimal("10.00"))
    with ctx.db.session() as s:
        assert s.scalar(select(CouponTemplate.spent)) == Decimal("50.00")


@pytest.mark.parametrize(("rule", "expected"), [("restore", "issued"), ("void", "voided")])
def test_full_refund_applies_the_rule(ctx, contacts, template, rule, expected) -> None:
    key = template(refund_rule=rule, budget="100")
    [a] = contacts(1)
    code = issue(ctx, key, a)
    assert redeem(ctx, code, order("o1", contact_id=a))[0]
    with ctx.db.session() as s:
        CouponService(s, now=NOW).on_refund("youzan", "o1", full=False)
    with ctx.db.session() as s:
        assert s.scalar(select(Coupon.status)) == "redeemed"
        CouponService(s, now=NOW).on_refund("youzan", "o1", full=True)
        CouponService(s, now=NOW).on_refund("youzan", "o1", full=True)  # a repeat changes nothing
    with ctx.db.session() as s:
        assert s.scalar(select(Coupon.status)) == expected
        assert s.scalar(select(CouponRedemption.status)) == "rolled_back"
        assert s.scalar(select(CouponTemplate.spent)) == Decimal("0.00")
    again = redeem(ctx, code, order("o2", contact_id=a))
    assert again == ((True, None, Decimal("20.00")) if rule == "restore" else (False, "voided", None))


def test_refund_after_expiry_restores_to_expired(ctx, contacts, template) -> None:
    key = template(valid_days=1)
    [a] = contacts(1)
    code = issue(ctx, key, a)
    assert redeem(ctx, code, order("o1", contact_id=a))[0]
    with ctx.db.session() as s:
        CouponService(s, now=NOW + timedelta(days=2)).on_refund("youzan", "o1", full=True)
    with ctx.db.session() as s:
        assert s.scalar(select(Coupon.status)) == "expired"


def test_expiry_job_marks_expired_and_held_drops_them(ctx, contacts, template) -> None:
    key = template(valid_days=3)
    [a] = contacts(1)
    issue(ctx, key, a)
    later = NOW + timedelta(days=3, seconds=1)
    with ctx.db.session() as s:
        assert len(CouponService(s, now=NOW).held(a)) == 1
        assert CouponService(s, now=later).held(a) == []
        assert CouponService(s, now=NOW).expire() == 0
        assert CouponService(s, now=later).expire() == 1
        assert s.scalar(select(Coupon.status)) == "expired"


@pytest.mark.parametrize("amount", ["-1", "1e20", "NaN"])
def test_bad_order_amounts_are_refused(ctx, contacts, template, amount) -> None:
    key = template()
    [a] = contacts(1)
    code = issue(ctx, key, a)
    with ctx.db.session() as s, pytest.raises(CouponError) as bad:
        CouponService(s, now=NOW).redeem(code, order(amount=amount, contact_id=a))
    assert bad.value.code == "invalid_order"


def test_a_huge_unicode_code_is_recorded_as_not_found(ctx, contacts) -> None:
    [a] = contacts(1)
    assert redeem(ctx, "券" * 500, order(contact_id=a, device="d" * 500)) == (False, "not_found", None)
