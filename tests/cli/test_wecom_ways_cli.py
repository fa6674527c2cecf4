"""`siyu channels entry-code … --wecom-provider … --json` (the scripts' contract), `siyu wecom …`
and `siyu staff …` against the WeCom emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.cli.conftest import Cli, cli_env
from tests.wecom.ways_env import CHANNEL, PROVIDER, Env, ways_env

from siyu.config import Settings
from siyu.context import AppContext


@pytest.fixture
def env(ctx: AppContext) -> Iterator[Env]:
    with ways_env(ctx) as e:
        yield e


@pytest.fixture
def cli(settings: Settings, env: Env) -> Cli:
    return Cli(cli_env(settings))


def test_entry_code_contract(cli: Cli, env: Env) -> None:
    data = cli.json(
        "channels",
        "entry-code",
        CHANNEL,
        "--state",
        "spring-poster",
        "--wecom-provider",
        PROVIDER,
        "--wecom-staff",
        "zhangsan,lisi",
        "--skip-verify",
        "--tag",
        "source/poster",
        "--tag",
        "campaign/spring",
    )
    assert data["state"] == "spring-poster"
    way = env.world.contact_ways[data["config_id"]]
    assert data["qr_code"] == way["qr_code"] and way["user"] == ["zhangsan", "lisi"] and way["skip_verify"]
    assert data["tags"] == ["source/poster", "campaign/spring"]
    plain = cli.json("channels", "entry-code", CHANNEL, "--state", "plain")
    assert set(plain) == {"id", "state", "channel_id"}
    args = ["--wecom-provider", PROVIDER, "--wecom-staff", "lisi", "--acquisition-link"]
    link = cli.json("channels", "entry-code", CHANNEL, "--state", "ad-1", *args)
    assert link["kind"] == "acquisition_link" and link["url"].endswith("?customer_channel=ad-1")


def test_errors_are_words_not_tracebacks(cli: Cli, env: Env) -> None:
    err = cli.fails(
        "channels",
        "entry-code",
        CHANNEL,
        "--state",
        "x",
        "--wecom-provider",
        PROVIDER,
        "--wecom-staff",
        "ghost",
    )
    assert "40003" in err and "not a member of the corp" in err
    err = cli.fails(
        "channels", "entry-code", CHANNEL, "--state", "x", "--wecom-provider", "nope", "--wecom-staff", "a"
    )
    assert "no provider 'nope'" in err
    assert not env.world.contact_ways


def test_edit_delete_sync_figures_staff(cli: Cli, env: Env) -> None:
    cli.json(
        "channels",
        "entry-code",
        CHANNEL,
        "--state",
        "s1",
        "--wecom-provider",
        PROVIDER,
        "--wecom-staff",
        "lisi",
    )
    assert cli.json("wecom", "edit", "s1", "--wecom-staff", "wangwu")["staff"] == ["wangwu"]
    for i in range(5):
        env.world.add_follow("lisi", f"wm{i}", 1_780_000_000 + i, state="s1")
    run = cli.json("wecom", "sync")
    assert run["status"] == "done" and run["follows_seen"] == 5
    assert cli.json("wecom", "sync-runs")[0]["id"] == run["id"]
    human = cli("wecom", "sync", "--incremental").stdout
    assert "Sync done: 3 staff, 5 customer relations, 0 new contacts" in " ".join(human.split())
    for args in (
        ("wecom", "codes"),
        ("wecom", "figures", "--by-day"),
        ("staff", "list"),
        ("staff", "show", "lisi"),
    ):
        assert "lisi" in cli(*args).stdout or "s1" in cli(*args).stdout
    fig = cli.json("wecom", "figures", "s1")[0]
    assert (fig["adds"], fig["net"], fig["scans"]) == (5, 5, None)
    assert cli.json("wecom", "codes")[0]["figures"]["adds"] == 5
    staff = {s["userid"]: s for s in cli.json("staff", "list")}
    assert staff["lisi"]["customers"] == 5
    assert cli.json("staff", "show", "lisi")["customers"] == 5
    moved = cli.json("staff", "transfer", "lisi", "zhangsan", "--customer", "wm0", "--customer", "wm1")
    assert [m["status"] for m in moved] == ["waiting", "waiting"]
    env.world.finish_transfers()
    assert {r["status"] for r in cli.json("staff", "transfers", "--poll")} == {"success"}
    assert cli.json("wecom", "delete", "s1")["deleted_at"]
    assert "--start: not a date" in cli.fails("staff", "show", "lisi", "--start", "yesterday", code=2)
