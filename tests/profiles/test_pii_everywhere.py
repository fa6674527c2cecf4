"""Phones and emails however they arrive — any key case, aliases (mobile_phone, phoneNumber, tel,
手机号, 邮箱, e-mail), nested objects, lists, JSON numbers — are stored encrypted (identify traits
that name a phone or an email become identifiers) or masked (event properties, nested traits),
and no REST or console page shows them in clear to a viewer or an analyst. The operator's
``?reveal=true`` still shows the identifiers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from siyu.ingest.messages import MessageValidator
from siyu.profiles.detect import PiiDetector, mask_loose
from siyu.profiles.identifiers import IdentifierParser

#: Where a page repeats the user's own query (the search box, the language link back to the URL).
ECHOES = r'<input id="contact-search"[^>]*>|<a id="lang-switch"[^>]*>'
PHONES = [f"139123400{n:02d}" for n in range(1, 12)]
EMAILS = [
    "Wang.Fang@Example.com",
    "li@example.cn",
    "nested@example.com",
    "buyer@example.com",
    "r1@example.com",
    "ctx@example.com",
]


def clear_forms() -> list[str]:
    """Every way the values could show in clear: raw, E.164, spaced, and emails in any case."""
    forms = []
    for p in PHONES:
        forms += [p, "+86" + p, f"{p[:3]} {p[3:7]} {p[7:]}", f"{p[:3]}-{p[3:7]}-{p[7:]}"]
    forms += EMAILS + [e.lower() for e in EMAILS]
    return forms


def leaks(text: str) -> list[str]:
    return [form for form in clear_forms() if form in text]


def feed(client: Any) -> int:
    """One contact reached through every disguise, by identify and track."""
    traits = {
        "name": "王芳",
        "Phone": PHONES[0],
        "mobile_phone": int(PHONES[1]),
        "手机号": f"{PHONES[2][:3]} {PHONES[2][3:7]} {PHONES[2][7:]}",
        "EMAIL": EMAILS[0],
        "邮箱": EMAILS[1],
        "contact": {"tel": PHONES[3], "e-mail": EMAILS[2]},
        "phones": [PHONES[4], int(PHONES[5])],
        "phoneNumber": "+86" + PHONES[6],
    }
    result = client.batch(
        [
            {"type": "identify", "userId": "C-PII-1", "traits": traits, "messageId": "pii-1"},
            {
                "type": "track",
                "userId": "C-PII-1",
                "event": "order_paid",
                "messageId": "pii-2",
                "properties": {
                    "buyer": {"Mobile": int(PHONES[7]), "Email": EMAILS[3]},
                    "note": f"call {PHONES[8][:3]}-{PHONES[8][3:7]}-{PHONES[8][7:]} after 6pm",
                    "recipients": [EMAILS[4]],
                    "amount": 199.0,
                },
                "context": {"traits": {"电话": PHONES[9], "mail": EMAILS[5]}},
            },
            {
                "type": "track",
                "userId": "C-PII-1",
                "event": "callback_requested",
                "messageId": "pii-3",
                "properties": {"number": int(PHONES[10])},
            },
        ]
    )
    assert result.accepted == 3 and not result.rejected, result
    return int(client.contact("customer_no:C-PII-1")["id"])


def test_detector_masks_every_disguise() -> None:
    detector = PiiDetector()
    payload = {
        "PHONE": "13912345678",
        "Mobile_Phone": 13912345678,
        "e-mail": "A.b@c.cn",
        "deep": [{"x": {"手机": "+86 139 1234 5678"}}],
        "free text": "mail me at z@q.cn or 13912345678",
        "ordinary": {"sku": "A-1", "ts": 1733541234567, "price": -12.5, "ok": True},
    }
    out = detector.scrub(payload)
    assert out is not None and not leaks(str(out))
    assert "139****5678" in str(out) and "A***@c.cn" in str(out)
    assert out["ordinary"] == payload["ordinary"]  # nothing else is touched
    assert detector.scrub({"sku": "A-1", "n": 3}) is not None


def test_configured_aliases_replace_the_built_in_list() -> None:
    detector = PiiDetector({"phone": ["shouji"], "email": []})
    assert detector.kind_of_key("SHOUJI") == "phone" and detector.kind_of_key("mobile") is None
    assert detector.kind_of_key("Phone") == "phone"  # the type's own name always counts
    assert detector.scrub({"shouji": "12345678"}) == {"shouji": mask_loose("phone", "12345678")}
    with pytest.raises(ValueError, match="unknown kind"):
        PiiDetector({"address": ["addr"]})


def test_aliased_identify_traits_become_identifiers_and_bad_ones_stay_masked() -> None:
    validator = MessageValidator(IdentifierParser())
    traits = {"Mobile": 13912345678, "tel": "12345", "邮箱": "x@y.cn"}
    msg = validator.validate({"type": "identify", "userId": "u1", "traits": traits})
    assert {(i.type, i.value) for i in msg.identifiers} >= {("phone", "+8613912345678"), ("email", "x@y.cn")}
    assert msg.traits is not None and not re.search(r"\d{5}", str(msg.traits))  # "12345" masked too


def test_viewer_and_analyst_see_no_clear_phone_or_email(
    server: Any,
    api_key: Callable[[str], str],
    console_as: Callable[[str], Any],
    app_routes: Callable[[str], list[tuple[str, str]]],
) -> None:
    contact_id = feed(server.client)
    fill = {"query": f"id:{contact_id}", "contact_id": str(contact_id), "kind": "activity", "lang": "en"}

    def url_of(path: str) -> str:
        return re.sub(
            r"\{([^}:]+)[^}]*\}",
            lambda m: fill.get(m.group(1), "999999" if m.group(1).endswith("id") else "nope"),
            path,
        )

    rest = [url_of(p) for m, p in app_routes("/api/") if m == "GET"]
    rest += ["/api/v1/contacts/customer_no:C-PII-1", f"/api/v1/contacts/{PHONES[0]}"]
    console = [url_of(p) for m, p in app_routes("/console/") if m == "GET" and not p.endswith("/logout")]
    console += [f"/console/contacts?q={q}" for q in ("王芳", PHONES[0], EMAILS[0], "C-PII-1")]
    for role in ("viewer", "analyst"):
        found = {}
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {api_key(role)}"}, timeout=60
        ) as http:
            for url in rest:
                if hit := leaks(http.get(url).text):
                    found[url] = hit
        browser = console_as(role)
        for url in console:
            page = re.sub(ECHOES, "", browser.get(url).text)
            if hit := leaks(page):
                found[url] = hit
        assert not found, (role, found)
    # the profile, timeline and traits were really fetched (masked, not missing)
    viewer = {"Authorization": f"Bearer {api_key('viewer')}"}
    with httpx.Client(base_url=server.url, headers=viewer, timeout=60) as http:
        profile = http.get(f"/api/v1/contacts/id:{contact_id}").json()
    assert profile["traits"]["Phone"] == "139****0001"
    assert profile["traits"]["contact"]["tel"] == "139****0004"
    assert any(e["event"] == "order_paid" for e in profile["recent_events"])

    # the positive control: an operator's reveal shows the identifiers the traits named
    operator = {"Authorization": f"Bearer {api_key('operator')}"}
    with httpx.Client(base_url=server.url, headers=operator, timeout=60) as http:
        clear = http.get(f"/api/v1/contacts/id:{contact_id}", params={"reveal": "true"}).json()
    values = {i["value"] for i in clear["identifiers"]}
    assert "+86" + PHONES[0] in values and {EMAILS[0].lower(), EMAILS[1]} <= values
