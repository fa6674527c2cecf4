"""The journey editors' REST endpoints over HTTP: a timeline SOP saved as a journey (and as a
new version while it runs), validation with every problem located on its field, the pickers'
choices, the entry preview (masked names), and who waits at a step — listed masked, and
exported as CSV with a UTF-8 BOM that is masked unless the caller holds ``pii.export``, audited
either way."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from siyu.content.service import ContentService
from siyu.journeys.engine import Engine
from siyu.journeys.triggers import TriggerFollower
from siyu.store.models import AuditEntry, utcnow

SMS_BODY = {"template_code": "SMS_1", "params": {"name": "{{ name }}"}, "text": "Hi {{ name }}"}
TIMELINE: dict[str, Any] = {
    "key": "welcome",
    "name": "新客欢迎",
    "audience": "tag",
    "audience_value": "新客",
    "rows": [
        {"day": 0, "channel": "sms", "template": "hello"},
        {"day": 2, "at": "10:00", "channel": "sms", "template": "hello", "unless_event": "Order Completed"},
    ],
    "exit_event": "Order Completed",
}
PEOPLE = [("+8613900000001", "王小明"), ("+8613900000002", "李娜"), ("+8613900000003", "张")]


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def advance(server: Any) -> None:
    """The follower and the engine a little after now (the follower reads events once they
    have settled for 5 s, on PostgreSQL too)."""
    ctx, now = server.client.ctx, utcnow() + timedelta(seconds=10)
    with ctx.db.session() as s:
        TriggerFollower(s).run(now=now)
    with ctx.db.session() as s:
        Engine(s, ctx.keyring).run_due(now=now)


def setup(server: Any) -> list[int]:
    with server.client.ctx.db.session() as s:
        ContentService(s).create_template(
            {"key": "hello", "name": "问候", "channel": "sms", "body": SMS_BODY, "variants": {}}
        )
    ids = []
    for n, (phone, name) in enumerate(PEOPLE, 1):
        assert server.client.identify({"customer_no": f"c{n}", "phone": phone}, {"name": name}).rejected == []
        ids.append(server.client.contact(f"customer_no:c{n}")["id"])
    return ids


def test_a_timeline_becomes_a_journey_and_waiting_contacts_are_listed(server, http, api_key) -> None:
    ids = setup(server)
    saved = ok(http.post("/api/v1/journeys/timelines", json={"timeline": TIMELINE, "start": True}))
    assert (saved["status"], saved["version"], saved["trigger"]) == ("active", 1, "tag_added")
    assert ok(http.get("/api/v1/journeys/welcome/timeline"))["rows"][1]["unless_event"] == "Order Completed"
    server.client.tags.apply("新客", ids, create=True)
    advance(server)
    stats = ok(http.get("/api/v1/journeys/welcome/stats"))
    by_step = {s["id"]: s for s in stats["steps"]}
    # no consent was given: the report says so at the step, and everyone goes on to wait
    assert (by_step["send-1"]["skipped_consent"], by_step["wait-2"]["waiting"]) == (3, 3)

    listed = ok(http.get("/api/v1/journeys/welcome/steps/wait-2/contacts"))
    assert listed["total"] == 3 and listed["masked"] is True
    assert sorted(r["name"] for r in listed["contacts"]) == ["张*", "李*", "王*明"]
    assert sorted(r["phone"] for r in listed["contacts"]) == ["139****0001", "139****0002", "139****0003"]

    # an operator's CSV is masked; an owner (pii.export) gets clear values; both audited
    operator = {"Authorization": f"Bearer {api_key('operator')}"}
    masked = httpx.get(f"{server.url}/api/v1/journeys/welcome/steps/wait-2/contacts.csv", headers=operator)
    assert masked.status_code == 200 and masked.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(masked.content.decode("utf-8-sig"))))
    assert sorted(r["phone"] for r in rows) == ["139****0001", "139****0002", "139****0003"]
    assert "王小明" not in masked.content.decode("utf-8-sig")
    clear = http.get("/api/v1/journeys/welcome/steps/wait-2/contacts.csv")
    rows = list(csv.DictReader(io.StringIO(clear.content.decode("utf-8-sig"))))
    assert sorted(r["name"] for r in rows) == ["张", "李娜", "王小明"]
    with server.client.ctx.db.session() as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "journey.step_exported")).all()
        assert sorted(bool(a.details["masked"]) for a in audited) == [False, True]
        assert {a.details["rows"] for a in audited} == {3}


def test_editing_the_running_timeline_reports_who_would_leave(server, http) -> None:
    ids = setup(server)
    ok(http.post("/api/v1/journeys/timelines", json={"timeline": TIMELINE, "start": True}))
    server.client.tags.apply("新客", ids[:2], create=True)
    advance(server)
    shorter = {**TIMELINE, "rows": TIMELINE["rows"][:1]}
    checked = ok(http.post("/api/v1/journeys/editor/validate", json={"timeline": shorter}))
    assert (checked["ok"], checked["leaving"]) == (True, {"wait-2": 2})
    saved = ok(http.post("/api/v1/journeys/timelines", json={"timeline": shorter}))
    assert (saved["version"], saved["status"], saved["steps"]) == (2, "active", 1)


def test_validation_locates_every_problem(server, http) -> None:
    setup(server)
    bad_row = {**TIMELINE, "rows": [{**TIMELINE["rows"][0], "template": "nope"}, TIMELINE["rows"][1]]}
    checked = ok(http.post("/api/v1/journeys/editor/validate", json={"timeline": bad_row}))
    assert checked["ok"] is False and checked["document"] is None
    assert [e["path"] for e in checked["errors"]] == ["rows[0].template"]
    no_time = {**TIMELINE, "rows": [{"day": 2, "channel": "sms", "template": "hello"}]}
    checked = ok(http.post("/api/v1/journeys/editor/validate", json={"timeline": no_time}))
    assert [e["path"] for e in checked["errors"]] == ["rows[0]"]
    doc = {
        "key": "g",
        "name": "g",
        "trigger": {"segment_entered": "ghost"},
        "steps": [{"id": "a", "send": {"channel": "sms", "template": "nope"}}],
    }
    checked = ok(http.post("/api/v1/journeys/editor/validate", json={"document": doc}))
    assert [e["path"] for e in checked["errors"]] == ["steps[0].send.template", "trigger"]
    refused = http.post("/api/v1/journeys/timelines", json={"timeline": no_time})
    assert refused.status_code == 422 and refused.json()["path"] == "rows[0]"


def test_pickers_and_entry_preview(server, http) -> None:
    ids = setup(server)
    server.client.tags.apply("新客", ids, create=True)
    server.client.track("Order Completed", {"customer_no": "c1"}, {})
    options = ok(http.get("/api/v1/journeys/editor/options"))
    assert "Order Completed" in options["events"]
    assert [t["key"] for t in options["templates"]["sms"]] == ["hello"]
    assert "新客" in [t["key"] for t in options["tags"]]
    preview = ok(http.get("/api/v1/journeys/editor/preview", params={"kind": "tag", "value": "新客"}))
    assert preview == {"count": 3, "names": ["王*明", "李*", "张*"]}
    none = ok(http.get("/api/v1/journeys/editor/preview", params={"kind": "tag", "value": "nobody"}))
    assert none == {"count": 0, "names": []}
