"""The HTTP client every provider adapter uses: a configurable base URL, a client-side rate
limit (at most ``rate_per_s`` request starts in any one second, shared by every thread, so a
burst never trips the provider's own per-second limit), and retries with
exponential backoff and jitter on network errors, 429 and 5xx."""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import threading
import time
from collections import deque
from typing import Any

import httpx

from siyu.channels.base import PreparedCall, SendResult

#: Share of each rate window kept free: requests reach the provider a little later than they
#: start, and not all equally late (threads, the network), so starts are spread over 10 % less
#: than the window and jitter cannot carry one request too many into a provider's second.
JITTER_MARGIN = 0.1


class RateLimiter:
    """At most ``rate`` request starts in any one-second window, whatever the number of threads
    sharing the limiter, as the provider counts them: starts are paced ``1/rate`` apart (no
    burst whose stragglers could arrive together with the next second's first requests) and a
    sliding log holds them to ``rate`` per window plus :data:`JITTER_MARGIN`. A token bucket
    lets a full bucket out at once and refills it within the same second — up to twice the
    rate in one second. A fractional rate widens the window: 0.5/s is one request in two
    seconds."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.limit = max(1, int(rate)) if rate > 0 else 0
        self.window = self.limit / rate * (1 + JITTER_MARGIN) if rate > 0 else 0.0
        self.spacing = 1 / rate if rate > 0 else 0.0
        self.starts: deque[float] = deque()
        self.lock = threading.Lock()

    def reserve(self) -> float:
        """Take a start now and return 0, or return how many seconds to wait before asking
        again (nothing taken). Never blocks, so threads and an event loop can share it."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            now = time.monotonic()
            while self.starts and now - self.starts[0] >= self.window:
                self.starts.popleft()
            wait = self.starts[-1] + self.spacing - now if self.starts else 0.0
            if len(self.starts) >= self.limit:
                wait = max(wait, self.starts[0] + self.window - now)
            if wait <= 0:
                self.starts.append(now)
                return 0.0
            return wait

    def acquire(self) -> None:
        while (wait := self.reserve()) > 0:
            time.sleep(wait)

    async def acquire_async(self) -> None:
        while (wait := self.reserve()) > 0:
            await asyncio.sleep(wait)


