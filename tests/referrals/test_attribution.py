"""Attribution by ``referral_code`` on identify/track: first code wins, self-referral voided,
generations from the inviter's own referral, device and IP kept, inactive campaigns ignored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select
from tests.referrals.conftest import T0

from siyu.client import Siyu
from siyu.store.models import Event, Referral


def code_of(client: Siyu, key: str, who: str) -> str:
    client.identify({"customer_no": who}, timestamp=T0 - timedelta(days=1))
    return client.referrals.code(key, f"customer_no:{who}")["code"]


def test_referral_code_attributes_first_code_wins(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign()
    a, b = code_of(client, key, "A"), code_of(client, key, "B")
    ctx_ = {"device": {"id": "dev-1"}, "ip": "10.0.0.1"}
    client.batch(
        [
            {"type": "identify", "identifiers": {"customer_no": "C"}, "traits": {"referral_code": a.upper()},
             "timestamp": T0.isoformat(), "context": ctx_},
            {"type": "track", "event": "Page Viewed", "identifiers": {"customer_no": "C"},
             "properties": {"referral_code": b}, "timestamp": (T0 + timedelta(hours=1)).isoformat()},
        ]
    )  # fmt: skip
    rows = client.referrals.list(key)
    assert len(rows) == 1
    c = client.contact("customer_no:C")["id"]
    assert rows[0]["inviter_id"] == client.contact("customer_no:A")["id"] and rows[0]["invitee_id"] == c
    assert rows[0]["status"] == "pending" and rows[0]["via"] == "referral_code" and rows[0]["generation"] == 1
    with client.ctx.db.session() as s:
        r = s.scalars(select(Referral)).one()
        assert (r.device, r.ip) == ("dev-1", "10.0.0.1")
        invited = s.scalars(select(Event).where(Event.event == "Referral Invited")).one()
        assert invited.properties["invites"] == 1 and invited.properties["remaining"] == 2
    # the same call again (a retry) changes nothing
    client.track("Page Viewed", {"customer_no": "C"}, {"referral_code": b}, T0 + timedelta(hours=2))
    assert len(client.referrals.list(key)) == 1


def test_generations_and_self_referral(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign()
    a = code_of(client, key, "A")
    client.track("Page Viewed", {"customer_no": "B"}, {"referral_code": a}, T0)
    b = client.referrals.code(key, "customer_no:B")["code"]
    client.track("Page Viewed", {"customer_no": "C"}, {"referral_code": b}, T0 + timedelta(hours=1))
    client.track("Page Viewed", {"customer_no": "A"}, {"referral_code": a}, T0 + timedelta(hours=2))
    rows = {r["invitee_id"]: r for r in client.referrals.list(key)}
    ida, idb, idc = (client.contact(f"customer_no:{x}")["id"] for x in "ABC")
    assert rows[idb]["generation"] == 1 and rows[idc]["generation"] == 2
    assert rows[idc]["parent_id"] == rows[idb]["id"]
    assert rows[ida]["status"] == "voided" and rows[ida]["void_reason"] == "self_referral"


def test_self_referral_through_the_inviters_own_device(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign()
    a = code_of(client, key, "A")
    client.batch([{"type": "track", "event": "Page Viewed", "identifiers": {"customer_no": "B"},
                   "properties": {"referral_code": a}, "timestamp": T0.isoformat(),
                   "context": {"device": {"id": "phone-b"}}}])  # fmt: skip
    b = client.referrals.code(key, "customer_no:B")["code"]
    client.batch([{"type": "track", "event": "Page Viewed", "identifiers": {"customer_no": "B2"},
                   "properties": {"referral_code": b}, "timestamp": (T0 + timedelta(hours=1)).isoformat(),
                   "context": {"device": {"id": "phone-b"}}}])  # fmt: skip
    b2 = client.contact("customer_no:B2")["id"]
    row = next(r for r in client.referrals.list(key) if r["invitee_id"] == b2)
    assert row["status"] == "voided" and row["void_reason"] == "self_referral"


def test_paused_campaign_and_unknown_code_attribute_nothing(
    client: Siyu, campaign: Callable[..., str]
) -> None:
    key = campaign()
    a = code_of(client, key, "A")
    client.referrals.move(key, "pause")
    client.track("Page Viewed", {"customer_no": "B"}, {"referral_code": a}, T0)
    client.track("Page Viewed", {"customer_no": "C"}, {"referral_code": "nosuchcd"}, T0)
    assert client.referrals.list(key) == []
