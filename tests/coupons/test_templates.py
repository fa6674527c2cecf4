"""Template fields are checked one by one, and a refusal names the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.context import AppContext
from siyu.coupons.errors import CouponConflict, CouponError, CouponNotFound
from siyu.coupons.templates import TemplateService, template_json

BASE = {"key": "k1", "name": "满减券", "kind": "fixed", "amount": "10", "valid_days": 30}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"key": "Bad Key"}, "key"),
        ({"name": ""}, "name"),
        ({"kind": "cashback"}, "kind"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "1e30"}, "amount"),
        ({"kind": "percent", "amount": "100"}, "amount"),
        ({"kind": "threshold", "amount": "30", "min_order": "30"}, "min_order"),
        ({"valid_days": None}, "valid_until"),
        ({"valid_days": 0}, "valid_days"),
        (
            {"valid_from": "2026-06-02T00:00:00+08:00", "valid_until": "2026-06-01T00:00:00+08:00"},
            "valid_until",
        ),
        ({"valid_until": "2026-06-01T00:00:00"}, "valid_until"),
        ({"holdout_percent": 95}, "holdout_percent"),
        ({"per_customer": 0}, "per_customer"),
        ({"budget": "-1"}, "budget"),
        ({"refund_rule": "keep"}, "refund_rule"),
        ({"code_prefix": "优惠"}, "code_prefix"),
        ({"status": "gone"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_each_bad_field_is_named(ctx: AppContext, change, field) -> None:
    with ctx.db.session() as s, pytest.raises(CouponError) as bad:
        TemplateService(s).create({**BASE, **change})
    assert bad.value.field == field, bad.value
    assert bad.value.code == "invalid_template"


def test_create_update_and_conflicts(ctx: AppContext) -> None:
    with ctx.db.session() as s:
        svc = TemplateService(s)
        t = svc.create(
            {**BASE, "channels": ["youzan", " youzan ", ""], "per_customer": 2, "code_prefix": "ab"}
        )
        assert t.rules == {"channels": ["youzan"], "per_customer": 2}
        assert t.code_prefix == "AB"
        with pytest.raises(CouponConflict):
            svc.create(BASE)
        svc.update("k1", {"kind": "percent", "amount": "12.5", "max_discount": "30", "channels": []})
        assert t.kind == "percent" and t.rules == {"per_customer": 2}
        with pytest.raises(CouponError) as bad:
            svc.update("k1", {"amount": "120"})
        assert bad.value.field == "amount"
        assert svc.set_status("k1", "paused").status == "paused"
        with pytest.raises(CouponNotFound):
            svc.update("nope", {})
        until = datetime(2026, 12, 31, 16, tzinfo=UTC)
        svc.update("k1", {"valid_until": until, "valid_days": None})
        view = template_json(t)
        assert view["valid_until"] == until.isoformat() and view["amount"] == "12.50"
        assert [x.key for x in svc.list(status="paused")] == ["k1"]
