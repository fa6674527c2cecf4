"""Entry codes as WeCom contact ways and 获客助手 links, against the emulator: create, edit,
delete, nothing half-made, errors in words, link customers attributed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from tests.emulators.wecom_ways import ways
from tests.wecom.ways_env import CHANNEL, PROVIDER, Env, ways_env

from siyu.context import AppContext
from siyu.store.models import ContactFollow, EntryCode
from siyu.wecom.provider import provider_api
from siyu.wecom.ways import WaysError, WaySpec, WaysService


@pytest.fixture
def env(ctx: AppContext) -> Iterator[Env]:
    with ways_env(ctx) as e:
        yield e


def codes(ctx: AppContext) -> int:
    with ctx.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(EntryCode)) or 0)


def test_contact_way_lifecycle(env: Env) -> None:
    w = env.siyu.wecom
    made = w.create_way(
        CHANNEL, "spring-poster", PROVIDER, ["zhangsan"], tags=["source/poster"], skip_verify=False
    )
    way = env.world.contact_ways[made["config_id"]]
    assert made["qr_code"] == way["qr_code"] and made["qr_code"].startswith("http")
    assert (way["type"], way["scene"], way["state"], way["user"], way["skip_verify"]) == (
        1,
        2,
        "spring-poster",
        ["zhangsan"],
        False,
    )
    multi = w.create_way(CHANNEL, "store-42", PROVIDER, ["zhangsan", "lisi"])
    assert env.world.contact_ways[multi["config_id"]]["type"] == 2

    w.update_way("store-42", staff=["lisi", "wangwu"], skip_verify=False)
    assert env.world.contact_ways[multi["config_id"]]["user"] == ["lisi", "wangwu"]
    assert w.way("store-42")["staff"] == ["lisi", "wangwu"]

    gone = w.delete_way("spring-poster")
    assert gone["deleted_at"] and made["config_id"] not in env.world.contact_ways
    assert w.way("spring-poster")["config_id"] == made["config_id"]  # the row stays for figures
    with pytest.raises(WaysError, match="deleted"):
        w.update_way("spring-poster", name="again")


def test_a_provider_error_leaves_nothing_and_is_in_words(env: Env) -> None:
    with pytest.raises(WaysError, match=r"errcode 40003 \(a staff userid is not a member of the corp\)"):
        env.siyu.wecom.create_way(CHANNEL, "nobody", PROVIDER, ["ghost"])
    env.world.quota = 0
    with pytest.raises(WaysError, match="quota"):
        env.siyu.wecom.create_way(CHANNEL, "full", PROVIDER, ["zhangsan"])
    assert codes(env.ctx) == 0 and not env.world.contact_ways


def test_a_failed_row_write_deletes_the_contact_way_again(env: Env) -> None:
    env.siyu.create_entry_code(CHANNEL, "taken")  # a plain code holds the state
    with env.ctx.db.session() as s:
        service = WaysService(s, lambda key: provider_api(s, env.ctx.keyring, key))
        # A race: the state was free when checked, taken when the row is written.
        service.sources.entry_code_by_state = lambda state: None  # type: ignore[method-assign]
        with pytest.raises(IntegrityError):
            service.create(WaySpec(CHANNEL, "taken", PROVIDER, ["zhangsan"]))
        service.close()
    assert any(r.path.endswith("/add_contact_way") for r in env.emu.requests)
    assert not env.world.contact_ways  # created at WeCom, then deleted again
    assert codes(env.ctx) == 1


def test_bad_input_names_the_field(env: Env) -> None:
    w = env.siyu.wecom
    with pytest.raises(WaysError, match="state"):
        w.create_way(CHANNEL, "x" * 31, PROVIDER, ["zhangsan"])
    with pytest.raises(WaysError, match="wecom_staff"):
        w.create_way(CHANNEL, "ok", PROVIDER, [])
    with pytest.raises(WaysError, match="welcome_template"):
        w.create_way(CHANNEL, "ok", PROVIDER, ["zhangsan"], welcome_template="nope")
    with pytest.raises(WaysError, match="channel"):
        w.create_way("nope", "ok", PROVIDER, ["zhangsan"])
    with pytest.raises(ValueError, match="wecom_provider"):
        w.create_way(CHANNEL, "ok", "missing", ["zhangsan"])
    assert codes(env.ctx) == 0 and not env.world.contact_ways


def test_acquisition_link_attributes_its_customers(env: Env) -> None:
    w = env.siyu.wecom
    link = w.create_way(CHANNEL, "douyin-ad-7", PROVIDER, ["zhangsan", "lisi"], kind="acquisition_link")
    assert link["kind"] == "acquisition_link" and link["config_id"] in env.world.links
    assert link["url"] == f"{env.world.links[link['config_id']]['url']}?customer_channel=douyin-ad-7"
    state = env.world.link_click(link["url"], "wmL1", "zhangsan")
    assert state == "douyin-ad-7"  # the State the add-customer callback carries
    env.world.link_click(link["url"], "wmL2", "lisi")
    env.world.follows["zhangsan"]["wmL1"].state = ""  # a list that lost the state
    env.world.follows["lisi"]["wmL2"].state = ""
    w.sync(PROVIDER)
    with env.ctx.db.session() as s:
        assert s.scalar(select(func.count()).where(ContactFollow.state == "douyin-ad-7")) == 0
    env.world.link_click(link["url"], "wmL3", "lisi")  # not synced yet: pending
    assert w.pull_link_customers("douyin-ad-7") == {"customers": 3, "attributed": 2, "pending": 1}
    w.update_way("douyin-ad-7", name="Douyin ad 7", staff=["lisi"])
    assert env.world.links[link["config_id"]]["user_list"] == ["lisi"]
    w.delete_way("douyin-ad-7")
    assert link["config_id"] not in env.world.links


def test_plain_entry_codes_are_unchanged(env: Env) -> None:
    made = env.siyu.create_entry_code(CHANNEL, "plain-qr", "Plain")
    assert set(made) == {"id", "state", "channel_id"} and not env.world.contact_ways


def test_emulator_limits(env: Env) -> None:
    world = ways(env.emu)
    with pytest.raises(ValueError, match="64 bytes"):
        link = env.siyu.wecom.create_way(CHANNEL, "l", PROVIDER, ["zhangsan"], kind="acquisition_link")
        world.link_click(
            f"{env.world.links[link['config_id']]['url']}?customer_channel={'x' * 65}", "e", "zhangsan"
        )
