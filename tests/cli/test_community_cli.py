"""`siyu groups …` and `siyu community …` against the WeCom emulator: sync, list, show, live
codes, the pyramid as JSON, and clear errors for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import world

from siyu.channels.providers import ProviderService
from siyu.context import AppContext

from .conftest import Cli, cli_env


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


@pytest.fixture
def cli(ctx: AppContext) -> Cli:
    return Cli(cli_env(ctx.settings))


def test_sync_list_show_join_ways_and_pyramid(cli: Cli, emu: WeComEmulator) -> None:
    groups = world(emu)
    chat = groups.create_group("zhangsan", "春季会员群")
    for i in range(12):
        groups.join(chat, f"wm{i:02d}", unionid=f"un{i:02d}", push=False)
    synced = cli.json("groups", "sync")
    assert synced["groups"] == 1 and synced["joined"] == 12
    listed = cli.json("groups", "list")
    assert [(g["chat_id"], g["members"]) for g in listed] == [(chat, 13)]
    shown = cli.json("groups", "show", chat)
    externals = [m for m in shown["member_list"] if m["type"] == "external"]
    assert len(externals) == 12 and all(m["contact_id"] for m in externals)
    assert all(m["name"].endswith("*") for m in externals)  # nicknames masked
    assert set(shown["health"]) >= {"score", "spoke_share_7d", "silent_days_14d"}
    code = cli.json(
        "groups",
        "join-ways",
        "create",
        "--state",
        "spring-group",
        "--chat-id",
        chat,
        "--room-base-name",
        "春季群",
    )
    assert code["qr_code"].startswith("https://") and code["chat_ids"] == [chat]
    assert cli.json("groups", "join-ways", "list")[0]["state"] == "spring-group"
    ranked = cli.json("community", "rank")
    assert ranked["ranked"] == 12
    pyramid = cli.json("community", "pyramid")
    assert pyramid["summary"] == {"seed": 1, "koc": 1, "member": 10}
    assert all(chat in c["groups"] for c in pyramid["contacts"])
    assert cli.json("community", "pyramid", "--chat-id", chat)["summary"]["seed"] == 1


def test_bad_input_fails_cleanly(cli: Cli, emu: WeComEmulator) -> None:
    assert "chat_id" in cli.fails("groups", "show", "nope", code=2)
    message = cli.fails("groups", "join-ways", "create", "--state", "x" * 31, "--chat-id", "a", code=2)
    assert "state" in message


def test_group_sop_from_a_yaml_file(cli: Cli, emu: WeComEmulator, tmp_path: Any) -> None:
    chat = world(emu).create_group("zhangsan", "新群")
    cli.json("groups", "sync")
    plan = tmp_path / "sop.yaml"
    plan.write_text(
        "key: daily\nname: 每日早安\ntrigger: schedule\nsteps:\n  - {every: day, at: '00:00', text: 早安}\n",
        encoding="utf-8",
    )
    created = cli.json("groups", "sop", "create", str(plan))
    assert created["trigger"] == "schedule" and created["steps"][0]["text"] == "早安"
    assert cli.json("groups", "sop", "run")["enrolled"] == 0  # today's 00:00 occurrence predates the plan
    assert cli.json("groups", "sop", "list")[0]["key"] == "daily"
    assert cli.json("groups", "sop", "pause", "daily") == {"key": "daily", "enabled": False}
    assert cli.json("groups", "sop", "list")[0]["enabled"] is False
    cli.json("groups", "sop", "resume", "daily")
    assert "nope" in cli.fails("groups", "sop", "pause", "nope", code=2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: x\nname: x\ntrigger: weekly\nsteps: [{at: '09:00', text: hi}]\n", encoding="utf-8")
    assert "trigger" in cli.fails("groups", "sop", "create", str(bad), code=2)
    assert chat
