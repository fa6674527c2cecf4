"""The WeChat Pay profit-sharing client and payouts against the local emulator: the request is
signed (a wrong key is refused), a retry with the same out_order_no splits once, more than 50
receivers and amounts above the ratio are refused before sending, and settled commissions are
paid once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.distribution.conftest import at, order_call, promoter, visit_call
from tests.emulators.wechatpay import WeChatPayEmulator, new_key, pem_private, pem_public

from siyu.client import Siyu
from siyu.distribution.profitsharing import ProfitSharingClient, ProfitSharingConfig, ProfitSharingError

MCHID, SERIAL = "1900009191", "5157F09EFDC096DE15EBE81A47057A72"
KEY = new_key()


@pytest.fixture(scope="module")
def wxpay() -> Iterator[WeChatPayEmulator]:
    emu = WeChatPayEmulator(MCHID, SERIAL, pem_public(KEY))
    with emu.running():
        yield emu


def config(emu: WeChatPayEmulator, key: bytes | None = None) -> ProfitSharingConfig:
    return ProfitSharingConfig(
        mchid=MCHID,
        appid="wx8888888888888888",
        serial_no=SERIAL,
        private_key_pem=key or pem_private(KEY),
        base_url=emu.base_url,
        platform_public_key_pem=emu.platform_public_pem(),
        platform_serial=emu.platform_serial,
    )


def test_signed_request_retried_with_same_out_order_no_splits_once(wxpay: WeChatPayEmulator) -> None:
    wxpay.transactions["T-1"] = 10_000
    client = ProfitSharingClient(config(wxpay))
    receivers = [{"account": "o-openid-1", "amount": 1000, "description": "佣金"}]
    first = client.create_order("T-1", "OUT-1", receivers)
    again = client.create_order("T-1", "OUT-1", receivers)
    assert first == again and first["state"] == "FINISHED"
    assert [b["out_order_no"] for b in wxpay.splits].count("OUT-1") == 1
    # the same number is the same request, whatever it carries: nothing is split again
    assert client.create_order("T-1", "OUT-1", [{**receivers[0], "amount": 999}]) == first
    assert [b["out_order_no"] for b in wxpay.splits].count("OUT-1") == 1 and wxpay.repeats == ["OUT-1"] * 2
    client.close()


def test_a_wrong_key_is_refused_by_the_signature_check(wxpay: WeChatPayEmulator) -> None:
    wxpay.transactions["T-2"] = 10_000
    client = ProfitSharingClient(config(wxpay, key=pem_private(new_key())))
    with pytest.raises(ProfitSharingError) as err:
        client.create_order("T-2", "OUT-2", [{"account": "o1", "amount": 1}])
    assert err.value.code == "SIGN_ERROR" and "OUT-2" not in wxpay.orders
    client.close()


def test_answers_not_signed_by_the_platform_are_refused(wxpay: WeChatPayEmulator) -> None:
    wxpay.transactions["T-3"] = 10_000
    cfg = config(wxpay)
    other = ProfitSharingConfig(**{**cfg.__dict__, "platform_public_key_pem": pem_public(new_key())})
    with pytest.raises(ProfitSharingError) as err:
        ProfitSharingClient(other).create_order("T-3", "OUT-3", [{"account": "o1", "amount": 1}])
    assert err.value.code == "bad_signature"


def test_more_than_50_receivers_are_refused_by_client_and_emulator(wxpay: WeChatPayEmulator) -> None:
    client = ProfitSharingClient(config(wxpay))
    many = [{"account": f"o{i}", "amount": 1} for i in range(51)]
    with pytest.raises(ProfitSharingError, match="at most 50"):
        client.create_order("T-4", "OUT-4", many)
    import httpx
    import orjson

    from siyu.distribution.profitsharing import PATH, authorization

    body = orjson.dumps(
        {
            "appid": "x",
            "transaction_id": "T-4",
            "out_order_no": "OUT-4",
            "unfreeze_unsplit": True,
            "receivers": [{**r, "type": "PERSONAL_OPENID", "description": "d"} for r in many],
        }
    )
    import time

    auth = authorization(config(wxpay), "POST", PATH, body, int(time.time()), "n1")
    headers = {"Authorization": auth, "Wechatpay-Serial": wxpay.platform_serial}
    resp = httpx.post(wxpay.base_url + PATH, content=body, headers=headers)
    assert resp.status_code == 400 and resp.json()["code"] == "PARAM_ERROR"


def test_server_errors_are_retryable(wxpay: WeChatPayEmulator) -> None:
    wxpay.transactions["T-5"] = 10_000
    wxpay.fail_next.append(503)
    client = ProfitSharingClient(config(wxpay))
    with pytest.raises(ProfitSharingError) as err:
        client.create_order("T-5", "OUT-5", [{"account": "o1", "amount": 1}])
    assert err.value.retryable
    assert client.create_order("T-5", "OUT-5", [{"account": "o1", "amount": 1}])["state"] == "FINISHED"


def test_settled_commissions_are_paid_once(s: Siyu, wxpay: WeChatPayEmulator) -> None:
    s.distribution.set_settings({"min_withdrawal": "1", "freeze_days": 0})
    code = promoter(s, 1, openid="o-promoter-1")
    s.batch([visit_call(10, code, at(-1)), order_call("PAY1", "100.00", 10, transaction_id="TX-PAY1")])
    wxpay.transactions["TX-PAY1"] = 10_000
    s.distribution.settle(now=at(1))
    before = len(wxpay.splits)
    wxpay.fail_next.append(500)  # the first attempt fails: the payout stays to be sent again
    first = s.distribution.payout(config(wxpay))
    assert [p["status"] for p in first["sent"]] == ["requested"]
    second = s.distribution.payout(config(wxpay))
    assert second["planned"] == [] and [p["status"] for p in second["sent"]] == ["finished"]
    assert s.distribution.payout(config(wxpay)) == {"planned": [], "sent": []}
    made = wxpay.splits[before:]
    assert len(made) == 1 and made[0]["receivers"][0]["amount"] == 1000
    assert made[0]["out_order_no"] == first["planned"][0]
    bal = s.distribution.balances(code)
    assert (bal["settled"], bal["paid_out"], bal["available"]) == ("10.00", "10.00", "0.00")
