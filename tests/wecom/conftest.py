"""A WeCom inflow emulator wired to a running siyu: provider ``wecom`` with the emulator's
callback Token and EncodingAESKey, and the emulator pushing to siyu's callback URL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.conftest import RunningServer
from tests.emulators.wecom_inflow import WeComInflowEmulator

from siyu.client import Siyu


@dataclass
class Inflow:
    emu: WeComInflowEmulator
    server: RunningServer
    url: str

    @property
    def client(self) -> Siyu:
        return self.server.client


def add_provider(client: Siyu, emu: WeComInflowEmulator, key: str = "wecom") -> None:
    client.providers.add(
        key,
        "wecom",
        {"corp_id": emu.corp_id, "base_url": emu.base_url, "retries": 1, "backoff_s": 0.01},
        {
            "corp_secret": emu.corp_secret,
            "callback_token": emu.callback_token,
            "encoding_aes_key": emu.encoding_aes_key,
        },
    )


@pytest.fixture
def inflow(server: RunningServer) -> Iterator[Inflow]:
    emu = WeComInflowEmulator()
    with emu.running():
        add_provider(server.client, emu)
        url = f"{server.url}/api/v1/providers/wecom/callbacks/events"
        emu.callback_url = url
        yield Inflow(emu, server, url)
