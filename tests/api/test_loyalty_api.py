"""`/api/v1/loyalty/…` over real HTTP: enrol, award / spend (idempotent, 409 when too few),
balance, ledger, card, members, programme and tiers (422 naming the field), verify, jobs."""

from __future__ import annotations

from typing import Any

import httpx

PHONE = "13800138000"


def test_members_points_and_settings(server: Any, http: httpx.Client) -> None:
    with server.client.ctx.db.session() as s:
        server.client.ctx.profiles(s).identify([server.client.ctx.parser.parse("phone", PHONE)])

    bad = http.patch("/api/v1/loyalty/programme", json={"pending_days": "seven"})
    assert bad.status_code == 422 and "pending_days" in bad.text
    assert http.patch("/api/v1/loyalty/programme", json={"signup_points": 5}).json()["signup_points"] == 5
    assert http.post("/api/v1/loyalty/tiers", json={"key": "base", "name": "普通"}).status_code == 201
    gold = http.post("/api/v1/loyalty/tiers", json={"key": "gold", "name": "金卡", "threshold": "100"})
    assert gold.status_code == 201
    low = http.patch("/api/v1/loyalty/tiers/gold", json={"threshold": "-1"})
    assert low.status_code == 422 and "threshold" in low.text
    assert http.patch("/api/v1/loyalty/tiers/nope", json={"name": "x"}).status_code == 404

    card = http.post("/api/v1/loyalty/members", json={"contact": PHONE, "source": "store"})
    assert card.status_code == 201, card.text
    assert card.json()["member"]["tier"]["key"] == "base"
    refused = http.post("/api/v1/loyalty/members", json={"contact": "13900139000"})
    assert refused.status_code == 404

    body = {"points": 200, "reason": "活动", "external_id": "camp-1"}
    first = http.post(f"/api/v1/loyalty/members/{PHONE}/award", json=body).json()
    again = http.post(f"/api/v1/loyalty/members/{PHONE}/award", json=body).json()
    assert first["entry"]["id"] == again["entry"]["id"]
    bal = http.get(f"/api/v1/loyalty/members/{PHONE}/balance").json()
    assert (bal["active"], bal["tier"]) == (205, "gold")
    too_much = http.post(f"/api/v1/loyalty/members/{PHONE}/spend", json={"points": 1000})
    assert too_much.status_code == 409 and "available" in too_much.text
    assert http.post(f"/api/v1/loyalty/members/{PHONE}/spend", json={"points": 5}).status_code == 200
    rows = http.get(f"/api/v1/loyalty/members/{PHONE}/ledger").json()
    assert [r["kind"] for r in rows] == ["spend", "award", "award"]
    listing = http.get("/api/v1/loyalty/members", params={"tier": "gold"}).json()
    assert listing["total"] == 1 and listing["members"][0]["active"] == 200
    assert http.get("/api/v1/loyalty/verify").json()["ok"] is True
    assert http.post("/api/v1/loyalty/jobs", json={}).json()["expire"] == 0
