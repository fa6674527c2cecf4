"""REST for the loyalty analyses: ``POST /api/v1/analytics/{kind}`` answers the Python API's
payload (the brand's zone filled in), ``?format=csv`` its main table, a bad parameter 422 naming
the field; ``GET /api/v1/analytics`` lists them as needing no warehouse."""

from __future__ import annotations

from typing import Any

import httpx
from tests.analytics.loyalty.test_coupons import campaign  # noqa: F401  (fixture)

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def test_coupons_over_rest(server: Any, http: httpx.Client, campaign: None) -> None:  # noqa: F811
    resp = http.post("/api/v1/analytics/coupons", json=MARCH)
    assert resp.status_code == 200, resp.text[:500]
    body = resp.json()
    assert body == server.client.analytics.run("coupons", MARCH).to_dict()
    assert body["timezone"] == "Asia/Shanghai"
    assert {r["template"]: r["roi"] for r in body["rows"]} == {"new50": 2.8, "vip20": None}
    csv = http.post("/api/v1/analytics/coupons?format=csv", json={**MARCH, "template": "vip20"})
    lines = csv.text.splitlines()
    assert csv.status_code == 200 and lines[0].startswith('"template","template_name","issued"')
    assert len(lines) == 2 and '"no_holdout"' in lines[1]
    bad = http.post("/api/v1/analytics/coupons", json={"template": "nope"})
    assert bad.status_code == 422 and bad.json()["path"] == "template"
    kinds = {k["kind"]: k for k in http.get("/api/v1/analytics").json()}
    for kind in ("member_repurchase", "points_liability", "tiers", "coupons"):
        assert kinds[kind]["needs_warehouse"] is False
    assert "table" in kinds["tiers"]["params"]["properties"]
