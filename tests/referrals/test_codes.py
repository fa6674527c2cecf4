"""Participants' codes: short, unique, no ambiguous characters; a WeCom state ≤ 30 characters;
a link; joining twice gives the same code; without a WeCom provider the code still works."""

from __future__ import annotations

from collections.abc import Callable

from tests.referrals.conftest import T0

from siyu.client import Siyu
from siyu.referrals import codes
from siyu.referrals.service import ReferralService


def test_codes_are_short_unique_and_unambiguous(client: Siyu, campaign: Callable[..., str], contacts) -> None:
    key = campaign(kind="task")
    ids = contacts(300)
    got = [client.referrals.code(key, cid) for cid in ids]
    assert len({g["code"] for g in got}) == 300 and len({g["state"] for g in got}) == 300
    for g in got:
        assert len(g["code"]) == codes.CODE_LENGTH and not set(g["code"]) & set("01ilo")
        assert g["state"].startswith("rf") and len(g["state"]) <= 30
        assert g["url"].endswith(f"?ref={g['code']}")
        assert g["config_id"] is None  # no WeCom provider here: the code and link still work
    assert client.referrals.code(key, ids[0]) == got[0]  # joining again: the same code


def test_code_lookup_ignores_case_and_spaces(ctx, campaign: Callable[..., str], contacts) -> None:
    key = campaign()
    (cid,) = contacts(1)
    with ctx.db.session() as s:
        svc = ReferralService(s, now=T0)
        p = svc.join(svc.get(key), cid)
        assert svc.by_code(f"  {p.code.upper()} ").id == p.id
        assert svc.by_state(p.state).id == p.id and svc.by_state("spring-poster") is None


def test_base36_and_state() -> None:
    assert codes.base36(0) == "0" and codes.base36(35) == "z" and codes.base36(36) == "10"
    assert len(codes.state_for(2**63 - 1, "abcdefgh")) <= 30
