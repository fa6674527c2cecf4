"""The background round of ``siyu serve`` expires coupons past their end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from siyu.background import run_layers
from siyu.context import AppContext
from siyu.coupons.service import CouponService
from siyu.store.models.coupons import Coupon
from siyu.warehouse.store import Warehouse


def test_the_round_expires_coupons(ctx: AppContext, contacts, template) -> None:
    template("short", valid_days=1)
    template("long", valid_days=3650)
    [a] = contacts(1)
    long_ago = datetime.now(UTC) - timedelta(days=3)
    with ctx.db.session() as s:
        CouponService(s, now=long_ago).issue("short", a, issued_by="m")
        CouponService(s, now=long_ago).issue("long", a, issued_by="m")
    with Warehouse(ctx.settings.resolved_warehouse_path) as wh:
        wh.feed(ctx.db)
        run_layers(wh, ctx.db, 1000)
    with ctx.db.session() as s:
        assert sorted(s.scalars(select(Coupon.status))) == ["expired", "issued"]
