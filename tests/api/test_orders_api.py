"""Orders and subscriptions over HTTP: the Segment batch endpoint books orders, the orders API
answers per index, refunds, lookups and subscription changes answer with the right status."""

from __future__ import annotations

from typing import Any

import httpx

from tests.commerce.conftest import order_call, refund_call


def test_segment_batch_books_orders(server: Any, http: httpx.Client, write_key: str) -> None:
    calls = [
        order_call("H1", 120, source="mini_program"),
        order_call("H2", "x"),
        refund_call("H1", amount=20, source="mini_program", refund_id="r"),
    ]
    resp = httpx.post(f"{server.url}/v1/batch", json={"batch": calls}, auth=(write_key, ""))
    assert resp.status_code == 200, resp.text
    order = http.get("/api/v1/orders/mini_program/H1").json()
    assert (order["total"], order["refunded"], order["status"]) == ("120.00", "20.00", "partially_refunded")
    problems = http.get("/api/v1/orders/problems").json()["problems"]
    assert [(p["order_id"], p["field"]) for p in problems] == [("H2", "total")]


def test_orders_endpoint_refunds_and_listing(http: httpx.Client) -> None:
    body = {
        "orders": [
            {
                "identifiers": {"phone": "13800138000"},
                "order_id": "W1",
                "total": 88,
                "source": "store",
                "staff": "li",
            },
            {"identifiers": {"phone": "13800138000"}, "order_id": "W2", "total": -1},
            {"identifiers": {"phone": "13800138000"}, "order_id": "W3", "total": 12, "source": "store"},
        ]
    }
    resp = http.post("/api/v1/orders", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "booked": 2,
        "duplicates": 0,
        "problems": [{"index": 1, "field": "total", "message": "must not be negative (-1)"}],
    }
    assert http.post("/api/v1/orders", json=body).json()["duplicates"] == 2
    listed = http.get("/api/v1/orders", params={"source": "store", "staff": "li"}).json()
    assert (listed["total"], [o["order_id"] for o in listed["orders"]]) == (1, ["W1"])
    resp = http.post("/api/v1/orders/store/W1/refunds", json={"amount": "100", "refund_id": "a"})
    assert resp.status_code == 422 and "left" in resp.text
    resp = http.post("/api/v1/orders/store/W1/refunds", json={"amount": "8", "refund_id": "a"})
    assert resp.status_code == 200 and resp.json()["order"]["net"] == "80.00"
    assert (
        http.post("/api/v1/orders/store/W1/refunds", json={"amount": "8", "refund_id": "a"}).json()[
            "refunded"
        ]
        is False
    )
    assert http.post("/api/v1/orders/store/NOPE/refunds", json={}).status_code == 404
    assert http.get("/api/v1/orders/store/NOPE").status_code == 404
    summary = http.get("/api/v1/contacts/13800138000/orders").json()
    assert (summary["spend"], summary["orders"], summary["aov"]) == ("92.00", 2, "46.00")
    report = http.get("/api/v1/orders/report", params={"since": "2026-01-01", "until": "2026-12-31"})
    assert report.status_code == 200 and report.json()["total"]["gmv"] == "100.00"
    assert (
        http.get("/api/v1/orders/report", params={"since": "2026-02-01", "until": "2026-01-01"}).status_code
        == 422
    )


def test_subscriptions_endpoints(http: httpx.Client) -> None:
    http.post(
        "/api/v1/orders",
        json={"orders": [{"identifiers": {"phone": "13800138000"}, "order_id": "z", "total": 1}]},
    )
    plan = {"key": "tea", "name": "月度茶包", "price": "99", "interval_days": 30}
    assert http.post("/api/v1/subscriptions/plans", json=plan).status_code == 201
    assert http.post("/api/v1/subscriptions/plans", json=plan).status_code == 409
    assert (
        http.post("/api/v1/subscriptions/plans", json={**plan, "key": "t2", "price": "-3"}).status_code == 422
    )
    resp = http.post(
        "/api/v1/subscriptions", json={"contact": "13800138000", "plan": "tea", "external_id": "e1"}
    )
    assert resp.status_code == 201, resp.text
    sid = resp.json()["id"]
    assert http.post("/api/v1/subscriptions/renew").json()["renewed"] == 1
    assert http.post(f"/api/v1/subscriptions/{sid}/pause").json()["status"] == "paused"
    assert http.post(f"/api/v1/subscriptions/{sid}/pause").status_code == 409
    assert http.post(f"/api/v1/subscriptions/{sid}/resume").json()["status"] == "active"
    assert http.post(f"/api/v1/subscriptions/{sid}/failures", json={"reason": "card"}).json()["failures"] == 1
    assert (
        http.post(f"/api/v1/subscriptions/{sid}/cancel", json={"reason": "太贵"}).json()["status"]
        == "cancelled"
    )
    assert http.get("/api/v1/subscriptions/999999").status_code == 404
    assert [s["id"] for s in http.get("/api/v1/subscriptions", params={"status": "cancelled"}).json()] == [
        sid
    ]
    plans = http.get("/api/v1/subscriptions/plans").json()
    assert plans[0]["subscriptions"]["cancelled"] == 1
    assert http.patch("/api/v1/subscriptions/plans/tea", json={"active": False}).json()["active"] is False
