"""A test clock shared by an adapter and its emulator, so rate-limit windows move without
sleeping."""

from __future__ import annotations

from datetime import datetime

from siyu.channels.sms_common import CHINA_TZ

START = datetime(2025, 6, 1, 10, 0, tzinfo=CHINA_TZ).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
