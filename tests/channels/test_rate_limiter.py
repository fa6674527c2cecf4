"""The provider rate limiter on a frozen clock: how many starts it lets through, and when."""

from __future__ import annotations

import asyncio

import pytest

from siyu.channels import http
from siyu.channels.http import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(http.time, "monotonic", c)
    return c


def starts_within(limiter: RateLimiter, clock: Clock, seconds: float, step: float) -> list[float]:
    """Ask every ``step`` seconds for ``seconds``; the times a start was granted."""
    granted = []
    end = clock.now + seconds
    while clock.now < end:
        while limiter.reserve() == 0:
            granted.append(clock.now)
        clock.now += step
    return granted


def test_a_fast_provider_gets_a_hundredth_of_its_rate_at_once_not_one_request(clock: Clock) -> None:
    limiter = RateLimiter(2000)
    granted = [limiter.reserve() for _ in range(25)]
    assert granted[:20] == [0.0] * 20  # 20 = 2000/100: event-loop timers need not be sub-millisecond
    assert all(w > 0 for w in granted[20:])
    assert granted[20] == pytest.approx(0.01)


def test_a_slow_provider_is_paced_one_request_at_a_time(clock: Clock) -> None:
    limiter = RateLimiter(5)
    assert limiter.reserve() == 0
    assert limiter.reserve() == pytest.approx(0.2)


@pytest.mark.parametrize("rate", [3, 50, 800, 2000])
def test_no_one_second_window_holds_more_starts_than_the_rate(clock: Clock, rate: int) -> None:
    granted = starts_within(RateLimiter(rate), clock, seconds=5, step=0.001)
    assert granted, "nothing was let through"
    j = 0
    for i, t in enumerate(granted):
        while granted[j] <= t - 1.0:
            j += 1
        assert i - j + 1 <= rate, f"{i - j + 1} starts in the second ending {t - 1000:.3f}"
    # and the limit is used, not undercut by much: at least 80 % of the rate over the run
    assert len(granted) >= 0.8 * rate * 5


def test_waiting_coroutines_queue_and_each_start_is_logged_when_it_happens() -> None:
    limiter = RateLimiter(200)  # 2 per 10 ms

    async def run() -> list[float]:
        loop = asyncio.get_running_loop()
        times: list[float] = []

        async def one() -> None:
            await limiter.acquire_async()
            times.append(loop.time())

        await asyncio.gather(*(one() for _ in range(8)))
        return times

    times = asyncio.run(run())
    assert len(times) == 8
    assert times[-1] - times[0] >= 0.029  # 8 starts at 2 per 10 ms span at least 30 ms
    assert len(limiter.starts) == 8
