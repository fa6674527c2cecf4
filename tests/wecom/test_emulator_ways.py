"""The emulator's contact-way, link, customer and transfer APIs refuse what WeCom refuses, so the
tests above cannot pass against an emulator laxer than WeCom."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_ways import WaysWorld, ways

from siyu.channels.wecom_api import WeComApi, WeComError

EC = "/cgi-bin/externalcontact"


@pytest.fixture
def world() -> Iterator[tuple[WaysWorld, WeComApi]]:
    emu = WeComEmulator()
    w = ways(emu)
    for u in ("a", "b"):
        w.add_user(u)
    with emu.running():
        api = WeComApi(emu.base_url, emu.corp_id, emu.corp_secret, backoff_s=0.001, max_backoff_s=0.01)
        yield w, api
        api.close()


def refused(api: WeComApi, path: str, body: dict) -> int:
    with pytest.raises(WeComError) as exc:
        api.call("POST", path, body)
    return exc.value.errcode


def test_contact_way_rules(world: tuple[WaysWorld, WeComApi]) -> None:
    w, api = world
    base = {"type": 1, "scene": 2, "user": ["a"]}
    assert refused(api, f"{EC}/add_contact_way", {**base, "state": "x" * 31}) == 40058
    assert refused(api, f"{EC}/add_contact_way", {**base, "user": ["a", "b"]}) == 40058  # single: one user
    assert refused(api, f"{EC}/add_contact_way", {**base, "user": ["zz"]}) == 40003
    made = api.call("POST", f"{EC}/add_contact_way", {**base, "state": "x" * 30})
    assert (
        made["qr_code"]
        and api.call("POST", f"{EC}/get_contact_way", made)["contact_way"]["state"] == "x" * 30
    )
    w.quota = 1
    assert refused(api, f"{EC}/add_contact_way", base) == 40058
    api.call("POST", f"{EC}/del_contact_way", {"config_id": made["config_id"]})
    assert refused(api, f"{EC}/del_contact_way", {"config_id": made["config_id"]}) == 40058


def test_customer_listing_rules(world: tuple[WaysWorld, WeComApi]) -> None:
    w, api = world
    for i in range(250):
        w.add_follow("a", f"wm{i}", 1_780_000_000 + i)
    path = f"{EC}/batch/get_by_user"
    assert refused(api, path, {"userid_list": [f"u{i}" for i in range(101)]}) == 40058
    assert refused(api, path, {"userid_list": ["a"], "limit": 101}) == 40058
    seen, cursor = [], ""
    while True:
        page = api.call(
            "POST", path, {"userid_list": ["a", "b"], "limit": 100, **({"cursor": cursor} if cursor else {})}
        )
        assert len(page["external_contact_list"]) <= 100
        seen += [x["external_contact"]["external_userid"] for x in page["external_contact_list"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(f"wm{i}" for i in range(250))


def test_rate_limits_are_injected_and_backed_off(world: tuple[WaysWorld, WeComApi]) -> None:
    w, api = world
    w.inject_faults(every=2, errcode=45033)
    for _ in range(5):
        api.call("GET", "/cgi-bin/user/list", params={"department_id": 1, "fetch_child": 1})
    assert api.rate_limited == w.faults_injected > 0


def test_transfer_rules(world: tuple[WaysWorld, WeComApi]) -> None:
    w, api = world
    path = f"{EC}/transfer_customer"
    body = {"handover_userid": "a", "takeover_userid": "b"}
    assert refused(api, path, {**body, "external_userid": [f"wm{i}" for i in range(101)]}) == 40058
    w.add_follow("a", "wm1", 1)
    for handover, takeover in (("a", "b"), ("b", "a")):
        out = api.call(
            "POST",
            path,
            {"handover_userid": handover, "takeover_userid": takeover, "external_userid": ["wm1"]},
        )
        assert out["customer"][0]["errcode"] == 0
        w.finish_transfers()
    third = api.call("POST", path, {**body, "external_userid": ["wm1"]})
    assert third["customer"][0]["errcode"] == 40128
