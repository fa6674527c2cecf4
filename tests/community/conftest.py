"""Fixtures of the community tests: a running WeCom emulator with its group world, and a WeCom
provider configured against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.emulators.wecom import WeComEmulator
from tests.emulators.wecom_groups import GroupWorld, world

from siyu.channels.providers import ProviderService
from siyu.community.callbacks import handle_change_external_chat
from siyu.context import AppContext

PROVIDER = "wecom-main"
OWNER = "zhangsan"


@pytest.fixture
def emu() -> Iterator[WeComEmulator]:
    emulator = WeComEmulator()
    emulator.staff.add(OWNER)
    with emulator.running():
        yield emulator


@pytest.fixture
def groups(emu: WeComEmulator) -> GroupWorld:
    return world(emu)


@pytest.fixture
def provider(ctx: AppContext, emu: WeComEmulator) -> str:
    with ctx.db.session() as s:
        ProviderService(s, ctx.keyring).create(
            PROVIDER,
            "wecom",
            {"base_url": emu.base_url, "corp_id": emu.corp_id, "backoff_s": 0.001, "retries": 2},
            {"corp_secret": emu.corp_secret},
        )
    return PROVIDER


@pytest.fixture
def deliver(ctx: AppContext, groups: GroupWorld, provider: str) -> Callable[..., int]:
    """Hand the pushed change_external_chat events to the handler, each in its own unit of work
    (as the inflow receiver does); ``events`` replaces the queue (to lose or reorder some)."""

    def run(events: list[dict[str, Any]] | None = None) -> int:
        events = groups.take_pushed() if events is None else events
        for event in events:
            with ctx.db.session() as s:
                handle_change_external_chat(s, ctx, provider, event)
        return len(events)

    return run
