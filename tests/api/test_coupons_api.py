"""`/api/v1/coupons/…`: campaigns, codes, issue, validate, redeem, held, funnel, abuse; errors say
which field is wrong and answer 404/409/422."""

from __future__ import annotations


def test_campaign_lifecycle_over_rest(server, http) -> None:
    server.client.identify({"customer_no": "C1"}, {}, message_id="id-1")
    body = {
        "key": "new",
        "name": "新人券",
        "kind": "percent",
        "amount": "12",
        "max_discount": "30",
        "valid_days": 14,
    }
    made = http.post("/api/v1/coupons/templates", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["max_discount"] == "30.00"
    assert http.post("/api/v1/coupons/templates", json=body).status_code == 409
    bad = http.post("/api/v1/coupons/templates", json={**body, "key": "b", "kind": "threshold"})
    assert bad.status_code == 422
    assert http.get("/api/v1/coupons/templates/none").status_code == 404
    patched = http.patch("/api/v1/coupons/templates/new", json={"amount": "150"})
    assert patched.status_code == 422 and "amount" in patched.text
    codes = http.post("/api/v1/coupons/templates/new/codes", json={"count": 3}).json()
    assert codes["count"] == 3
    imported = http.post(
        "/api/v1/coupons/templates/new/codes/import", json={"csv": "code\nQQ-1\nQQ-1\n"}
    ).json()
    assert imported["added"] == 1 and imported["errors"][0]["reason"] == "duplicate"
    issued = http.post("/api/v1/coupons/issue", json={"template": "new", "contact": "customer_no:C1"}).json()
    code = issued["coupon"]["code"]
    assert code in codes["codes"]  # the generated pool is handed out first
    order = {
        "code": code,
        "order_id": "W1",
        "source": "mini_program",
        "amount": "500",
        "contact": "customer_no:C1",
    }
    assert http.post("/api/v1/coupons/validate", json=order).json() == {
        "ok": True,
        "reason": None,
        "discount": "30.00",
        "code": code,
    }
    assert http.post("/api/v1/coupons/redeem", json=order).json()["ok"] is True
    second = http.post("/api/v1/coupons/redeem", json={**order, "order_id": "W2"}).json()
    assert second["reason"] == "already_redeemed"
    assert http.post("/api/v1/coupons/redeem", json={**order, "amount": "-1"}).status_code == 422
    assert http.get("/api/v1/coupons/held/customer_no:C1").json() == []
    assert http.get("/api/v1/coupons/held/customer_no:nobody").status_code == 404
    funnel = http.get("/api/v1/coupons/templates/new/funnel").json()
    assert (funnel["issued"], funnel["redeemed"], funnel["discount"]) == (1, 1, "30.00")
    assert http.get("/api/v1/coupons/abuse").json() == []
    assert http.post("/api/v1/coupons/expire").json() == {"expired": 0}
    assert http.patch("/api/v1/coupons/templates/new", json={"status": "paused"}).json()["status"] == "paused"
    assert [t["key"] for t in http.get("/api/v1/coupons/templates", params={"status": "paused"}).json()] == [
        "new"
    ]


def test_a_refused_template_is_worded_in_chinese_when_asked(server, http) -> None:
    body = {
        "key": "t1",
        "name": "券",
        "kind": "threshold",
        "amount": "30",
        "min_order": "20",
        "valid_days": 3,
    }
    zh = http.post("/api/v1/coupons/templates/none/funnel")  # a wrong method is not a coupon error
    assert zh.status_code == 405
    made = http.patch("/api/v1/coupons/templates/none", json={"amount": "1"})
    assert made.status_code == 404
    server.client.coupons.create_template(**{**body, "min_order": "200"})
    refused = http.patch(
        "/api/v1/coupons/templates/t1", json={"min_order": "20"}, headers={"Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 422
    assert refused.json()["path"] == "min_order" and "门槛" in refused.json()["detail"]
    english = http.patch("/api/v1/coupons/templates/t1", json={"min_order": "20"})
    assert english.json()["detail"].startswith("min_order:")
