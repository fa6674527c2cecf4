"""PIPL rights over REST: who may do what, receipts, errors for bad input (never a 500), and
no identifier of an erased person in the audit trail the HTTP layer writes."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from tests.privacy.conftest import EMAIL, PHONE, PHONE_E164, SECRETS, build_person

from siyu.client import Siyu
from siyu.store.models import AuditEntry, WarehouseErasure


@pytest.fixture
def rest(server, api_key):  # type: ignore[no-untyped-def]
    person = build_person(server.client.ctx)

    def call(role: str) -> httpx.Client:
        return httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {api_key(role)}"}, timeout=60
        )

    return person, call


def test_only_owner_and_admin_copy_or_erase(rest) -> None:  # type: ignore[no-untyped-def]
    person, call = rest
    for role in ("operator", "analyst", "viewer"):
        with call(role) as c:
            assert c.post("/api/v1/privacy/export", json={"identifier": PHONE}).status_code == 403
            assert c.post("/api/v1/privacy/delete", json={"identifier": PHONE}).status_code == 403
            assert c.get("/api/v1/privacy/do-not-contact").status_code == 403
    with call("operator") as c:  # operators correct day-to-day mistakes
        r = c.post("/api/v1/privacy/correct", json={"identifier": PHONE, "traits": {"city": "苏州"}})
        assert r.status_code == 200, r.text
    with call("admin") as c:
        copy = c.post("/api/v1/privacy/export", json={"identifier": PHONE}).json()
        assert PHONE_E164 in {i["value"] for i in copy["identifiers"]}
        receipt = c.post("/api/v1/privacy/delete", json={"identifier": PHONE})
        assert receipt.status_code == 200, receipt.text
        body = receipt.json()
        assert body["counts"]["contacts"] == 2 and set(body) >= {"deletion_id", "at", "digest", "total"}
        assert body["warehouse"] == "pending"  # the server's feeder rewrites the warehouse
        assert [d["deletion_id"] for d in c.get("/api/v1/privacy/deletions").json()] == [body["deletion_id"]]
        entries = c.get("/api/v1/privacy/do-not-contact").json()
        assert {e["type"] for e in entries} == {"phone", "email", "wechat_unionid"}
        assert c.delete(f"/api/v1/privacy/do-not-contact/{entries[0]['id']}").status_code == 204
        assert c.delete(f"/api/v1/privacy/do-not-contact/{entries[0]['id']}").status_code == 422
        assert c.post("/api/v1/privacy/export", json={"identifier": PHONE}).status_code == 404
    with person.ctx.db.session() as s:
        trail = [repr((a.action, a.target_id, a.details)) for a in s.scalars(select(AuditEntry))]
        assert len(s.scalars(select(WarehouseErasure)).all()) == 1
    assert Siyu(person.ctx).feed_warehouse().erasures == 1
    assert any("POST /api/v1/privacy/delete" in t for t in trail)
    assert [t for t in trail if any(x in t for x in SECRETS)] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"identifier": 13800138000},
        {"identifier": "x" * 301},
        {"identifier": PHONE, "identifiers": [{"type": "phone", "old": PHONE}]},
        {"identifier": PHONE, "identifiers": [{"type": "phone", "old": PHONE, "new": "12"}]},
        {"identifier": PHONE, "identifiers": [{"type": "phone", "old": PHONE, "new": EMAIL, "x": 1}]},
        {"identifier": PHONE, "remove": ["a"] * 201},
        {"identifier": PHONE, "traits": {f"t{i}": i for i in range(201)}},
        {"identifier": PHONE, "traits": {"x" * 129: 1}},
        {"identifier": PHONE, "traits": {"": "empty name"}},
        {"identifier": "not a phone"},
        {"identifier": PHONE},  # nothing to correct
    ],
)
def test_bad_corrections_are_422_never_500(rest, body) -> None:  # type: ignore[no-untyped-def]
    _, call = rest
    with call("admin") as c:
        r = c.post("/api/v1/privacy/correct", json=body)
    assert r.status_code in (404, 422), (r.status_code, r.text)
    assert r.json()["detail"]


def test_malformed_json_is_refused(rest) -> None:  # type: ignore[no-untyped-def]
    _, call = rest
    with call("owner") as c:
        r = c.post(
            "/api/v1/privacy/delete", content=b'{"identifier": ', headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422
        assert c.post("/api/v1/privacy/delete", json={"identifier": "13700000001"}).status_code == 404
