"""A WeCom emulator with a provider ``wecom`` and channel ``wecom-main`` in siyu, for the ways
tests (contact ways, sync, staff, transfers)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_ways import WaysWorld, ways

from siyu.client import Siyu
from siyu.context import AppContext

PROVIDER = "wecom"
CHANNEL = "wecom-main"


@dataclass
class Env:
    emu: WeComEmulator
    world: WaysWorld
    siyu: Siyu
    ctx: AppContext


@contextmanager
def ways_env(
    ctx: AppContext, staff: tuple[str, ...] = ("zhangsan", "lisi", "wangwu"), **config: object
) -> Iterator[Env]:
    emu = WeComEmulator()
    world = ways(emu)
    for userid in staff:
        world.add_user(userid, name=f"Staff {userid}")
    with emu.running():
        s = Siyu(ctx)
        s.providers.add(
            PROVIDER,
            "wecom",
            {
                "corp_id": emu.corp_id,
                "base_url": emu.base_url,
                "backoff_s": 0.001,
                "max_backoff_s": 0.01,
                "rate_per_s": 5000,
                **config,
            },
            {"corp_secret": emu.corp_secret},
        )
        s.create_channel(CHANNEL, "wecom", "WeCom")
        yield Env(emu, world, s, ctx)
