"""The coupon funnel (issued → redeemed, GMV, incremental GMV against the holdout) and the abuse
report (shared devices, bursts, code guessing, redeemed-then-refunded)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from tests.coupons.conftest import NOW

from siyu.coupons.abuse import Thresholds, report
from siyu.coupons.funnel import funnel
from siyu.coupons.service import CouponService, OrderContext
from siyu.store.models import Event
from siyu.store.models.commerce import Order


def _order(s, contact: int, no: str, total: str, days: float = 1, refunded: str = "0") -> None:
    s.add(
        Order(
            contact_id=contact,
            source="youzan",
            order_no=no,
            total=Decimal(total),
            refunded=Decimal(refunded),
            ordered_at=NOW + timedelta(days=days),
        )
    )


def test_funnel_counts_and_incremental_gmv(ctx, contacts, template) -> None:
    template("f", holdout_percent=50, valid_days=30)
    people = contacts(20)
    with ctx.db.session() as s:
        got = CouponService(s, now=NOW).issue_many("f", people, issued_by="m", external_prefix="x")
    given = [c for c, v in got.items() if v is not None]
    held = [c for c, v in got.items() if v is None]
    assert given and held
    with ctx.db.session() as s:
        svc = CouponService(s, now=NOW + timedelta(days=1))
        for i, cid in enumerate(given[:3]):  # three redeem on ¥100 orders
            _order(s, cid, f"r{i}", "100")
            r = svc.redeem(got[cid].code, OrderContext("youzan", f"r{i}", Decimal(100), contact_id=cid))
            assert r.ok
        _order(s, given[3], "plain", "50", refunded="10")  # an order without the coupon counts as GMV
        _order(s, held[0], "h0", "60")
        _order(s, held[0], "late", "999", days=40)  # after the window: not counted
    with ctx.db.session() as s:
        f = funnel(s, "f", now=NOW + timedelta(days=60))
    assert (f.issued, f.redeemed) == (len(given), 3)
    assert f.redemption_rate == round(3 / len(given), 4)
    assert f.discount == Decimal("60.00") and f.gmv == Decimal("300.00")
    assert (f.issued_contacts, f.holdout_contacts) == (len(given), len(held))
    per_issued = (Decimal(340) / len(given)).quantize(Decimal("0.01"))
    per_held = (Decimal(60) / len(held)).quantize(Decimal("0.01"))
    assert (f.gmv_per_issued, f.gmv_per_holdout) == (per_issued, per_held)
    assert f.incremental_gmv == ((per_issued - per_held) * len(given)).quantize(Decimal("0.01"))
    assert f.window_end == NOW + timedelta(days=30)  # the last coupon's expiry
    assert f.as_json()["gmv"] == "300.00"


def test_abuse_report_flags_each_pattern(ctx, contacts, template) -> None:
    template("a", valid_days=30)
    people = contacts(16)
    farmers, normal, burster, refunder = people[:3], people[3], people[4:15], people[15]
    with ctx.db.session() as s:
        svc = CouponService(s, now=NOW)
        codes = {c: svc.issue("a", c, issued_by="m").code for c in people}
        codes[refunder + 10_000] = svc.issue("a", refunder, issued_by="m").code
        codes[refunder + 20_000] = svc.issue("a", refunder, issued_by="m").code
        for i, cid in enumerate(farmers):  # one phone farm: three accounts, one device
            svc.redeem(
                codes[cid], OrderContext("youzan", f"f{i}", Decimal(50), contact_id=cid, device="dev-farm")
            )
        svc.redeem(
            codes[normal], OrderContext("youzan", "n", Decimal(50), contact_id=normal, device="dev-own")
        )
        for i, cid in enumerate(burster):  # ten redemptions within minutes on one device
            at = NOW + timedelta(minutes=i)
            svc.redeem(
                codes[cid],
                OrderContext("youzan", f"b{i}", Decimal(50), contact_id=cid, device="dev-bot", at=at),
            )
        for i in range(10):
            svc.redeem(f"GUESS{i:04d}", OrderContext("youzan", f"g{i}", Decimal(50), device="dev-guess"))
        for i, key in enumerate((refunder + 10_000, refunder + 20_000)):
            svc.redeem(codes[key], OrderContext("youzan", f"rf{i}", Decimal(50), contact_id=refunder))
            svc.on_refund("youzan", f"rf{i}", full=True)
        # the device id seen on a normal contact's app events joins the farm
        s.add(
            Event(
                message_id="e1",
                contact_id=normal,
                type="track",
                event="App Opened",
                context={"device": {"id": "dev-farm"}},
                timestamp=NOW,
                received_at=NOW,
            )
        )
    with ctx.db.session() as s:
        flags = report(s, now=NOW + timedelta(days=1), limits=Thresholds(template_burst=17))
    found = {(f.reason, f.subject): f for f in flags}
    assert found[("shared_device", "dev-farm")].contacts == sorted([*farmers, normal])
    assert ("shared_device", "dev-own") not in found
    assert found[("device_burst", "dev-bot")].count == 11
    assert found[("shared_device", "dev-bot")].count == 11
    assert found[("guessing", "dev-guess")].count == 10
    assert found[("refunded", str(refunder))].count == 2
    assert found[("template_burst", "a")].count == 17  # every successful redemption within the hour
