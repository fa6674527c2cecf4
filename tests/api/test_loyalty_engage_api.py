"""`/api/v1/loyalty/checkins | tasks | badges | catalogue | redemptions | birthdays` over real
HTTP: idempotent check-ins and redemptions, 422 naming the field, 404 for unknown keys, 409
when points run short."""

from __future__ import annotations

from typing import Any

import httpx

PHONE = "13800138000"


def test_engagement_endpoints(server: Any, http: httpx.Client) -> None:
    with server.client.ctx.db.session() as s:
        server.client.ctx.profiles(s).identify([server.client.ctx.parser.parse("phone", PHONE)])
    assert http.post("/api/v1/loyalty/members", json={"contact": PHONE}).status_code == 201
    http.post(f"/api/v1/loyalty/members/{PHONE}/award", json={"points": 100, "reason": "seed"})

    bad = http.put("/api/v1/loyalty/checkins/settings", json={"points": -3})
    assert bad.status_code == 422 and "checkin.points" in bad.text
    ok = http.put("/api/v1/loyalty/checkins/settings", json={"points": 3, "milestones": {"7": 30}})
    assert ok.json() == {"points": 3, "milestones": {"7": 30}}
    assert http.get("/api/v1/loyalty/checkins/settings").json()["points"] == 3
    first = http.post("/api/v1/loyalty/checkins", json={"contact": PHONE}).json()
    again = http.post("/api/v1/loyalty/checkins", json={"contact": PHONE}).json()
    assert (first["new"], again["new"], again["balance"]) == (True, False, 103)
    assert len(http.get(f"/api/v1/loyalty/checkins/{PHONE}").json()) == 1
    stranger = http.post("/api/v1/loyalty/checkins", json={"contact": "13900139000"})
    assert stranger.status_code == 404

    task = {"key": "review", "name": "写评价", "condition": {"event": "Review Posted"}, "reward_points": 5}
    assert http.post("/api/v1/loyalty/tasks", json=task).status_code == 201
    bad_task = http.post(
        "/api/v1/loyalty/tasks", json={**task, "key": "x", "condition": {"event": "X", "count": 0}}
    )
    assert bad_task.status_code == 422 and "condition.count" in bad_task.text
    nocoupon = http.patch("/api/v1/loyalty/tasks/review", json={"reward_coupon": "nope"})
    assert nocoupon.status_code == 422 and "reward_coupon" in nocoupon.text
    assert http.patch("/api/v1/loyalty/tasks/nope", json={"name": "x"}).status_code == 404
    assert http.get("/api/v1/loyalty/tasks").json()[0]["completed"] == 0
    assert http.post("/api/v1/loyalty/tasks/run").status_code == 200
    assert http.get(f"/api/v1/loyalty/badges/{PHONE}").json() == []

    item = {"key": "mug", "name": "马克杯", "kind": "gift", "points": 60, "stock": 5}
    assert http.post("/api/v1/loyalty/catalogue", json=item).status_code == 201
    body = {"contact": PHONE, "item": "mug", "external_id": "r-1"}
    r1 = http.post("/api/v1/loyalty/redemptions", json=body).json()
    r2 = http.post("/api/v1/loyalty/redemptions", json=body).json()
    assert r1["id"] == r2["id"] and r1["balance"] == 43
    short = http.post("/api/v1/loyalty/redemptions", json={**body, "external_id": "r-2"})
    assert short.status_code == 409
    assert http.get("/api/v1/loyalty/catalogue").json()[0]["stock"] == 4
    assert http.patch("/api/v1/loyalty/catalogue/mug", json={"points": 0}).status_code == 422
    assert len(http.get("/api/v1/loyalty/redemptions", params={"contact": PHONE}).json()) == 1
    assert http.post("/api/v1/loyalty/birthdays/run").json()["gifted"] == 0
