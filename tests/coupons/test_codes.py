"""Code generation (unique, unambiguous, fast) and CSV import (errors by row, valid rows kept)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from siyu.context import AppContext
from siyu.coupons.codes import ALPHABET, generate, import_codes
from siyu.coupons.errors import CouponError
from siyu.store.models.coupons import Coupon, CouponTemplate


def _template(ctx: AppContext, template, key: str = "bulk", prefix: str = "") -> CouponTemplate:
    template(key, code_prefix=prefix)
    with ctx.db.session() as s:
        t = s.scalar(select(CouponTemplate).where(CouponTemplate.key == key))
        assert t is not None
        s.expunge(t)
        return t


def test_generated_codes_are_unique_unambiguous_and_prefixed(ctx, template) -> None:
    t = _template(ctx, template, prefix="vip")
    with ctx.db.session() as s:
        codes = generate(s, t, 2_000)
    assert len(codes) == len(set(codes)) == 2_000
    for code in codes:
        assert code.startswith("VIP") and len(code) == 13
        assert set(code[3:]) <= set(ALPHABET) and not set(code[3:]) & set("01OI")
    with ctx.db.session() as s:
        assert s.scalar(select(func.count()).where(Coupon.status == "unassigned")) == 2_000


def test_generation_skips_taken_codes(ctx, template, monkeypatch) -> None:
    """A collision (forced: the generator repeats itself) is skipped and replaced."""
    import siyu.coupons.codes as codes_mod

    t = _template(ctx, template)
    with ctx.db.session() as s:
        first = generate(s, t, 5)
    seq = iter(first + ["NEWCODE0001", "NEWCODE0002"] + [f"FILL{i:07d}" for i in range(10)])
    monkeypatch.setattr(codes_mod, "random_code", lambda prefix="", length=10: next(seq))
    with ctx.db.session() as s:
        again = generate(s, t, 5)
    assert len(set(again)) == 5 and not set(again) & set(first)


def test_hundred_thousand_codes(ctx, template) -> None:
    t = _template(ctx, template)
    started = time.perf_counter()
    with ctx.db.session() as s:
        codes = generate(s, t, 100_000)
    assert len(set(codes)) == 100_000
    print(f"100k codes in {time.perf_counter() - started:.1f}s")


@pytest.mark.parametrize(("count", "length"), [(0, 10), (1_000_001, 10), (10, 3), (10, 40)])
def test_generation_refuses_bad_counts(ctx, template, count, length) -> None:
    t = _template(ctx, template)
    with ctx.db.session() as s, pytest.raises(CouponError):
        generate(s, t, count, length=length)


def test_import_reports_each_bad_row_and_keeps_the_rest(ctx, template) -> None:
    t = _template(ctx, template)
    with ctx.db.session() as s:
        generate(s, t, 1)
        taken = s.scalar(select(Coupon.code))
    text = (
        "\ufeffname,code\na,yz-001\nb,YZ-001\nc,bad code!\nd,\ne,券码\nf,ok_2\ng," + str(taken).lower() + "\n"
    )
    with ctx.db.session() as s:
        report = import_codes(s, t, text)
    assert report.added == 2
    assert [(e["row"], e["reason"]) for e in report.errors] == [
        (3, "duplicate"),
        (4, "invalid"),
        (5, "missing"),
        (6, "invalid"),
        (8, "taken"),
    ]
    with ctx.db.session() as s:
        assert set(s.scalars(select(Coupon.code).where(Coupon.code != taken))) == {"YZ-001", "OK_2"}
