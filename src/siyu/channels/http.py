"""The HTTP client every provider adapter uses: a configurable base URL, a client-side rate
limit (at most ``rate_per_s`` request starts in any one second, shared by every thread, so a
burst never trips the provider's own per-second limit), and retries with
exponential backoff and jitter on network errors, 429 and 5xx."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from typing import Any

import httpx

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

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                while self.starts and now - self.starts[0] >= self.window:
                    self.starts.popleft()
                wait = self.starts[-1] + self.spacing - now if self.starts else 0.0
                if len(self.starts) >= self.limit:
                    wait = max(wait, self.starts[0] + self.window - now)
                if wait <= 0:
                    self.starts.append(now)
                    return
            time.sleep(wait)


class ProviderError(Exception):
    """A provider call that failed after its retries; ``temporary`` says whether a later attempt
    may succeed."""

    def __init__(self, message: str, temporary: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.retry_after_s = retry_after_s


RETRY_STATUS = {429, 500, 502, 503, 504}


class ProviderHttp:
    def __init__(
        self,
        base_url: str,
        rate_per_s: float = 50.0,
        retries: int = 3,
        backoff_s: float = 0.2,
        timeout_s: float = 10.0,
    ) -> None:
        self.client = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s)
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
        last: str = ""
        retry_after: float | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = retry_after or self.backoff_s * 2 ** (attempt - 1)
                time.sleep(delay * (1 + random.random() * 0.25))
            self.limiter.acquire()
            try:
                resp = self.client.request(method, url, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                last, retry_after = f"{type(exc).__name__}: {exc}", None
                continue
            except httpx.TransportError as exc:
                if not idempotent:
                    raise ProviderError(f"{type(exc).__name__}: {exc}", temporary=True) from None
                last, retry_after = f"{type(exc).__name__}: {exc}", None
                continue
            if resp.status_code not in RETRY_STATUS or (not idempotent and resp.status_code != 429):
                return resp
            last = f"HTTP {resp.status_code}: {resp.text[:200]}"
            retry_after = retry_after_header(resp)
        raise ProviderError(last, temporary=True, retry_after_s=retry_after)

    def close(self) -> None:
        self.client.close()


def retry_after_header(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return min(float(value), 60.0) if value else None
    except ValueError:
        return None
