"""Referral rows follow a profile merge (participations, edges; an edge between the two becomes
a self-referral) and go with an erasure (edges naming the person, their codes and rewards)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from tests.referrals.conftest import T0
from tests.referrals.test_lifecycle import invite

from siyu.client import Siyu
from siyu.store.models import Referral, ReferralParticipant


def ids(client: Siyu, *names: str) -> list[int]:
    return [client.contact(f"customer_no:{n}")["id"] for n in names]


def test_merge_moves_participations_and_edges(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign()
    invite(client, key, "A", ["B", "C"])
    invite(client, key, "A2", ["D", "A"])  # A2 invited A; A2 and A are one person
    a, a2, b, d = ids(client, "A", "A2", "B", "D")
    with client.ctx.db.session() as s:
        client.ctx.profiles(s).merge(a, a2, reason="manual", actor="test")
    with client.ctx.db.session() as s:
        assert s.scalars(select(ReferralParticipant.contact_id)).all() == [a]
        edges = {r.invitee_id: r for r in s.scalars(select(Referral))}
        assert {edges[x].inviter_id for x in (b, d)} == {a}
        assert edges[a].status == "voided" and edges[a].void_reason == "self_referral"


def test_erasure_takes_the_edges_naming_the_person(client: Siyu, campaign: Callable[..., str]) -> None:
    key = campaign()
    invite(client, key, "A", ["B"])
    client.track(
        "Page Viewed",
        {"customer_no": "C"},
        {"referral_code": client.referrals.code(key, "customer_no:B")["code"]},
        T0,
    )
    b, c = client.contact("customer_no:B")["id"], client.contact("customer_no:C")["id"]
    copy = client.privacy.export("customer_no:B")  # the access copy holds both edges B is on
    assert sorted((r["inviter_id"], r["invitee_id"]) for r in copy["referrals"])[1:] == [(b, c)]
    assert len(copy["referrals"]) == 2 and b in {r["invitee_id"] for r in copy["referrals"]}
    receipt = client.privacy.delete("customer_no:B")
    assert receipt["counts"]["referrals"] == 2 and receipt["counts"]["referral_codes"] == 1
    with client.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Referral)) == 0
    client.privacy.delete("customer_no:A")
    with client.ctx.db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReferralParticipant)) == 0
