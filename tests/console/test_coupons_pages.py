"""Console pages for coupons: campaigns with their value and rules in words, the create/edit form
(a refusal names the field), pause/end, codes generated and uploaded, the funnel, abuse signals
and the coupons on a contact's profile; in zh with no untranslated text."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from playwright.sync_api import Browser
from tests.console.test_browser import PASSWORD, sign_in
from tests.console.zh_checker import untranslated

from siyu.coupons.service import CouponService, OrderContext

FORM = {
    "key": "summer",
    "name": "夏季满减",
    "kind": "threshold",
    "amount": "30",
    "min_order": "199",
    "validity": "dates",
    "valid_from": "2026-06-01",
    "valid_until": "2099-06-30",
    "per_customer": "1",
    "budget": "5000",
    "holdout_percent": "10",
    "refund_rule": "void",
}


def _seed(server: Any) -> int:
    c = server.client
    c.identify({"customer_no": "C1"}, {}, message_id="id-1")
    cid = int(c.contact("customer_no:C1")["id"])
    c.coupons.create_template(key="new", name="新人立减", kind="fixed", amount="20", valid_days=30)
    with c.ctx.db.session() as s:
        coupon = CouponService(s).issue("new", cid, issued_by="manual")
        assert coupon is not None
        CouponService(s).redeem(
            coupon.code, OrderContext("youzan", "A1", Decimal(100), contact_id=cid, device="d1")
        )
        CouponService(s).redeem("NOPE1234", OrderContext("youzan", "A2", Decimal(100), contact_id=cid))
    return cid


def test_create_edit_codes_and_results(server: Any, console_as: Any) -> None:
    cid = _seed(server)
    op = console_as("operator")
    made = op.post_form("/console/coupons", FORM)
    assert made.status_code == 200 and "/console/coupons/summer" in str(made.url), made.text[:300]
    assert "¥30.00 off orders of ¥199.00 or more" in made.text
    assert "1 per customer" in made.text and "Void the coupon" in made.text
    assert 'value="2099-06-30"' in made.text  # the end date shown as entered (inclusive)
    bad = op.post_form("/console/coupons", {**FORM, "key": "x2", "amount": "300"})
    assert bad.status_code == 422 and "min_order" in bad.text
    taken = op.post_form("/console/coupons", FORM)
    assert taken.status_code == 409
    edited = op.post_form("/console/coupons/summer", {**FORM, "name": "夏季满减 2", "per_customer": ""})
    assert edited.status_code == 200 and "夏季满减 2" in edited.text and "1 per customer" not in edited.text
    generated = op.post_form("/console/coupons/summer/codes", {"count": "5"})
    assert "Generated 5 codes" in generated.text and "5 codes waiting" in generated.text
    csv = op.get("/console/coupons/summer/codes.csv")
    assert csv.status_code == 200 and len(csv.text.split()) == 6
    upload = op.post(
        "/console/coupons/summer/codes/import",
        data={"csrf_token": op.csrf},
        files={"file": ("codes.csv", b"code\nYZ-0001\nyz-0001\n??\n", "text/csv")},
    )
    assert upload.status_code == 200 and "Imported 1 codes" in upload.text
    assert 'data-row="3"' in upload.text and "repeats row 2" in upload.text and 'data-row="4"' in upload.text
    paused = op.post_form("/console/coupons/summer/status", {"status": "paused"})
    assert 'id="campaign-status">Paused' in paused.text
    new = op.get("/console/coupons/new")
    assert 'data-issued="1"' in new.text and 'data-redeemed="1"' in new.text
    assert 'data-reason="not_found"' not in new.text  # an unknown code belongs to no campaign
    profile = op.get(f"/console/contacts/{cid}")
    assert 'id="contact-coupons"' in profile.text and "新人立减" in profile.text and "Used" in profile.text
    listing = op.get("/console/coupons")
    assert 'data-key="summer" data-status="paused"' in listing.text


def test_viewers_read_but_cannot_change(server: Any, console_as: Any) -> None:
    _seed(server)
    viewer = console_as("viewer")
    page = viewer.get("/console/coupons")
    assert page.status_code == 200 and 'id="new-campaign"' not in page.text
    assert viewer.get("/console/coupons/new").status_code == 200
    assert viewer.post_form("/console/coupons", FORM).status_code == 403
    assert viewer.get("/console/coupons/new/codes.csv").status_code == 403
    assert viewer.get("/console/coupons/none").status_code == 404


def test_coupon_pages_read_in_chinese(server: Any, browser: Browser) -> None:
    cid = _seed(server)
    c = server.client
    fields = {k: v for k, v in FORM.items() if k not in ("validity", "valid_from", "valid_until")}
    c.coupons.create_template(**fields, valid_days=7)
    others = []
    for i in range(4):  # four more accounts on one device: a shared-device flag
        c.identify({"customer_no": f"F{i}"}, {}, message_id=f"f-{i}")
        others.append(int(c.contact(f"customer_no:F{i}")["id"]))
    with c.ctx.db.session() as s:
        svc = CouponService(s)
        for i, other in enumerate(others):
            code = svc.issue("new", other, issued_by="m").code
            svc.redeem(code, OrderContext("youzan", f"F{i}", Decimal(50), contact_id=other, device="d1"))
    c.users.create("boss", PASSWORD, "owner", name="老板", language="zh", actor="test")
    context = browser.new_context(viewport={"width": 1366, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, server.url, "boss")
        for path in ("/console/coupons", "/console/coupons/new", "/console/coupons/summer",
                     "/console/coupons/abuse", f"/console/contacts/{cid}"):  # fmt: skip
            response = page.goto(server.url + path)
            assert response is not None and response.status == 200, path
            assert untranslated(page) == [], path
        assert "满 ¥199.00 减 ¥30.00" in page.goto(server.url + "/console/coupons").text()
        assert "同一设备 5 个账号" in page.goto(server.url + "/console/coupons/abuse").text()
    finally:
        context.close()