class ProviderError(Exception):
    """A provider call that failed after its retries; ``temporary`` says whether a later attempt
    may succeed."""

    def __init__(self, message: str, temporary: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.retry_after_s = retry_after_s


RETRY_STATUS = {429, 500, 502, 503, 504}
#: Connections of one async client (see ``ProviderHttp._borrow``).
CONNECTIONS_PER_CLIENT = 8


class ProviderHttp:
    def __init__(
        self,
        base_url: str,
        rate_per_s: float = 50.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout_s)
        #: async clients of the dispatcher's event loop (``arequest``), requests in flight on each
        self.aclients: list[httpx.AsyncClient] = []
        self.in_flight: list[int] = []
        self.limiter = RateLimiter(rate_per_s)
        self.retries = retries
        self.backoff_s = backoff_s

    def request(self, method: str, url: str, idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        """The response of the first attempt that is not a network error, 429 or 5xx; raises
        :class:`ProviderError` (temporary) when every attempt failed that way.

        A request that is not ``idempotent`` (default: every method but GET) is repeated only
        when it certainly did not reach the provider — the connection failed, or 429 said it
        was not processed. After a timeout or a 5xx the provider may have acted, so it is left
        to the dispatcher, which asks the provider (``lookup``) before sending again."""
        if idempotent is None:
            idempotent = method.upper() == "GET"
        outcome = _Attempts(self.retries, idempotent, self.backoff_s)
        while (delay := outcome.next_delay()) is not None:
            if delay:
                time.sleep(delay)
            self.limiter.acquire()
            try:
                resp = self.client.request(method, url, **kwargs)
            except httpx.TransportError as exc:
                outcome.failed(exc)
                continue
            if outcome.answered(resp):
                return resp
        raise outcome.error()

    async def arequest(
        self, method: str, url: str, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """:meth:`request` on the caller's event loop (the dispatcher's): the same retries and
        rate limit, with an async client of the same base URL and timeout, made on first use."""
        if idempotent is None:
            idempotent = method.upper() == "GET"
        client = self._borrow()
        try:
            outcome = _Attempts(self.retries, idempotent, self.backoff_s)
            while (delay := outcome.next_delay()) is not None:
                if delay:
                    await asyncio.sleep(delay)
                await self.limiter.acquire_async()
                try:
                    resp = await self.aclients[client].request(method, url, **kwargs)
                except httpx.TransportError as exc:
                    outcome.failed(exc)
                    continue
                if outcome.answered(resp):
                    return resp
            raise outcome.error()
        finally:
            self.in_flight[client] -= 1

    def _borrow(self) -> int:
        """An async client with a free connection (a new one when all are busy). httpcore's
        pool scans every connection for every request, so one pool of a hundred connections
        spends more time choosing than sending (measured: ~45 requests/s); pools of
        :data:`CONNECTIONS_PER_CLIENT` keep that scan short."""
        for i, n in enumerate(self.in_flight):
            if n < CONNECTIONS_PER_CLIENT:
                self.in_flight[i] += 1
                return i
        limits = httpx.Limits(
            max_connections=CONNECTIONS_PER_CLIENT, max_keepalive_connections=CONNECTIONS_PER_CLIENT
        )
        client = httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout_s, limits=limits, verify=_tls()
        )
        self.aclients.append(client)
        self.in_flight.append(1)
        return len(self.aclients) - 1

    async def aclose(self) -> None:
        for client in self.aclients:
            await client.aclose()
        self.aclients.clear()
        self.in_flight.clear()

    def close(self) -> None:
        self.client.close()


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every async client: building one (loading the CA bundle) takes
    80–500 ms on a busy machine, longer than a short lease gives a claim to start its calls."""
    return httpx.create_ssl_context()


class _Attempts:
    """The retry rule of :meth:`ProviderHttp.request`, shared by its sync and async forms."""

    def __init__(self, retries: int, idempotent: bool, backoff_s: float) -> None:
        self.retries = retries
        self.idempotent = idempotent
        self.attempt = 0
        self.last = ""
        self.retry_after: float | None = None
        self.backoff_s = backoff_s

    def next_delay(self) -> float | None:
        """None when no attempt is left; else seconds to wait before the next one."""
        if self.attempt > self.retries:
            return None
        self.attempt += 1
        if self.attempt == 1:
            return 0.0
        delay = self.retry_after or self.backoff_s * 2 ** (self.attempt - 2)
        return delay * (1 + random.random() * 0.25)

    def failed(self, exc: httpx.TransportError) -> None:
        """A network error: repeated only when the request certainly did not arrive."""
        self.last, self.retry_after = f"{type(exc).__name__}: {exc}", None
        unsent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if not unsent and not self.idempotent:
            raise ProviderError(self.last, temporary=True) from None

    def answered(self, resp: httpx.Response) -> bool:
        """True when ``resp`` is the answer; False when it is repeated (429, or 5xx if idempotent)."""
        if resp.status_code not in RETRY_STATUS or (not self.idempotent and resp.status_code != 429):
            return True
        self.last = f"HTTP {resp.status_code}: {resp.text[:200]}"
        self.retry_after = retry_after_header(resp)
        return False

    def error(self) -> ProviderError:
        return ProviderError(self.last, temporary=True, retry_after_s=self.retry_after)


def retry_after_header(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return min(float(value), 60.0) if value else None
    except ValueError:
        return None


def call_blocking(http: ProviderHttp, call: PreparedCall | SendResult) -> SendResult:
    """Make a prepared per-message call (``base.PreparedCall``, or already a result) with the
    blocking client: the adapter's ``send``. A call that got no answer is a ``retry``."""
    if isinstance(call, SendResult):
        return call
    try:
        resp = http.request(call.method, call.url, idempotent=False, **call.kwargs)
    except ProviderError as exc:
        return SendResult("retry", error=str(exc), retry_after_s=exc.retry_after_s)
    return call.finish(resp)


async def call_async(http: ProviderHttp, call: PreparedCall | SendResult) -> SendResult:
    """:func:`call_blocking` on the dispatcher's event loop."""
    if isinstance(call, SendResult):
        return call
    try:
        resp = await http.arequest(call.method, call.url, idempotent=False, **call.kwargs)
    except ProviderError as exc:
        return SendResult("retry", error=str(exc), retry_after_s=exc.retry_after_s)
    return call.finish(resp)
