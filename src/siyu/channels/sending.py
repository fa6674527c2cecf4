"""What the dispatcher hands around: the claimed outbox row, the send-time verdicts a check may
give it, and the per-provider lane that sends concurrently.

A lane is one provider's thread pool with ``concurrency`` slots. A slot is taken before a
provider call starts and given back only once the dispatcher has *recorded* that call's
result, so at any moment at most ``concurrency`` calls of a provider are unrecorded: that is
the most a crash can leave in doubt (a provider with ``lookup`` resolves it; a webhook or an
SMTP server may see those messages once more). The provider's rate limit lives in its HTTP
client (:class:`siyu.channels.http.RateLimiter`), shared by the lane's threads."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from queue import SimpleQueue
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from siyu.store.models import OutboxMessage

#: ``concurrency`` when neither the provider's config nor its adapter says otherwise.
DEFAULT_CONCURRENCY = 1


@dataclass
class DispatchStats:
    claimed: int = 0
    sent: int = 0
    found: int = 0  # confirmed by lookup after a lost worker
    failed: int = 0
    retried: int = 0
    fallback: int = 0
    skipped: int = 0  # may no longer go out (consent, do-not-contact, quiet hours in drop mode)
    held: int = 0  # back in the queue until the quiet hours end
    collected: int = 0  # provider calls whose results were handled


@dataclass(frozen=True)
class QueuedMessage:
    """A claimed outbox row: what the dispatcher sends, and what a send-time check reads."""

    id: int
    key: str
    contact_id: int
    channel: str
    provider: str | None
    content: dict[str, Any]
    attempts: int
    tried_before: bool  # an earlier attempt may have reached the provider
    created_at: datetime
    journey_id: int | None = None
    step: str | None = None
    transactional: bool = False


@dataclass(frozen=True)
class Skip:
    """The message may no longer go out (consent withdrawn, do-not-contact, quiet hours in
    ``drop`` mode): it is recorded ``skipped`` with ``reason`` and never sent."""

    reason: str


@dataclass(frozen=True)
class Hold:
    """Not now (quiet hours): the message goes back to the queue, due at ``until``; the
    attempt is not counted."""

    until: datetime
    reason: str


Verdict = Skip | Hold
#: A send-time check: the verdict for each queued message that may not go out now (messages
#: not in the answer go out). Runs inside the claim's transaction. The journeys package
#: provides it (:class:`siyu.journeys.send_checks.SendTimeCheck`) — channels cannot import
#: journeys — so the dispatcher applies the very rules the send step applied.
SendCheck = Callable[[Session, Sequence[QueuedMessage], datetime], dict[int, Verdict]]


def concurrency_of(adapter: Any, config: dict[str, Any]) -> int:
    """The provider's ``concurrency`` setting, at most what its adapter declares it can take
    (``max_concurrency``; adapters that do not declare it are called one at a time)."""
    most = int(getattr(adapter, "max_concurrency", 1) or 1)
    default = int(getattr(adapter, "default_concurrency", DEFAULT_CONCURRENCY) or 1)
    try:
        wanted = int(config.get("concurrency", default))
    except (TypeError, ValueError):
        wanted = default
    return max(1, min(wanted, most))


#: A finished provider call: its lane, its rows, and its outcomes by row id (or what it raised).
Finished = tuple["Lane", list[QueuedMessage], Any]


class Lane:
    """One provider's concurrent calls (see the module docstring for the slot rule)."""

    def __init__(self, key: str, concurrency: int) -> None:
        self.key = key
        self.concurrency = concurrency
        self.pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=f"send-{key}")
        self.slots = threading.BoundedSemaphore(concurrency)

    def submit(
        self, fn: Callable[[], Any], rows: list[QueuedMessage], finished: SimpleQueue[Finished]
    ) -> None:
        """Run ``fn`` (one provider call for ``rows``) once a slot is free; its answer, or the
        exception it raised, goes to ``finished``."""

        def slotted() -> None:
            self.slots.acquire()  # given back by the dispatcher once the result is recorded
            try:
                out = fn()
            except BaseException as exc:
                out = exc
            finished.put((self, rows, out))

        self.pool.submit(slotted)

    def recorded(self) -> None:
        self.slots.release()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def fenced_update(s: Session, updates: list[tuple[QueuedMessage, dict[str, Any]]]) -> None:
    """Write each row's new values, fenced on its attempt number (a worker whose lease ran out
    cannot overwrite a newer claim's row); one statement per shape of values, executed for
    all rows at once — fewer round trips, and the interpreter lock is given up and fought for
    back once per group rather than once per row while the send threads run."""
    t = OutboxMessage.__table__.c
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for c, values in updates:
        params = {f"v_{k}": v for k, v in values.items()}
        shapes[tuple(sorted(values))].append({"b_id": c.id, "b_attempts": c.attempts, **params})
    for cols, params in shapes.items():
        stmt = (
            update(OutboxMessage.__table__)
            .where(t.id == bindparam("b_id"), t.attempts == bindparam("b_attempts"))
            .values({k: bindparam(f"v_{k}", type_=t[k].type) for k in cols})
        )
        s.execute(stmt, params)


def backoff(attempt: int, base_s: float = 30.0) -> float:
    """Seconds before retry ``attempt`` + 1: base, 2×base, 4×base … at most an hour."""
    return min(base_s * 2 ** (attempt - 1), 3600.0)


def fallback_content(content: dict[str, Any]) -> dict[str, Any]:
    """A smart SMS the handset cannot show goes out as its plain-SMS fallback."""
    fb = dict(content.get("fallback") or {})
    fb.setdefault("text", "")
    fb.setdefault("params", {})
    return fb
