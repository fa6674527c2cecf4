"""Where the dispatcher's provider calls run: one asyncio event loop per dispatcher.

Adapters of a per-message API that offer ``prepare`` (webhooks, Tencent SMS) are called on the
loop itself with the async HTTP client (``ProviderHttp.arequest``): hundreds of requests in
flight cost one thread. The others (and every ``lookup``) run on a small thread pool per
provider, sized to its ``concurrency``, and the loop awaits them. Either way the loop never
blocks on a provider, so the dispatcher can bound every wait (see ``Dispatcher._dispatch``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from siyu.channels.base import ChannelAdapter, OutboundMessage, SendResult
from siyu.channels.http import ProviderHttp, call_async

T = TypeVar("T")


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it comes with ``uvicorn[standard]``): its sockets and
    timers cost the dispatcher about a third less CPU per send than asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class ProviderCalls:
    def __init__(self) -> None:
        self.loop = new_loop()
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._recorder = ThreadPoolExecutor(1, thread_name_prefix="record")

    async def record(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` (a database write) on the recorder thread."""
        return await self.loop.run_in_executor(self._recorder, fn, *args)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def blocking(self, key: str, concurrency: int, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the provider's thread pool (``concurrency`` threads)."""
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = ThreadPoolExecutor(concurrency, thread_name_prefix=f"send-{key}")
        return await self.loop.run_in_executor(pool, fn, *args)

    async def send(
        self, key: str, concurrency: int, adapter: ChannelAdapter, messages: Sequence[OutboundMessage]
    ) -> list[SendResult]:
        prepare = getattr(adapter, "prepare", None)
        http = getattr(adapter, "http", None)
        if prepare is None or not isinstance(http, ProviderHttp):
            return await self.blocking(key, concurrency, adapter.send, list(messages))
        return [await call_async(http, prepare(m)) for m in messages]

    def close(self, adapters: Sequence[ChannelAdapter]) -> None:
        for adapter in adapters:
            http = getattr(adapter, "http", None)
            if isinstance(http, ProviderHttp):
                self.run(http.aclose())
        for pool in self._pools.values():
            # a thread still in a provider call ends with its HTTP timeout; nobody waits for it
            pool.shutdown(wait=False, cancel_futures=True)
        self._pools.clear()
        self._recorder.shutdown(wait=True)
        self.loop.close()
