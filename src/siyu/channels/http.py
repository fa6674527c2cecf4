"""The HTTP client every provider adapter uses: a configurable base URL, a client-side rate
limit (token bucket, so a burst never trips the provider's own limit), and retries with
exponential backoff and jitter on network errors, 429 and 5xx."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import httpx


class RateLimiter:
    """Token bucket: ``rate`` requests per second with bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.lock = threading.Lock()

    def acquire(self) -> None:
        if self.rate <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                wait = (1 - self.tokens) / self.rate
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
