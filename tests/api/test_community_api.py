"""REST for customer groups, group live codes and the pyramid, against the WeCom emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import world

from siyu.channels.providers import ProviderService
from siyu.context import AppContext


@pytest.fixture
def emu(ctx: AppContext) -> Iterator[WeComEmulator]:
    emulator = WeComEmulator()
    with emulator.running():
        with ctx.db.session() as s:
            ProviderService(s, ctx.keyring).create(
                "wecom-main",
                "wecom",
                {"base_url": emulator.base_url, "corp_id": emulator.corp_id, "backoff_s": 0.001},
                {"corp_secret": emulator.corp_secret},
            )
        yield emulator


def test_groups_live_codes_and_pyramid(http: httpx.Client, emu: WeComEmulator, server: Any) -> None:
    groups = world(emu)
    chat = groups.create_group("zhangsan", "会员群")
    for i in range(5):
        groups.join(chat, f"wm{i}", push=False)
    assert http.post("/api/v1/groups/sync", json={}).json()["joined"] == 5
    assert [g["chat_id"] for g in http.get("/api/v1/groups").json()] == [chat]
    shown = http.get(f"/api/v1/groups/{chat}").json()
    assert len([m for m in shown["member_list"] if m["type"] == "external"]) == 5
    missing = http.get("/api/v1/groups/nope")
    assert missing.status_code == 404 and "nope" in missing.text
    code = http.post(
        "/api/v1/group-join-ways", json={"state": "vip-group", "chat_ids": [chat], "room_base_name": "会员群"}
    )
    assert code.status_code == 201, code.text
    assert code.json()["qr_code"]
    bad = http.post("/api/v1/group-join-ways", json={"state": "x", "chat_ids": [], "room_base_name": "a"})
    assert bad.status_code == 422 and "chat_ids" in bad.text
    assert http.put("/api/v1/group-join-ways/vip-group", json={"chat_ids": [chat]}).status_code == 200
    assert http.post("/api/v1/community/rank").json()["ranked"] == 5
    assert http.get("/api/v1/community/pyramid").json()["summary"] == {"seed": 1, "koc": 0, "member": 4}
    sent = http.post("/api/v1/groups/messages", json={"text": "本周活动"}).json()
    assert sent["groups"] == 1 and sent["tasks"][0]["sender"] == "zhangsan"
    plan = {
        "key": "daily",
        "name": "早安",
        "trigger": "schedule",
        "steps": [{"every": "day", "at": "08:00", "text": "早"}],
    }
    assert http.post("/api/v1/group-sops", json=plan).status_code == 201
    assert http.get("/api/v1/group-sops").json()[0]["key"] == "daily"
    bad = http.post("/api/v1/group-sops", json={**plan, "key": "bad", "trigger": "monthly"})
    assert bad.status_code == 422 and "trigger" in bad.text
    assert set(http.post("/api/v1/group-sops/run").json()) == {"enrolled", "sent", "limited", "failed"}
    assert http.delete("/api/v1/group-join-ways/vip-group").status_code == 204
    assert http.get("/api/v1/group-join-ways").json() == []
