"""REST: create (every bad field in ``errors``), activate, a code, the referrals, the job."""

from __future__ import annotations

import httpx
from tests.conftest import RunningServer
from tests.referrals.conftest import definition


def test_rest_campaign_code_and_referrals(server: RunningServer, api_key) -> None:
    headers = {"Authorization": f"Bearer {api_key('admin')}"}
    base = f"{server.url}/api/v1/referrals"
    with httpx.Client(headers=headers, timeout=30) as http:
        bad = http.post(f"{base}/campaigns", json={"key": "x", "kind": "group", "rewards": []})
        assert bad.status_code == 422
        assert {tuple(e["loc"]) for e in bad.json()["errors"]} == {
            ("body", "rewards"),
            ("body", "target", "chat_ids"),
        }
        made = http.post(
            f"{base}/campaigns", json=definition("spring", starts_at=None) | {"status": "active"}
        )
        assert made.status_code == 201 and made.json()["status"] == "active"
        server.client.identify({"customer_no": "A"})
        code = http.post(f"{base}/campaigns/spring/codes", json={"contact": "customer_no:A"}).json()
        assert set(code) >= {"code", "state", "url"}
        server.client.track("Page Viewed", {"customer_no": "B"}, {"referral_code": code["code"]})
        rows = http.get(f"{base}/campaigns/spring/referrals").json()
        assert [(r["status"], r["reasons"]) for r in rows] == [("pending", [])]
        assert http.post(f"{base}/campaigns/spring/pause").json()["status"] == "paused"
        assert http.post(f"{base}/run", json={}).json()["approve"] == 0
        assert http.get(f"{base}/campaigns/nope").status_code == 404
        assert http.get(f"{base}/campaigns/spring").json()["counts"]["pending"] == 1
