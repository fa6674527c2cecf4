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

import aiohttp
import httpx

from siyu.channels.base import PreparedCall, SendResult

#: Share of each rate window kept free: requests reach the provider a little later than they
#: start, and not all equally late (threads, the network), so starts are spread over 10 % less
#: than the window and jitter cannot carry one request too many into a provider's second.
JITTER_MARGIN = 0.1


class RateLimiter:
    """At most ``rate`` request starts in any one-second window, whatever the number of threads
    sharing the limiter, as the provider counts them: starts are paced, at most ``rate/100`` in
    any hundredth of a second (``1/rate`` apart below 100/s; no large burst whose stragglers
    could arrive together with the next second's first requests), and a
    sliding log holds them to ``rate`` per window plus :data:`JITTER_MARGIN`. A token bucket
    lets a full bucket out at once and refills it within the same second — up to twice the
    rate in one second. A fractional rate widens the window: 0.5/s is one request in two
    seconds."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.limit = max(1, int(rate)) if rate > 0 else 0
        self.window = self.limit / rate * (1 + JITTER_MARGIN) if rate > 0 else 0.0
        self.spacing = 1 / rate if rate > 0 else 0.0
        # Starts are paced in slices of ~10 ms rather than 1/rate apart: event-loop timers
        # (uvloop's) have millisecond resolution, so strict 0.5 ms spacing held 2,000/s to 1,000/s.
        self.burst = max(1, int(rate / 100)) if rate > 0 else 1
        self.starts: deque[float] = deque()
        self.lock = threading.Lock()
        self._gate: asyncio.Lock | None = None
        self._gate_loop: asyncio.AbstractEventLoop | None = None

    def reserve(self) -> float:
        """Take a start now and return 0, or return how many seconds to wait before asking
        again (nothing taken). Never blocks, so threads and an event loop can share it. A start
        is logged when it really happens: a booked future start would let a late-waking loop
        send a backlog of "spaced" requests at once."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            now = time.monotonic()
            while self.starts and now - self.starts[0] >= self.window:
                self.starts.popleft()
            wait = 0.0
            if len(self.starts) >= self.burst:  # at most `burst` starts per `burst / rate` s
                wait = self.starts[-self.burst] + self.burst * self.spacing - now
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
        """:meth:`acquire` for coroutines, which queue (first come, first served) so that one
        at a time asks: when all of them polled, every start woke every waiter (quadratic
        wake-ups, a tenth of the dispatcher's CPU)."""
        if self.rate <= 0:
            return
        loop = asyncio.get_running_loop()
        if self._gate_loop is not loop:  # an asyncio.Lock belongs to one loop
            self._gate, self._gate_loop = asyncio.Lock(), loop
        async with self._gate:
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
#: httpx already wrote these (or chose not to); aiohttp must not add its own.
#: ``arequest`` keyword arguments its direct request builder understands.
_DIRECT_KWARGS = frozenset({"content", "headers", "auth"})
_SKIP_AUTO_HEADERS = frozenset({"User-Agent", "Content-Type", "Accept", "Accept-Encoding"})


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
        #: aiohttp sessions of ``arequest``, one per event loop (the dispatcher's)
        self.asessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
        self._urls: dict[str, httpx.URL] = {}
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
        rate limit, the same request bytes (built and signed by httpx, so adapters' ``auth``
        applies unchanged), sent with aiohttp and answered as an ``httpx.Response``.

        Why aiohttp: with httpx's async client, sending took ~1.2 ms of CPU per request
        (anyio's backend detection and cancellation shields on every read), half the
        dispatcher's budget; aiohttp sends the same request for a fraction of that
        (``benchmarks/journeys.py --dispatch-only``)."""
        if idempotent is None:
            idempotent = method.upper() == "GET"
        request = self._build(method, url, kwargs)
        auth = kwargs.get("auth")
        if auth is not None:  # httpx's auth flow signs the request; its first yield is the request to send
            request = next(auth.sync_auth_flow(request))
        session = self._session()
        outcome = _Attempts(self.retries, idempotent, self.backoff_s)
        while (delay := outcome.next_delay()) is not None:
            if delay:
                await asyncio.sleep(delay)
            await self.limiter.acquire_async()
            try:
                async with session.request(
                    request.method,
                    str(request.url),
                    headers=request.headers.multi_items(),
                    data=request.content,
                    skip_auto_headers=_SKIP_AUTO_HEADERS,
                    allow_redirects=False,
                ) as answer:
                    body = await answer.read()
                    resp = httpx.Response(
                        answer.status, headers=list(answer.raw_headers), content=body, request=request
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                # a connection that never opened certainly carried nothing
                outcome.failed(exc, unsent=isinstance(exc, aiohttp.ClientConnectorError))
                continue
            if outcome.answered(resp):
                return resp
        raise outcome.error()

    def _build(self, method: str, url: str, kwargs: dict[str, Any]) -> httpx.Request:
        """The request ``arequest`` sends. Adapters' calls (a path, headers, bytes) are built
        directly with the base URL parsed once per path: ``Client.build_request`` re-parsed
        and merged URLs and headers on every call (a seventh of the CPU of a Tencent send)."""
        if set(kwargs) - _DIRECT_KWARGS or "://" in url:
            return self.client.build_request(method, url, **{k: v for k, v in kwargs.items() if k != "auth"})
        target = self._urls.get(url)
        if target is None:
            if len(self._urls) >= 256:  # paths are few per provider; never grow without bound
                self._urls.clear()
            target = self._urls[url] = httpx.URL(self.base_url + (url if url.startswith("/") else "/" + url))
        return httpx.Request(method, target, headers=kwargs.get("headers"), content=kwargs.get("content"))

    def _session(self) -> aiohttp.ClientSession:
        """The aiohttp session of the running loop, made on first use (a session belongs to
        one loop; the dispatcher keeps one loop for its life)."""
        loop = asyncio.get_running_loop()
        session = self.asessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=0, ssl=_tls(), enable_cleanup_closed=False)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                auto_decompress=False,  # httpx.Response decodes, as for the blocking client
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            self.asessions[loop] = session
        return session

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        session = self.asessions.pop(loop, None)
        if session is not None:
            await session.close()

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

    def failed(self, exc: Exception, unsent: bool | None = None) -> None:
        """A network error: repeated only when the request certainly did not arrive (``unsent``;
        for httpx's errors it is read from their type)."""
        self.last, self.retry_after = f"{type(exc).__name__}: {exc}", None
        if unsent is None:
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
