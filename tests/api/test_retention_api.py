"""REST: retention policies (admins and owners only; bad values named, never a 500) and the
audit chain check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from siyu.audit import service as audit


def http(server: Any, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_admins_read_set_and_run_the_policies(server: Any, api_key: Callable[[str], str]) -> None:
    with http(server, api_key("admin")) as c:
        shown = c.get("/api/v1/retention").json()
        assert shown["policies"]["outbox_body_days"] == 180 and shown["last_run"] is None
        body = {"events": [{"event": "Page Viewed", "days": 90}], "audit_years": 3}
        saved = c.put("/api/v1/retention", json=body)
        assert saved.status_code == 200
        # PUT replaces: what the body leaves out takes its default
        assert saved.json() == {**body, "inactive_contacts_years": None, "outbox_body_days": 180}
        preview = c.post("/api/v1/retention/run", params={"dry_run": "true"}).json()
        assert preview["dry_run"] is True and preview["removed"]["events"] == {"Page Viewed": 0}
        assert c.get("/api/v1/retention").json()["last_run"] is None
        run = c.post("/api/v1/retention/run").json()
        assert run["dry_run"] is False and run["off"] == ["inactive_contacts"]
        assert c.get("/api/v1/retention").json()["last_run"]["removed"] == run["removed"]
    with server.client.ctx.db.session() as s:
        assert [e.actor for e in audit.entries(s, action="retention.policies_set")] == [
            f"key:{saved.request.headers['authorization'][7:17]}"
        ]


@pytest.mark.parametrize("role", ["operator", "analyst", "viewer"])
def test_other_roles_are_refused(server: Any, api_key: Callable[[str], str], role: str) -> None:
    with http(server, api_key(role)) as c:
        assert c.get("/api/v1/retention").status_code == 403
        assert c.put("/api/v1/retention", json={}).status_code == 403
        assert c.post("/api/v1/retention/run").status_code == 403
        assert c.get("/api/v1/audit/verify").status_code == 403


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"events": [{"event": "A", "days": 1}, {"event": "B", "days": -1}]}, ["body", "events", 1, "days"]),
        ({"events": [{"event": "A", "days": 1}, {"event": "A", "days": 2}]}, ["body", "events"]),
        ({"audit_years": "lots"}, ["body", "audit_years"]),
        ({"outbox_body_days": 10**12}, ["body", "outbox_body_days"]),
        ({"unknown": 1}, ["body", "unknown"]),
        ({"events": [{"event": "x" * 201, "days": 1}]}, ["body", "events", 0, "event"]),
        ({"events": [[[[[]]]]]}, ["body", "events", 0]),
        ([1, 2, 3], ["body"]),
        ({"events": [{"event": f"e{i}", "days": 1} for i in range(101)]}, ["body", "events"]),
        ({"inactive_contacts_years": 1.5}, ["body", "inactive_contacts_years"]),
    ],
)
def test_bad_policies_are_refused_naming_where(
    server: Any, api_key: Callable[[str], str], body: Any, where: list[Any]
) -> None:
    with http(server, api_key("admin")) as c:
        resp = c.put("/api/v1/retention", json=body)
        assert resp.status_code == 422, resp.text
        assert any(d["loc"][: len(where)] == where for d in resp.json()["errors"]), resp.json()
        assert c.get("/api/v1/retention").json()["policies"]["events"] == []


def test_malformed_json_is_a_422_not_a_500(server: Any, api_key: Callable[[str], str]) -> None:
    with http(server, api_key("admin")) as c:
        resp = c.put(
            "/api/v1/retention", content=b'{"events": [', headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 422


def test_verify_reports_the_first_broken_entry(server: Any, api_key: Callable[[str], str]) -> None:
    with server.client.ctx.db.session() as s:
        for i in range(4):
            audit.record(s, "test", "thing.done", details={"i": i})
    with http(server, api_key("admin")) as c:
        ok = c.get("/api/v1/audit/verify").json()
        assert ok["ok"] is True and ok["entries"] >= 4 and ok["broken"] is None
        with server.client.ctx.db.session() as s:
            middle = audit.entries(s, action="thing.done")[2].id
        with server.client.ctx.db.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": middle})
        broken = c.get("/api/v1/audit/verify").json()
    assert broken["ok"] is False
    assert broken["broken"]["problem"] == "missing_before" and broken["broken"]["id"] > middle
