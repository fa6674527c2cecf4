"""The audit trail of writes names contacts by id, never by the phone or email in the URL:
the AuditWrites middleware masks identifiers in path parameters and in the recorded path,
and adds the contact id of a ``/contacts/{query}`` write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import select

from siyu.profiles.detect import redact_reference
from siyu.store.models import AuditEntry, ConsentRecord

PHONE, EMAIL, FOREIGN = "13912340001", "Audit.Me@Example.com", "+14155552671"


def test_writes_by_phone_or_email_are_audited_by_contact_id(
    server: Any, api_key: Callable[[str], str]
) -> None:
    client = server.client
    client.identify({"phone": PHONE, "email": EMAIL})
    client.identify({"phone": FOREIGN})
    cid, other = (int(client.contact(q)["id"]) for q in (PHONE, FOREIGN))
    key = api_key("operator")
    consent = {
        "purpose": "marketing",
        "channel": "sms",
        "granted": True,
        "evidence": {"form": "signup", "mobile": PHONE, "note": f"mail {EMAIL}"},
    }
    queries = [PHONE, "+86" + PHONE, "phone:" + PHONE, EMAIL, "email:" + EMAIL.lower(), FOREIGN]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        for query in queries:
            answer = http.post(f"/api/v1/contacts/{quote(query)}/consent", json=consent)
            assert answer.status_code == 201, (query, answer.text)
        assert http.post(f"/api/v1/contacts/{PHONE}/stage", json={"stage": "retention"}).status_code == 200
    with client.ctx.db.session() as s:
        entries = s.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        records = [e for e in entries if e.target_type == "http"]
        text = repr([(e.action, e.target_id, e.details) for e in entries])
        evidence = repr([r.evidence for r in s.scalars(select(ConsentRecord))])
    assert len(records) == len(queries) + 1
    for secret in (PHONE, "+86" + PHONE, EMAIL, EMAIL.lower(), FOREIGN, FOREIGN[1:]):
        assert secret not in text, secret
        assert secret not in evidence, secret
    assert [r.details["contact_id"] for r in records] == [cid] * 5 + [other, cid]
    assert records[0].target_id == "/api/v1/contacts/139****0001/consent"
    assert records[3].details["query"] == "A***@Example.com"
    assert "139****0001" in evidence


def test_references_are_masked_only_when_they_name_a_person() -> None:
    assert redact_reference("13900000000") == "139****0000"
    assert redact_reference("phone:+8613900000000") == "phone:139****0000"
    assert redact_reference("a.b@c.cn") == "a***@c.cn"
    for kept in ("customer_no:C-1", "vip-segment", "id:42", "42", "2024-05-01"):
        assert redact_reference(kept) == kept
